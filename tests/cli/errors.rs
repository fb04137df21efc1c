//! Every kind of bad input gets a clear error (what, where, how to fix), exit code 2, and
//! no output on stdout. The messages are snapshots (tests/cli/snapshots/, the temp
//! repository written `[REPO]`): docs/development.md says how to review a change to one.

use insta::assert_snapshot;

use crate::support::Repo;

const SPEC: &str = r#"root: base
images:
  base:
    image_name: ghcr.io/org/base
    info_cmds: [PY_VER]
  child:
    image_name: ghcr.io/org/child
    depend_on: base
tag:
  prefix: "2026.3"
all_info_cmds:
  PY_VER: {description: Python Version, command: python --version}
"#;

const BASE_DF: &str = "ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\n";
const CHILD_DF: &str = "ARG BASE_TAG=latest\nFROM ghcr.io/org/base:${BASE_TAG}\n";

/// A valid stack with `spec` as its spec.
fn stack(spec: &str) -> Repo {
    Repo::with_files(&[
        ("images/spec.yml", spec),
        ("images/base/Dockerfile", BASE_DF),
        ("images/child/Dockerfile", CHILD_DF),
    ])
}

fn check(repo: &Repo) -> crate::support::Run {
    repo.run(&[
        "plan",
        "--branch",
        "x",
        "--changed",
        "images/base/Dockerfile",
    ])
}

#[test]
fn the_fixture_is_valid() {
    let repo = stack(SPEC);
    let run = check(&repo);
    run.success();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    repo.run(&["check"]).success();
}

#[test]
fn yaml_syntax_error() {
    let repo = stack(&SPEC.replace("    depend_on: base", "    depend_on: [base"));
    assert_snapshot!(check(&repo).error());
}

#[test]
fn depend_on_naming_no_image() {
    let repo = stack(&SPEC.replace("depend_on: base", "depend_on: bsae"));
    assert_snapshot!(check(&repo).error());
}

#[test]
fn a_cycle_is_printed() {
    let spec = SPEC.replace("root: base\n", "").replace(
        "    info_cmds: [PY_VER]",
        "    info_cmds: [PY_VER]\n    depend_on: child",
    );
    assert_snapshot!(check(&stack(&spec)).error());
}

#[test]
fn an_image_without_its_folder() {
    let repo = stack(&SPEC.replace(
        "images:\n",
        "images:\n  ghost:\n    image_name: ghcr.io/org/ghost\n",
    ));
    assert_snapshot!(check(&repo).error());
}

#[test]
fn a_context_buildkit_could_not_receive_is_refused_once_the_stack_holds() {
    // The contexts are walked while the stack is checked: a sound stack with a link out of
    // an image's context is refused for the link, with the fix, wherever a context is read:
    // by `check`, and by a plan that shows its digest.
    let repo = stack(SPEC);
    std::os::unix::fs::symlink("../../README.md", repo.path().join("images/child/notes.md"))
        .unwrap();
    assert_snapshot!("symlink_out_of_context_check", repo.run(&["check"]).error());
    let json = ["plan", "--format", "json", "--branch", "x", "--full"];
    assert_snapshot!("symlink_out_of_context_plan", repo.run(&json).error());
    // Offline, no target of this stack can pin (its root builds FROM a tag): no digest
    // shows in the text plan or the bake file, so no context is read for them.
    check(&repo).success();
    // A stack that does not hold together is reported for itself, not for its contexts.
    let broken = stack(&SPEC.replace(
        "images:\n",
        "images:\n  ghost:\n    image_name: ghcr.io/org/ghost\n",
    ));
    std::os::unix::fs::symlink(
        "../../README.md",
        broken.path().join("images/child/notes.md"),
    )
    .unwrap();
    for (name, run) in [
        ("broken_stack_with_symlink_check", broken.run(&["check"])),
        ("broken_stack_with_symlink_plan", broken.run(&json)),
    ] {
        assert_snapshot!(name, run.error());
        assert!(!run.stderr.contains("symlink"), "{}", run.stderr);
    }
}

#[test]
fn an_image_without_its_dockerfile() {
    let repo = stack(SPEC);
    repo.remove("images/child/Dockerfile")
        .write("images/child/README", "x")
        .commit("rm");
    assert_snapshot!("no_dockerfile", check(&repo).error());
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    dockerfile: gpu/Dockerfile",
    ));
    assert_snapshot!("no_dockerfile_at_the_spec_path", check(&repo).error());
}

#[test]
fn an_info_cmd_missing_from_all_info_cmds() {
    let repo = stack(&SPEC.replace("[PY_VER]", "[PY_VER, PIP_LIST]"));
    assert_snapshot!(check(&repo).error());
}

#[test]
fn an_invalid_image_name() {
    let repo = stack(&SPEC.replace("ghcr.io/org/child", "ghcr.io/Org/child:1"));
    assert_snapshot!(check(&repo).error());
}

#[test]
fn a_folder_path_escaping_images() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    dockerfile: ../../etc/Dockerfile",
    ));
    assert_snapshot!("dockerfile_escaping_the_image_folder", check(&repo).error());
    let repo = stack(&SPEC.replace("  child:\n", "  ../child:\n"));
    assert_snapshot!("image_key_with_a_path_separator", check(&repo).error());
}

