//! Content-addressed reuse against the real engine and registry: an image is built only
//! when no image with the same inputs exists; every other tag is a registry-side copy.

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::Value;

use crate::env::EXAMPLE_TARGETS as TARGETS;
use crate::env::ok;
use crate::env::{Env, bake, blob_requests, digest, layers};
use crate::support::Repo;

/// The example stack in a registry namespace of its own, built from `base`.
struct Stack {
    repo: Repo,
    ns: String,
    base: String,
}

impl Stack {
    fn new(env: &Env, name: &str) -> Stack {
        Stack {
            repo: Repo::example(),
            ns: env.namespace(name),
            base: env.base_image.clone(),
        }
    }

    /// Runs stackplan with the planning flags every command of this stack shares.
    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let base = format!("BASE_IMAGE={}", self.base);
        let mut args = vec![command, "--registry", &self.ns, "--build-arg", &base];
        args.extend_from_slice(extra);
        crate::env::stackplan(&self.repo, &args, None)
    }

    fn plan(&self) -> Value {
        serde_json::from_str(&ok(&self.run("plan", &["--format", "json"]))).unwrap()
    }

    /// `stackplan reuse`, then `stackplan --push > bake.json && docker buildx bake`: the
    /// flow the stack's CI runs. Returns the names of the targets buildx built.
    fn reuse_and_bake(&self) -> Vec<String> {
        ok(&self.run("reuse", &[]));
        let file = ok(&self.run("bake", &["--push"]));
        let run = bake(&self.repo, &file, None);
        assert!(run.success, "bake failed:\n{}", run.stderr);
        let mut built: Vec<String> = run
            .metadata
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        built.sort();
        built
    }

    fn reference(&self, image: &str, tag: &str) -> String {
        format!("{}/{image}:{tag}", self.ns)
    }
}

