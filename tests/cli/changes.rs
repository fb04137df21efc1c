//! What rebuilds, from real git histories.

use crate::support::{Repo, ok, stackplan_command};

const PLAN: &[&str] = &["plan", "--format", "json"];

fn plan(repo: &Repo, extra: &[&str]) -> crate::support::Run {
    let mut args = PLAN.to_vec();
    args.extend_from_slice(extra);
    let run = repo.run(&args);
    run.success();
    run
}

#[test]
fn a_leaf_change_on_a_branch_rebuilds_only_that_leaf() {
    let repo = Repo::example();
    repo.branch("feature/x");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("touch scipy");
    let run = plan(&repo, &[]);
    assert_eq!(
        run.rebuilds(),
        ["scipy-notebook-py311", "scipy-notebook-py39"]
    );
    let json = run.json();
    assert_eq!(json["branch"], "feature-x");
    assert_eq!(
        json["changed_files"],
        serde_json::json!(["images/scipy-notebook/Dockerfile"])
    );
    let scipy = &json["targets"][3];
    assert_eq!(scipy["name"], "scipy-notebook-py311");
    assert_eq!(
        scipy["reasons"],
        serde_json::json!(["images/scipy-notebook/Dockerfile changed"])
    );
    assert_eq!(
        scipy["tags"],
        serde_json::json!(["ghcr.io/stackplan-example/scipy-notebook:2026.3-feature-x"])
    );
    assert_eq!(scipy["build_args"]["BASE_TAG"], "2026.3-feature-x");
    assert_eq!(json["base"].as_str().unwrap().len(), 40);
    assert!(json["head"].is_null(), "head defaults to the working tree");
}

#[test]
fn a_root_change_rebuilds_every_descendant_with_the_parent_as_reason() {
    let repo = Repo::example();
    repo.branch("dev");
    repo.append("images/base-notebook/Dockerfile", "RUN true\n")
        .commit("touch base");
    let run = plan(&repo, &["--plan", "py311"]);
    assert_eq!(
        run.rebuilds(),
        [
            "base-notebook-py311",
            "rstudio-notebook-py311",
            "scipy-notebook-py311"
        ]
    );
    let json = run.json();
    assert_eq!(
        json["targets"][1]["reasons"],
        serde_json::json!(["parent base-notebook-py311 rebuilds"])
    );
    assert_eq!(json["targets"][1]["parent"], "base-notebook-py311");
}

#[test]
fn every_commit_of_a_multi_commit_push_counts_by_default() {
    let repo = Repo::example();
    repo.branch("feature");
    repo.append("images/rstudio-notebook/Dockerfile", "RUN true\n")
        .commit("one");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("two");
    let all = plan(&repo, &["--plan", "py311"]);
    assert_eq!(
        all.rebuilds(),
        ["rstudio-notebook-py311", "scipy-notebook-py311"]
    );
    // The old one-commit behaviour misses the first commit.
    let last = plan(&repo, &["--plan", "py311", "--base", "HEAD^"]);
    assert_eq!(last.rebuilds(), ["scipy-notebook-py311"]);
}

#[test]
fn origin_main_is_preferred_for_the_default_base() {
    let repo = Repo::example();
    repo.git(&["update-ref", "refs/remotes/origin/main", "HEAD"]);
    repo.append("images/rstudio-notebook/Dockerfile", "RUN true\n")
        .commit("on main, not pushed");
    repo.branch("topic");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("topic");
    let run = plan(&repo, &["--plan", "py311"]);
    assert_eq!(
        run.rebuilds(),
        ["rstudio-notebook-py311", "scipy-notebook-py311"]
    );
}

#[test]
fn a_rename_counts_both_the_old_and_the_new_path() {
    let repo = Repo::example();
    repo.branch("mv");
    repo.git(&[
        "mv",
        "images/rstudio-notebook/test/test_rstudio.sh",
        "images/scipy-notebook/test/test_rstudio.sh",
    ]);
    repo.commit("move a test");
    let run = plan(&repo, &["--plan", "py311"]);
    assert_eq!(
        run.rebuilds(),
        ["rstudio-notebook-py311", "scipy-notebook-py311"]
    );
    assert_eq!(
        run.json()["changed_files"],
        serde_json::json!([
            "images/rstudio-notebook/test/test_rstudio.sh",
            "images/scipy-notebook/test/test_rstudio.sh"
        ])
    );
}

