//! The repository's GitHub Actions workflows: parsed, and checked for what a stack's CI
//! needs (actionlint runs on them too, in scripts/test.sh).

use std::path::Path;

fn workflow(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".github/workflows")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn runs(job: &serde_json::Value) -> String {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn stack_workflow_plans_builds_once_and_tests_a_matrix() {
    let w = workflow("stack.yml");
    let jobs = &w["jobs"];
    let plan = &jobs["plan"];
    let checkout = &plan["steps"][0];
    assert_eq!(checkout["uses"], "actions/checkout@v4");
    assert_eq!(
        checkout["with"]["fetch-depth"], 0,
        "the change set needs history"
    );
    // The stackplan action (this repository's action.yml) installs the release binary and
    // runs the flow: plan (JSON + the markdown summary), reuse, bake --push, matrix.
    let action = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"] == "./")
        .expect("the plan job uses the stackplan action");
    assert_eq!(action["id"], "stackplan");
    let with = &action["with"];
    for flow in ["plan", "bake", "matrix"] {
        assert_eq!(with[flow], true, "the action does not run {flow}");
    }
    assert!(
        with["reuse"]
            .as_str()
            .is_some_and(|r| r.contains("head.repo.full_name == github.repository")),
        "reuse, except for forks: {}",
        with["reuse"]
    );
    assert!(with["bake-args"].as_str().unwrap().contains("--push"));
    assert!(with["args"].as_str().unwrap().contains("--default-branch"));
    assert!(
        !runs(plan).contains("cargo install"),
        "the plan job installs stackplan through the action, not from source"
    );
    assert!(
        !plan["steps"].as_array().unwrap().iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.contains("rust-toolchain"))),
        "no Rust toolchain in the plan job"
    );
    assert_eq!(
        plan["outputs"]["matrix"],
        "${{ steps.stackplan.outputs.matrix }}"
    );
    assert_eq!(
        plan["outputs"]["has_builds"],
        "${{ steps.stackplan.outputs.has-builds }}"
    );
    assert_eq!(
        plan["outputs"]["has_targets"],
        "${{ steps.stackplan.outputs.has-targets }}"
    );
    // Every output the workflow reads is one the action declares.
    let action_yml: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap(),
    )
    .unwrap();
    let text = serde_json::to_string(&w).unwrap();
    for (i, _) in text.match_indices("steps.stackplan.outputs.") {
        let rest = &text[i + "steps.stackplan.outputs.".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            action_yml["outputs"].get(&name).is_some(),
            "stack.yml reads output {name}, which action.yml does not declare"
        );
    }
    for (input, _) in with.as_object().unwrap() {
        assert!(
            action_yml["inputs"].get(input).is_some(),
            "stack.yml gives input {input}, which action.yml does not declare"
        );
    }

    let build = &jobs["build"];
    assert_eq!(build["needs"], "plan");
    assert_eq!(build["if"], "needs.plan.outputs.has_builds == 'true'");
    let build_runs = runs(build);
    assert!(
        build_runs.contains("moby/buildkit") && build_runs.contains("--addr tcp://0.0.0.0:1234"),
        "{build_runs}"
    );
    assert!(
        build_runs.contains("docker buildx bake -f bake.json"),
        "{build_runs}"
    );
    let buildx = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"] == "docker/setup-buildx-action@v3")
        .unwrap();
    assert_eq!(buildx["with"]["driver"], "remote");
    // The switch between the sidecar and a remote builder: BUILDKIT_ENDPOINT.
    assert_eq!(w["env"]["BUILDKIT_ENDPOINT"], "");
    assert_eq!(
        buildx["with"]["endpoint"],
        "${{ env.BUILDKIT_ENDPOINT || 'tcp://127.0.0.1:1234' }}"
    );
    let sidecar = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("moby/buildkit"))
        })
        .unwrap();
    assert_eq!(sidecar["if"], "env.BUILDKIT_ENDPOINT == ''");
    assert!(
        with["bake-args"]
            .as_str()
            .unwrap()
            .contains("--cache-to ${{ env.CACHE_TO }}")
    );

    let test = &jobs["test"];
    assert_eq!(
        test["strategy"]["matrix"],
        "${{ fromJSON(needs.plan.outputs.matrix) }}"
    );
    assert_eq!(test["needs"], serde_json::json!(["plan", "build"]));
}

#[test]
fn promote_workflow_is_dispatched_with_a_dry_run_switch() {
    let w = workflow("promote.yml");
    let inputs = &w["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["dry_run"]["type"], "boolean");
    assert!(inputs["from"]["required"].as_bool().unwrap());
    assert!(runs(&w["jobs"]["promote"]).contains("stackplan promote"));
    assert!(
        runs(&w["jobs"]["promote"]).contains("--require-tests"),
        "promotion moves only tested images"
    );
}

#[test]
fn every_test_job_records_its_result() {
    let w = workflow("stack.yml");
    let test = &w["jobs"]["test"];
    let run = runs(test);
    assert!(run.contains("test-result \"$TARGET\" \"$result\""), "{run}");
    let steps = test["steps"].as_array().unwrap();
    let record = steps
        .iter()
        .find(|s| s["name"] == "Record the result")
        .expect("a step records the result");
    let when = record["if"].as_str().unwrap();
    assert!(
        when.contains("always()"),
        "a failure is recorded too: {when}"
    );
    assert_eq!(record["env"]["OUTCOME"], "${{ steps.tests.outcome }}");
}

#[test]
fn ci_workflow_runs_the_test_script() {
    let w = workflow("ci.yml");
    assert!(runs(&w["jobs"]["test"]).contains("scripts/test.sh"));
}

#[test]
fn release_workflow_attaches_checksummed_archives_for_the_action_and_publishes_the_crate() {
    let w = workflow("release.yml");
    let tags = w["on"]["push"]["tags"][0].as_str().unwrap();
    assert!(tags.starts_with("v[0-9]"), "{tags}");
    let jobs = &w["jobs"];
    // The runners the action installs on: one archive each.
    let targets: Vec<&str> = jobs["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    let install =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/install.sh"))
            .unwrap();
    for target in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(targets.contains(&target), "no release build for {target}");
        assert!(
            install.contains(target),
            "action/install.sh never picks {target}"
        );
    }
    let build = runs(&jobs["build"]);
    assert!(
        build.contains("cargo build --locked --profile dist --target"),
        "{build}"
    );
    assert!(build.contains("scripts/package-release.sh"), "{build}");
    let release = &jobs["release"];
    assert_eq!(release["permissions"]["contents"], "write");
    let attach = runs(release);
    assert!(
        attach.contains("sha256sum -c") && attach.contains("SHA256SUMS"),
        "{attach}"
    );
    assert!(attach.contains("gh release"), "{attach}");
    assert!(runs(&jobs["publish-crate"]).contains("cargo publish --locked"));
    assert!(
        runs(&jobs["check"]).contains("Cargo.toml"),
        "the tag is checked against the version"
    );
    let image = jobs["image"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"] == "docker/build-push-action@v6")
        .expect("the release pushes the container image");
    assert_eq!(image["with"]["push"], true);
}
