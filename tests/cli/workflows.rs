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
    let plan_runs = runs(plan);
    for needed in [
        "stackplan plan --format json",
        "--format markdown",
        "$GITHUB_STEP_SUMMARY",
        "stackplan reuse",
        "stackplan bake --push",
        "stackplan matrix",
        "--github-output",
    ] {
        assert!(plan_runs.contains(needed), "plan job lacks {needed}");
    }
    assert_eq!(
        plan["outputs"]["matrix"],
        "${{ steps.matrix.outputs.matrix }}"
    );

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
}

#[test]
fn ci_workflow_runs_the_test_script() {
    let w = workflow("ci.yml");
    assert!(runs(&w["jobs"]["test"]).contains("scripts/test.sh"));
}