#[test]
fn a_deleted_image_folder_leaves_its_files_unowned() {
    let repo = Repo::example();
    repo.write(
        "images/change_ignore.json",
        r#"{"ChangeIgnore": [], "BuildAll": []}"#,
    )
    .commit("no build-all");
    repo.branch("drop-rstudio");
    repo.remove("images/rstudio-notebook");
    let spec = std::fs::read_to_string(repo.path().join("images/spec.yml")).unwrap();
    let start = spec.find("  rstudio-notebook:").unwrap();
    let end = spec.find("\nplans:").unwrap() + 1;
    repo.write(
        "images/spec.yml",
        &format!("{}{}", &spec[..start], &spec[end..]),
    );
    repo.commit("drop rstudio");
    let run = plan(&repo, &[]);
    assert!(run.rebuilds().is_empty(), "{:?}", run.rebuilds());
    let unowned = run.json()["unowned_files"].clone();
    assert!(
        unowned
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "images/rstudio-notebook/Dockerfile"),
        "{unowned}"
    );
}

#[test]
fn an_ignored_path_rebuilds_nothing() {
    let repo = Repo::example();
    repo.branch("docs");
    repo.write("images/base-notebook/NOTES.md", "notes\n")
        .commit("docs");
    let run = plan(&repo, &[]);
    assert!(run.rebuilds().is_empty());
    assert_eq!(
        run.json()["ignored_files"],
        serde_json::json!([{"path": "images/base-notebook/NOTES.md", "rule": "*.md"}])
    );
}

#[test]
fn a_build_all_path_rebuilds_everything() {
    let repo = Repo::example();
    repo.branch("tests");
    repo.append("images/tests_common/test_common.sh", "true\n")
        .commit("tests");
    let run = plan(&repo, &[]);
    assert_eq!(run.rebuilds().len(), 5);
    assert_eq!(
        run.json()["targets"][0]["reasons"][0],
        "images/tests_common/test_common.sh changed and matches BuildAll entry `tests_common`"
    );
}

#[test]
fn full_rebuild_in_the_commit_message() {
    let repo = Repo::example();
    repo.branch("x");
    repo.commit("Please do a Full Rebuild");
    let run = plan(&repo, &[]);
    assert_eq!(run.rebuilds().len(), 5);
    let json = run.json();
    assert_eq!(json["full_rebuild"], true);
    assert_eq!(
        json["full_rebuild_reason"],
        "the head commit message asks for a full rebuild"
    );
}

#[test]
fn main_rebuilds_everything_unless_configured_otherwise() {
    let repo = Repo::example();
    let run = plan(&repo, &[]);
    assert_eq!(run.rebuilds().len(), 5);
    assert_eq!(
        run.json()["full_rebuild_reason"],
        "branch `main` always rebuilds everything"
    );
    let run = plan(&repo, &["--full-rebuild-branch", "release"]);
    assert!(run.rebuilds().is_empty());
}

#[test]
fn full_flag() {
    let repo = Repo::example();
    repo.branch("y");
    assert_eq!(plan(&repo, &["--full"]).rebuilds().len(), 5);
}

#[test]
fn uncommitted_and_untracked_files_count_for_a_local_dry_run() {
    let repo = Repo::example();
    repo.branch("local");
    repo.append("images/rstudio-notebook/Dockerfile", "RUN true\n");
    repo.write("images/scipy-notebook/new-file.txt", "x");
    let run = plan(&repo, &["--plan", "py311"]);
    assert_eq!(
        run.rebuilds(),
        ["rstudio-notebook-py311", "scipy-notebook-py311"]
    );
    // With --head the working tree is not looked at.
    let run = plan(&repo, &["--plan", "py311", "--head", "HEAD"]);
    assert!(run.rebuilds().is_empty());
}

/// Issue 22 case 8: an untracked file whose name is not UTF-8 no longer fails every plan
/// (`git ls-files … output is not UTF-8`); it counts for the folder it is in.
#[test]
fn an_untracked_name_that_is_not_utf8_counts_for_its_folder() {
    use std::os::unix::ffi::OsStrExt;
    let repo = Repo::example();
    repo.branch("local");
    let name = std::ffi::OsStr::from_bytes(b"stray-\xe9.txt");
    std::fs::write(repo.path().join(name), "x").expect("write");
    assert!(plan(&repo, &["--plan", "py311"]).rebuilds().is_empty());
    std::fs::write(repo.path().join("images/rstudio-notebook").join(name), "x").expect("write");
    repo.write("images/rstudio-notebook/.dockerignore", "stray-?.txt\n");
    assert_eq!(
        plan(&repo, &["--plan", "py311"]).rebuilds(),
        ["rstudio-notebook-py311"]
    );
}