#[test]
fn skip_plans_naming_no_plan() {
    let spec = format!(
        "{}plans:\n  py311: {{tag_prefix: '2026.3'}}\n  py39: {{tag_prefix: '2026.3-py39'}}\n",
        SPEC.replace(
            "    depend_on: base",
            "    depend_on: base\n    skip_plans: [py38]"
        )
    );
    assert_snapshot!(check(&stack(&spec)).error());
}

#[test]
fn a_dockerfile_without_from() {
    let repo = stack(SPEC);
    repo.write("images/child/Dockerfile", "# nothing\nRUN true\n")
        .commit("bad");
    // The error points at the first instruction that needs a stage, as BuildKit's does.
    assert_snapshot!(check(&repo).error());
}

#[test]
fn every_error_at_once() {
    let repo = stack(
        &SPEC
            .replace("depend_on: base", "depend_on: nope")
            .replace("[PY_VER]", "[NOPE]"),
    );
    assert_snapshot!(check(&repo).error());
}

#[test]
fn unknown_keys_warn_and_strict_makes_them_errors() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    integration_test: true",
    ));
    let run = check(&repo);
    run.success();
    assert_snapshot!("unknown_key_warning", run.stderr_redacted());
    let strict = repo.run(&["plan", "--strict", "--branch", "x", "--changed", "y"]);
    assert_snapshot!("unknown_key_strict", strict.error());
}

#[test]
fn a_non_boolean_flag_of_the_old_specs_warns_and_strict_refuses_it() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    integration_tests: TORCH_AUD_VER",
    ));
    let run = check(&repo);
    run.success();
    assert_snapshot!("non_boolean_flag_warning", run.stderr_redacted());
    repo.run(&["plan", "--offline", "--branch", "x", "--changed", "y"])
        .success();
    assert_snapshot!(
        "non_boolean_flag_strict",
        repo.run(&["check", "--strict"]).error()
    );
}

#[test]
fn a_child_that_does_not_build_from_its_parent_warns() {
    let repo = stack(SPEC);
    repo.write("images/child/Dockerfile", "FROM busybox\n")
        .commit("unrelated");
    let run = repo.run(&["check"]);
    run.success();
    assert_snapshot!("child_not_from_its_parent_warning", run.stderr_redacted());
    repo.write("images/child/Dockerfile", "FROM ghcr.io/org/base:2024\n")
        .commit("fixed tag");
    let run = repo.run(&["check"]);
    assert_snapshot!("child_from_a_fixed_tag_warning", run.stderr_redacted());
    assert_snapshot!(
        "child_from_a_fixed_tag_strict",
        repo.run(&["check", "--strict"]).error()
    );
}

#[test]
fn a_branch_named_stable_is_refused() {
    let repo = stack(SPEC);
    let run = repo.run(&["plan", "--branch", "stable", "--changed", "x"]);
    assert_snapshot!("branch_stable", run.error());
    let run = repo.run(&["plan", "--branch=-bad", "--changed", "x"]);
    assert_snapshot!("branch_not_a_docker_tag", run.error());
}

#[test]
fn bad_flags() {
    let repo = stack(SPEC);
    let run = repo.run(&["plan", "--branch", "x", "--plan", "py39", "--changed", "x"]);
    assert_snapshot!("plan_in_a_spec_without_plans", run.error());
    let run = repo.run(&[
        "plan",
        "--branch",
        "x",
        "--registry",
        "nohost/ns",
        "--changed",
        "x",
    ]);
    assert_snapshot!("registry_without_a_host", run.error());
    let run = repo.run(&["plan", "--branch", "x", "--build-arg", "novalue"]);
    assert_snapshot!("build_arg_without_a_value", run.error());
    let run = repo.run(&["plan", "--branch", "x", "--changed", "x", "--base", "HEAD"]);
    assert_snapshot!("changed_with_base", run.error());
    let run = repo.run(&["plan", "--branch", "x", "--base", "nope"]);
    assert_snapshot!("base_not_a_commit", run.error());
}

#[test]
fn an_invalid_change_ignore_file() {
    let repo = stack(SPEC);
    repo.write("images/change_ignore.json", "{\"BuildAll\": [\"a\",]}")
        .commit("bad json");
    assert_snapshot!(check(&repo).error());
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let repo = stack(SPEC);
    repo.write("bake.json", "old").commit("old");
    let run = repo.run(&[
        "bake",
        "--branch",
        "x",
        "--changed",
        "images/base/Dockerfile",
        "-o",
        "bake.json",
    ]);
    run.success();
    let written = std::fs::read_to_string(repo.path().join("bake.json")).unwrap();
    assert!(written.starts_with('{') && written.ends_with("}\n"));
    // A failing run leaves the previous file as it was.
    let run = repo.run(&[
        "bake",
        "--branch",
        "stable",
        "--changed",
        "x",
        "-o",
        "bake.json",
    ]);
    assert_snapshot!(run.error());
    assert_eq!(
        std::fs::read_to_string(repo.path().join("bake.json")).unwrap(),
        written
    );
}

#[test]
fn a_repository_without_a_spec() {
    // The message names the absolute path: the snapshot holds it as `[REPO]/...`.
    let repo = Repo::new();
    repo.commit("empty");
    assert_snapshot!(
        repo.run(&["plan", "--branch", "x", "--changed", "y"])
            .error()
    );
}
