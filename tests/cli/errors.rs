//! Every kind of bad input gets a clear error (what, where, how to fix), exit code 2, and
//! no output on stdout.

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
    check(&repo).fails_with(&["images/spec.yml:8:", "invalid YAML", "nothing was written"]);
}

#[test]
fn depend_on_naming_no_image() {
    let repo = stack(&SPEC.replace("depend_on: base", "depend_on: bsae"));
    check(&repo).fails_with(&[
        "images/spec.yml:8:16",
        "depend_on names `bsae`, which is not an image of this spec",
        "did you mean `base`?",
        "depend_on: bsae",
    ]);
}

#[test]
fn a_cycle_is_printed() {
    let spec = SPEC.replace("root: base\n", "").replace(
        "    info_cmds: [PY_VER]",
        "    info_cmds: [PY_VER]\n    depend_on: child",
    );
    check(&stack(&spec)).fails_with(&["depend_on forms a cycle: base -> child -> base"]);
}

#[test]
fn an_image_without_its_folder() {
    let repo = stack(&SPEC.replace(
        "images:\n",
        "images:\n  ghost:\n    image_name: ghcr.io/org/ghost\n",
    ));
    check(&repo).fails_with(&[
        "image `ghost` has no folder images/ghost/",
        "create images/ghost/",
    ]);
}

#[test]
fn a_context_buildkit_could_not_receive_is_refused_once_the_stack_holds() {
    // The contexts are walked while the stack is checked: a sound stack with a link out of
    // an image's context is refused for the link, with the fix, wherever a context is read:
    // by `check`, and by a plan that shows its digest.
    let repo = stack(SPEC);
    std::os::unix::fs::symlink("../../README.md", repo.path().join("images/child/notes.md"))
        .unwrap();
    let refused = [
        "image `child`: `images/child/notes.md` is a symlink to `../../README.md`, outside the build context",
        "images/child/.dockerignore",
    ];
    repo.run(&["check"]).fails_with(&refused);
    let json = ["plan", "--format", "json", "--branch", "x", "--full"];
    repo.run(&json).fails_with(&refused);
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
    for run in [broken.run(&["check"]), broken.run(&json)] {
        run.fails_with(&["image `ghost` has no folder images/ghost/"]);
        assert!(!run.stderr.contains("symlink"), "{}", run.stderr);
    }
}

#[test]
fn an_image_without_its_dockerfile() {
    let repo = stack(SPEC);
    repo.remove("images/child/Dockerfile")
        .write("images/child/README", "x")
        .commit("rm");
    check(&repo).fails_with(&["image `child` has no Dockerfile at images/child/Dockerfile"]);
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    dockerfile: gpu/Dockerfile",
    ));
    check(&repo).fails_with(&["has no Dockerfile at images/child/gpu/Dockerfile"]);
}

#[test]
fn an_info_cmd_missing_from_all_info_cmds() {
    let repo = stack(&SPEC.replace("[PY_VER]", "[PY_VER, PIP_LIST]"));
    check(&repo).fails_with(&[
        "images/spec.yml:5:",
        "`PIP_LIST` is not defined in all_info_cmds",
    ]);
}

#[test]
fn an_invalid_image_name() {
    let repo = stack(&SPEC.replace("ghcr.io/org/child", "ghcr.io/Org/child:1"));
    check(&repo).fails_with(&[
        "images/spec.yml:7:17",
        "invalid image_name `ghcr.io/Org/child:1`",
    ]);
}

#[test]
fn a_folder_path_escaping_images() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    dockerfile: ../../etc/Dockerfile",
    ));
    check(&repo).fails_with(&["dockerfile `../../etc/Dockerfile` escapes the image folder"]);
    let repo = stack(&SPEC.replace("  child:\n", "  ../child:\n"));
    check(&repo).fails_with(&["image key `../child` contains a path separator"]);
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
    check(&stack(&spec)).fails_with(&[
        "skip_plans names `py38`, which is not a plan",
        "did you mean `py39`?",
    ]);
}

#[test]
fn a_dockerfile_without_from() {
    let repo = stack(SPEC);
    repo.write("images/child/Dockerfile", "# nothing\nRUN true\n")
        .commit("bad");
    // The error points at the first instruction that needs a stage, as BuildKit's does.
    check(&repo).fails_with(&["images/child/Dockerfile:2:1", "no FROM instruction"]);
}

