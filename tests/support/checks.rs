//! What tests check a run or a plan for: a run's text, a successful run's stdout, the
//! targets a plan rebuilds, a bake file buildx accepts.

use std::process::{Command, Output};

use super::repo::Repo;

/// A run's stdout and stderr, for assertion messages and text checks.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The stdout of a successful stackplan run; a failed run fails the test with its output.
#[track_caller]
pub fn ok(out: &Output) -> String {
    ok_as(out, "stackplan")
}

/// The stdout of a successful run of `what`; a failed run fails the test with its output.
#[track_caller]
pub fn ok_as(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The output of `cmd`, which must succeed: a failure fails the test with `what` and the
/// command's stderr. For the tools a test drives (git, cp, sh, docker).
#[track_caller]
pub fn succeeded(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The names of the targets a plan (`plan --format json`) rebuilds, in its order.
pub fn rebuilds(plan: &serde_json::Value) -> Vec<String> {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["rebuild"] == true)
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// The target `name` of a plan (`plan --format json`).
#[track_caller]
pub fn target<'a>(plan: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// Checks a bake file with buildx's own loader (`docker buildx bake --print`), which needs
/// no daemon. Fails when buildx is missing, unless `STACKPLAN_BUILDX_CHECK=skip`.
/// Returns buildx's resolved view of the file (`None` when skipped).
#[track_caller]
pub fn buildx_accepts(repo: &Repo, bake_json: &str) -> Option<serde_json::Value> {
    if std::env::var("STACKPLAN_BUILDX_CHECK").as_deref() == Ok("skip") {
        eprintln!("note: STACKPLAN_BUILDX_CHECK=skip: bake file not checked with buildx");
        return None;
    }
    let file = repo.path().join("bake-under-test.json");
    std::fs::write(&file, bake_json).unwrap();
    let out = Command::new("docker")
        .current_dir(repo.path())
        .args(["buildx", "bake", "-f"])
        .arg(&file)
        .arg("--print")
        .arg("all")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run `docker buildx bake --print` ({e}); install buildx with `scripts/env-up.sh --buildx-only`, or set STACKPLAN_BUILDX_CHECK=skip"
        ),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "buildx rejected the bake file: {stderr}\nfile:\n{bake_json}\n(if buildx is not installed: `scripts/env-up.sh --buildx-only`, or STACKPLAN_BUILDX_CHECK=skip)"
    );
    std::fs::remove_file(file).unwrap();
    Some(serde_json::from_slice(&out.stdout).expect("buildx --print prints JSON"))
}
