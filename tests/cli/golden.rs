//! Golden files: the example stack's outputs, checked in under tests/golden/ and bake/.
//! `UPDATE_GOLDEN=1 cargo test` rewrites them; review the diff before committing.

use std::path::Path;

use crate::support::{ok, stackplan_command};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stackplan(args: &[&str]) -> String {
    let out = stackplan_command(root())
        .args(args)
        .arg("-C")
        .arg(root())
        .env("STACKPLAN_OFFLINE", "1")
        // The goldens are the same on every machine: the default platform is fixed.
        .env("STACKPLAN_PLATFORM", "linux/amd64")
        .output()
        .unwrap();
    ok(&out)
}

fn golden(path: &str, actual: &str) {
    let file = root().join(path);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|_| panic!("{path} is missing: run `UPDATE_GOLDEN=1 cargo test`"));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
        panic!(
            "{path} differs from the output (UPDATE_GOLDEN=1 cargo test rewrites it):\n{}",
            diff.unified_diff().header("expected", "actual")
        );
    }
}

/// The fixed inputs of the goldens: one leaf changed on branch feature/x.
const INPUTS: &[&str] = &[
    "--branch",
    "feature/x",
    "--changed",
    "images/rstudio-notebook/Dockerfile",
    "--revision",
    "0123456789abcdef0123456789abcdef01234567",
    "--source-url",
    "https://github.com/example/stack",
];

fn with(cmd: &[&str], extra: &[&str]) -> Vec<String> {
    cmd.iter()
        .chain(INPUTS)
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn run(args: Vec<String>) -> String {
    stackplan(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn plan_text() {
    golden("tests/golden/plan.txt", &run(with(&["plan"], &[])));
}

#[test]
fn plan_json() {
    golden(
        "tests/golden/plan.json",
        &run(with(&["plan", "--format", "json"], &[])),
    );
}

#[test]
fn plan_markdown() {
    golden(
        "tests/golden/plan.md",
        &run(with(&["plan", "--format", "markdown"], &[])),
    );
}

#[test]
fn bake_json() {
    golden("tests/golden/bake.json", &run(with(&["bake"], &["--push"])));
}

#[test]
fn graphs() {
    golden(
        "tests/golden/graph.dot",
        &run(with(&["graph", "--format", "dot"], &[])),
    );
    golden(
        "tests/golden/graph.mmd",
        &run(with(&["graph", "--format", "mermaid"], &[])),
    );
}

/// bake/docker-bake.json is the example stack's full rebuild on main, as CI would build it;
/// `scripts/gen-bake.sh` writes it with the same command.
#[test]
fn checked_in_bake_file_has_not_drifted() {
    let args: Vec<String> = std::fs::read_to_string(root().join("bake/ARGS"))
        .expect("bake/ARGS lists the arguments bake/docker-bake.json is made with")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    golden("bake/docker-bake.json", &run(args));
}

/// The planning flow called in-process, as a library user calls it, makes the plan the
/// binary prints: the same bytes as the `plan.json` golden.
#[test]
fn planning_flow_in_process() {
    use stackplan::flow::planning::{self, Digests, PlanRequest, StackRequest};

    let request = PlanRequest {
        stack: StackRequest {
            repo: Some(root().to_path_buf()),
            images: "images".into(),
            ..StackRequest::default()
        },
        default_branch: "main".into(),
        full_rebuild_branch: vec!["main".into()],
        branch: Some("feature/x".into()),
        changed: vec!["images/rstudio-notebook/Dockerfile".into()],
        revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
        source_url: Some("https://github.com/example/stack".into()),
        platform: Some("linux/amd64".into()),
        offline: true,
        ..PlanRequest::default()
    };
    let session = stackplan::session::Session::default();
    let mut notes = stackplan::flow::Notes::default();
    let (plan, made_in) = planning::plan(&session, &request, Digests::All, &mut notes).unwrap();
    assert_eq!(made_in, root());
    assert!(notes.diagnostics.is_empty(), "{:?}", notes.diagnostics);
    let mut json = Vec::new();
    stackplan::emit::plan_json::write(&plan, &mut json).unwrap();
    let expected = std::fs::read_to_string(root().join("tests/golden/plan.json")).unwrap();
    assert_eq!(String::from_utf8(json).unwrap(), expected);
    let rebuilt: Vec<&str> = plan.to_build().map(|t| t.name.as_str()).collect();
    assert_eq!(rebuilt, ["rstudio-notebook-py311"]);
}