/// `target name → action` of a plan.
fn actions(plan: &Value) -> BTreeMap<String, String> {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all(action: &str) -> BTreeMap<String, String> {
    TARGETS
        .iter()
        .map(|(t, _, _)| (t.to_string(), action.to_string()))
        .collect()
}

/// The example stack built and pushed on `main` (the first run builds everything: no
/// image records its inputs yet).
fn built_on_main(env: &Env, name: &str) -> Stack {
    let stack = Stack::new(env, name);
    assert_eq!(actions(&stack.plan()), all("build"));
    let built = stack.reuse_and_bake();
    assert_eq!(built.len(), TARGETS.len(), "{built:?}");
    assert_eq!(
        actions(&stack.plan()),
        all("none"),
        "a second plan finds every tag current"
    );
    stack
}

#[test]
fn a_merged_branch_is_reused_on_main_without_moving_a_layer() {
    let Some(env) = Env::require() else { return };
    let stack = Stack::new(&env, "merge");
    stack.repo.branch("feat");
    stack
        .repo
        .append(
            "images/scipy-notebook/Dockerfile",
            "RUN echo feat >> /etc/stack-release\n",
        )
        .commit("scipy: feature");
    assert_eq!(stack.reuse_and_bake().len(), TARGETS.len());
    for (_, image, prefix) in TARGETS {
        let tag = format!("{prefix}-feat");
        let labels = crate::env::config(&stack.reference(image, &tag))["config"]["Labels"].clone();
        let inputs = labels["dev.stackplan.inputs.digest"]
            .as_str()
            .unwrap_or_default();
        assert!(
            inputs.starts_with("sha256:"),
            "{image}:{tag} has no inputs label: {labels}"
        );
        let inputs_tag = format!("inputs-{}", &inputs[7..]);
        assert_eq!(
            digest(&stack.reference(image, &inputs_tag)),
            digest(&stack.reference(image, &tag)),
            "{image} is pushed under its inputs tag"
        );
    }

    stack.repo.git(&["checkout", "-q", "main"]);
    stack
        .repo
        .git(&["merge", "-q", "--no-ff", "feat", "-m", "Merge feat"]);
    let plan = stack.plan();
    assert_eq!(
        plan["summary"]["rebuild"], 5,
        "main rebuilds everything by the rules"
    );
    assert_eq!(actions(&plan), all("reuse"), "{plan:#}");
    let file = ok(&stack.run("bake", &["--push"]));
    let bake: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(bake["group"]["default"]["targets"], serde_json::json!([]));

    let blobs = blob_requests(&env);
    let out = ok(&stack.run("reuse", &[]));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("moved ")).count(),
        5,
        "{out}"
    );
    assert_eq!(blob_requests(&env), blobs, "reuse moved no layer");
    for (_, image, prefix) in TARGETS {
        let main = digest(&stack.reference(image, &format!("{prefix}-main")));
        assert!(main.is_some(), "{image}:{prefix}-main was not written");
        assert_eq!(
            main,
            digest(&stack.reference(image, &format!("{prefix}-feat")))
        );
    }
    assert_eq!(actions(&stack.plan()), all("none"));
    let again = stack.run("reuse", &[]);
    ok(&again);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("nothing to reuse"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_change_to_shared_tests_builds_nothing_and_retests_every_image() {
    let Some(env) = Env::require() else { return };
    let stack = built_on_main(&env, "retest");
    stack.repo.branch("tests");
    stack
        .repo
        .append("images/tests_common/test_common.sh", "echo more\n")
        .commit("tests");
    assert_eq!(actions(&stack.plan()), all("reuse"));
    let matrix: Value = serde_json::from_str(&ok(&stack.run("matrix", &[]))).unwrap();
    let jobs = matrix["include"].as_array().unwrap();
    assert_eq!(jobs.len(), TARGETS.len(), "{matrix:#}");
    for job in jobs {
        assert_eq!(job["action"], "retest", "{job:#}");
        assert!(
            job["tests"]
                .as_array()
                .unwrap()
                .contains(&"images/tests_common".into())
        );
    }
    assert_eq!(stack.reuse_and_bake(), Vec::<String>::new());
    for (_, image, prefix) in TARGETS {
        assert_eq!(
            digest(&stack.reference(image, &format!("{prefix}-tests"))),
            digest(&stack.reference(image, &format!("{prefix}-main"))),
        );
    }
}

#[test]
fn a_build_arg_edit_builds_that_image_and_its_descendants_only() {
    let Some(env) = Env::require() else { return };
    let stack = built_on_main(&env, "args");
    stack.repo.branch("args");
    let spec = std::fs::read_to_string(stack.repo.path().join("images/spec.yml")).unwrap();
    let spec = spec.replace(
        "      STACK_NAME: example\n",
        "      STACK_NAME: example\n    plan_build_args:\n      py39: {EXTRA: \"1\"}\n",
    );
    stack
        .repo
        .write("images/spec.yml", &spec)
        .commit("base py39: one more arg");
    let mut want = all("reuse");
    want.insert("base-notebook-py39".into(), "build".into());
    want.insert("scipy-notebook-py39".into(), "build".into());
    assert_eq!(actions(&stack.plan()), want);
    assert_eq!(
        stack.reuse_and_bake(),
        ["base-notebook-py39", "scipy-notebook-py39"]
    );
    let scipy = layers(&stack.reference("scipy-notebook", "2026.3-py39-args"));
    let base = layers(&stack.reference("base-notebook", "2026.3-py39-args"));
    assert_eq!(
        &scipy[..base.len()],
        &base[..],
        "the child sits on the new parent"
    );
    assert_eq!(
        digest(&stack.reference("rstudio-notebook", "2026.3-args")),
        digest(&stack.reference("rstudio-notebook", "2026.3-main")),
    );
}

#[test]
fn a_new_branch_with_one_leaf_change_builds_only_the_leaf() {
    let Some(env) = Env::require() else { return };
    let stack = built_on_main(&env, "leaf");
    stack.repo.branch("leaf");
    stack
        .repo
        .append(
            "images/rstudio-notebook/Dockerfile",
            "RUN echo leaf >> /etc/stack-release\n",
        )
        .commit("rstudio");
    let mut want = all("reuse");
    want.insert("rstudio-notebook-py311".into(), "build".into());
    assert_eq!(actions(&stack.plan()), want);
    assert_eq!(stack.reuse_and_bake(), ["rstudio-notebook-py311"]);
    let rstudio = layers(&stack.reference("rstudio-notebook", "2026.3-leaf"));
    let base = layers(&stack.reference("base-notebook", "2026.3-leaf"));
    assert_eq!(&rstudio[..base.len()], &base[..]);
}

#[test]
fn a_base_image_that_moved_upstream_rebuilds_the_root_and_its_descendants() {
    let Some(env) = Env::require() else { return };
    let mut stack = Stack::new(&env, "upstream");
    let upstream = format!("{}/upstream:1", stack.ns);
    let push_upstream = |version: &str| {
        let file = serde_json::json!({"group": {"default": {"targets": ["upstream"]}}, "target": {"upstream": {
            "context": ".",
            "dockerfile-inline": format!("FROM {}\nRUN echo {version} > /upstream-version\n", env.base_image),
            "tags": [upstream],
            "output": ["type=registry"],
        }}});
        let run = bake(&stack.repo, &file.to_string(), None);
        assert!(run.success, "{}", run.stderr);
        digest(&upstream).unwrap()
    };
    let v1 = push_upstream("v1");
    stack.base = upstream.clone();
    // On a branch other than main (where everything is in the plan by the rules anyway).
    stack.repo.branch("feat");
    assert_eq!(stack.reuse_and_bake().len(), TARGETS.len());
    assert_eq!(actions(&stack.plan()), all("none"));

    let v2 = push_upstream("v2");
    assert_ne!(v1, v2);
    let plan = stack.plan();
    assert_eq!(plan["summary"]["rebuild"], 0, "no file changed");
    assert_eq!(actions(&plan), all("build"), "{plan:#}");
    let file: Value = serde_json::from_str(&ok(&stack.run("bake", &["--push"]))).unwrap();
    let pinned = &file["target"]["base-notebook-py311"]["contexts"][upstream.as_str()];
    assert_eq!(
        pinned.as_str(),
        Some(format!("docker-image://{upstream}@{v2}").as_str())
    );
    assert_eq!(stack.reuse_and_bake().len(), TARGETS.len());
    let root = layers(&stack.reference("base-notebook", "2026.3-feat"));
    assert_eq!(root[..layers(&upstream).len()], layers(&upstream)[..]);
}