#[test]
fn every_error_at_once() {
    let repo = stack(
        &SPEC
            .replace("depend_on: base", "depend_on: nope")
            .replace("[PY_VER]", "[NOPE]"),
    );
    check(&repo).fails_with(&["`nope`", "`NOPE`", "2 error(s)"]);
}

#[test]
fn unknown_keys_warn_and_strict_makes_them_errors() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    integration_test: true",
    ));
    let run = check(&repo);
    run.success();
    assert!(
        run.stderr
            .contains("unknown key `images.child.integration_test` is ignored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `integration_tests`?"),
        "{}",
        run.stderr
    );
    repo.run(&["plan", "--strict", "--branch", "x", "--changed", "y"])
        .fails_with(&["--strict"]);
}

#[test]
fn a_non_boolean_flag_of_the_old_specs_warns_and_strict_refuses_it() {
    let repo = stack(&SPEC.replace(
        "    depend_on: base",
        "    depend_on: base\n    integration_tests: TORCH_AUD_VER",
    ));
    let run = check(&repo);
    run.success();
    assert!(
        run.stderr.contains(
            "`integration_tests` of image `child` is `TORCH_AUD_VER`, not a boolean: read as false, as the original tooling did"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("images/spec.yml:"), "{}", run.stderr);
    assert!(run.stderr.contains("--strict"), "{}", run.stderr);
    repo.run(&["plan", "--offline", "--branch", "x", "--changed", "y"])
        .success();
    repo.run(&["check", "--strict"]).fails_with(&["--strict"]);
}

#[test]
fn a_child_that_does_not_build_from_its_parent_warns() {
    let repo = stack(SPEC);
    repo.write("images/child/Dockerfile", "FROM busybox\n")
        .commit("unrelated");
    let run = repo.run(&["check"]);
    run.success();
    assert!(
        run.stderr
            .contains("no FROM in its Dockerfile names ghcr.io/org/base"),
        "{}",
        run.stderr
    );
    repo.write("images/child/Dockerfile", "FROM ghcr.io/org/base:2024\n")
        .commit("fixed tag");
    let run = repo.run(&["check"]);
    assert!(
        run.stderr.contains("with a fixed tag, not ${BASE_TAG}"),
        "{}",
        run.stderr
    );
    repo.run(&["check", "--strict"]).fails_with(&["--strict"]);
}

#[test]
fn a_branch_named_stable_is_refused() {
    let repo = stack(SPEC);
    repo.run(&["plan", "--branch", "stable", "--changed", "x"])
        .fails_with(&["collide with the promoted `stable` tags"]);
    repo.run(&["plan", "--branch=-bad", "--changed", "x"])
        .fails_with(&["does not make a valid Docker tag"]);
}

#[test]
fn bad_flags() {
    let repo = stack(SPEC);
    repo.run(&["plan", "--branch", "x", "--plan", "py39", "--changed", "x"])
        .fails_with(&["the spec defines no plans"]);
    repo.run(&[
        "plan",
        "--branch",
        "x",
        "--registry",
        "nohost/ns",
        "--changed",
        "x",
    ])
    .fails_with(&["is not a registry host"]);
    repo.run(&["plan", "--branch", "x", "--build-arg", "novalue"])
        .fails_with(&["is not K=V"]);
    repo.run(&["plan", "--branch", "x", "--changed", "x", "--base", "HEAD"])
        .fails_with(&["do not combine them"]);
    repo.run(&["plan", "--branch", "x", "--base", "nope"])
        .fails_with(&["`nope` is not a commit"]);
}

#[test]
fn an_invalid_change_ignore_file() {
    let repo = stack(SPEC);
    repo.write("images/change_ignore.json", "{\"BuildAll\": [\"a\",]}")
        .commit("bad json");
    check(&repo).fails_with(&["images/change_ignore.json:1:", "invalid change_ignore.json"]);
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
    repo.run(&[
        "bake",
        "--branch",
        "stable",
        "--changed",
        "x",
        "-o",
        "bake.json",
    ])
    .fails_with(&["stable"]);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("bake.json")).unwrap(),
        written
    );
}