#[test]
fn changed_files_given_directly() {
    let repo = Repo::example();
    let run = plan(
        &repo,
        &[
            "--branch",
            "b",
            "--changed",
            "images/rstudio-notebook/Dockerfile",
        ],
    );
    assert_eq!(run.rebuilds(), ["rstudio-notebook-py311"]);
    let run = repo.run_with_stdin(
        &[
            "plan",
            "--format",
            "json",
            "--branch",
            "b",
            "--changed-from",
            "-",
        ],
        Some("images/scipy-notebook/Dockerfile\n\nimages/base-notebook/NOTES.md\n"),
    );
    run.success();
    assert_eq!(
        run.rebuilds(),
        ["scipy-notebook-py311", "scipy-notebook-py39"]
    );
    assert!(run.json()["base"].is_null());
}

#[test]
fn branch_from_the_ci_environment() {
    let repo = Repo::example();
    let out = stackplan_command(repo.path())
        .args(["plan", "--format", "json", "--changed", "x"])
        .env("GITHUB_HEAD_REF", "")
        .env("GITHUB_REF_NAME", "pr/12:merge")
        .env("STACKPLAN_OFFLINE", "1")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["branch"], "pr-12-merge");
}

#[test]
fn detached_head_needs_a_branch() {
    let repo = Repo::example();
    let head = repo.head();
    repo.git(&["checkout", "-q", "--detach", &head]);
    repo.run(&["plan", "--base", "HEAD"])
        .fails_with(&["cannot tell the branch", "--branch NAME"]);
    repo.run(&["plan", "--base", "HEAD", "--branch", "ok"])
        .success();
}

#[test]
fn no_default_branch_is_a_clear_error() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "only"]);
    let images = crate::support::example_images();
    for entry in ["spec.yml", "change_ignore.json"] {
        repo.write(
            &format!("images/{entry}"),
            &std::fs::read_to_string(images.join(entry)).unwrap(),
        );
    }
    for key in ["base-notebook", "scipy-notebook", "rstudio-notebook"] {
        repo.write(
            &format!("images/{key}/Dockerfile"),
            &std::fs::read_to_string(images.join(key).join("Dockerfile")).unwrap(),
        );
    }
    repo.commit("init");
    repo.run(&["plan"])
        .fails_with(&["neither origin/main nor main exists", "--base REV"]);
    repo.run(&["plan", "--base", "HEAD"]).success();
}

#[test]
fn not_a_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_dir(
        &crate::support::example_images(),
        &dir.path().join("images"),
    );
    let run = |args: &[&str]| {
        stackplan_command(dir.path())
            .args(args)
            .env("STACKPLAN_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let out = run(&["plan", "--branch", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a git repository, so the change set is unknown"),
        "{stderr}"
    );
    assert!(stderr.contains("--changed PATH"), "{stderr}");
    let out = run(&[
        "plan",
        "--branch",
        "x",
        "--changed",
        "images/rstudio-notebook/Dockerfile",
    ]);
    ok(&out);
    let out = run(&["plan", "--branch", "x", "--full"]);
    ok(&out);
}

#[test]
fn no_spec_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = stackplan_command(dir.path())
        .args(["plan", "--branch", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no spec at") && stderr.contains("--images DIR"),
        "{stderr}"
    );
}

#[test]
fn a_default_base_that_cannot_be_found_says_why() {
    let repo = Repo::example();
    // Neither origin/main nor main.
    repo.git(&["branch", "-m", "main", "trunk"]);
    let run = repo.run(&["plan", "--branch", "x"]);
    run.fails_with(&[
        "neither origin/main nor main exists",
        "--default-branch NAME",
    ]);
    repo.run(&["plan", "--branch", "x", "--default-branch", "trunk"])
        .success();
    // A head that is not a commit is named as such, not as a missing branch.
    let run = repo.run(&[
        "plan",
        "--branch",
        "x",
        "--default-branch",
        "trunk",
        "--head",
        "nope",
    ]);
    run.fails_with(&["`nope` is not a commit of this repository"]);
    // A branch with no history in common with the default one.
    repo.git(&["checkout", "-q", "--orphan", "alone"]);
    repo.commit("unrelated");
    let run = repo.run(&["plan", "--branch", "x", "--default-branch", "trunk"]);
    run.fails_with(&["HEAD shares no history with trunk"]);
    // origin/<name> goes first, whether or not main would do.
    repo.git(&["update-ref", "refs/remotes/origin/trunk", "alone"]);
    repo.git(&["checkout", "-q", "trunk"]);
    let run = repo.run(&["plan", "--branch", "x", "--default-branch", "trunk"]);
    run.fails_with(&["HEAD shares no history with origin/trunk"]);
}
