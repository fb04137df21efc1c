//! Children that take their parent through whatever build arg their `FROM` uses: a bare
//! `$BASE_IMG` with a placeholder default gets the parent's whole ref, `repo:${PARENT_TAG}`
//! its tag, and the spec's `parent_arg` decides when the Dockerfile alone cannot.

use insta::assert_snapshot;
use serde_json::json;

use crate::support::{Repo, buildx_accepts};

const SPEC: &str = r#"images:
  base:
    image_name: ghcr.io/org/base
  mid:
    image_name: ghcr.io/org/mid
    depend_on: base
  leaf:
    image_name: ghcr.io/org/leaf
    depend_on: mid
tag:
  prefix: "1"
"#;

const BASE_DF: &str = "FROM busybox:1.36\nRUN true\n";
/// A placeholder default the build system is meant to replace: not even a valid ref.
const MID_DF: &str = "ARG BASE_IMG=@@PARENT_IMAGE@@\nFROM $BASE_IMG\nRUN true\n";
const LEAF_DF: &str =
    "ARG REGISTRY=ghcr.io\nARG PARENT_TAG=latest\nFROM ${REGISTRY}/org/mid:${PARENT_TAG}\n";

fn stack() -> Repo {
    Repo::with_files(&[
        ("images/spec.yml", SPEC),
        ("images/base/Dockerfile", BASE_DF),
        ("images/mid/Dockerfile", MID_DF),
        ("images/leaf/Dockerfile", LEAF_DF),
    ])
}

#[test]
fn any_from_argument_is_set_to_the_parent_of_this_run() {
    let repo = stack();
    let check = repo.run(&["check", "--strict"]);
    check.success();
    assert!(!check.stderr.contains("warning"), "{}", check.stderr);

    let run = repo.run(&["bake", "--branch", "b", "--full"]);
    run.success();
    let file = run.json();
    let mid = &file["target"]["mid"];
    assert_eq!(mid["args"]["BASE_IMG"], "ghcr.io/org/base:1-b");
    assert_eq!(
        mid["contexts"],
        json!({"ghcr.io/org/base:1-b": "target:base"})
    );
    let leaf = &file["target"]["leaf"];
    assert_eq!(leaf["args"]["PARENT_TAG"], "1-b");
    assert!(leaf["args"].get("REGISTRY").is_none(), "{leaf}");
    assert_eq!(
        leaf["contexts"],
        json!({"ghcr.io/org/mid:1-b": "target:mid"})
    );
    buildx_accepts(&repo, &run.stdout);

    let plan = repo.full_plan("b");
    let args: Vec<&serde_json::Value> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["parent_arg"])
        .collect();
    assert_eq!(
        args,
        [&json!(null), &json!("BASE_IMG"), &json!("PARENT_TAG")]
    );
}

#[test]
fn the_set_arguments_stay_out_of_the_inputs_digest() {
    let repo = stack();
    let digest = |branch: &str| {
        let plan = repo.full_plan(branch);
        plan["targets"][1]["inputs"]["digest"].clone()
    };
    assert_eq!(digest("one"), digest("two"));
}

#[test]
fn under_a_registry_rewrite_the_tag_argument_chains_to_the_original_name() {
    let repo = stack();
    let file = repo
        .run(&[
            "bake",
            "--branch",
            "b",
            "--full",
            "--registry",
            "localhost:5000/x",
        ])
        .json();
    assert_eq!(
        file["target"]["mid"]["args"]["BASE_IMG"],
        "localhost:5000/x/base:1-b"
    );
    // The FROM keeps its own registry: the context key is what it resolves to.
    assert_eq!(
        file["target"]["leaf"]["contexts"],
        json!({"ghcr.io/org/mid:1-b": "target:mid"})
    );
}

#[test]
fn two_candidate_arguments_warn_until_the_spec_names_one() {
    let repo = stack();
    repo.write(
        "images/mid/Dockerfile",
        "ARG TOOLS=x\nARG BASE_IMG=y\nFROM $TOOLS AS tools\nFROM $BASE_IMG\nCOPY --from=tools /t /t\n",
    )
    .commit("two args");
    let run = repo.run(&["check"]);
    run.success();
    assert_snapshot!("two_candidate_arguments_warning", run.stderr_redacted());
    assert_snapshot!(
        "two_candidate_arguments_strict",
        repo.run(&["check", "--strict"]).error()
    );

    repo.write(
        "images/spec.yml",
        &SPEC.replace(
            "    depend_on: base\n",
            "    depend_on: base\n    parent_arg: BASE_IMG\n",
        ),
    )
    .commit("say which");
    repo.run(&["check", "--strict"]).success();
    let file = repo.run(&["bake", "--branch", "b", "--full"]).json();
    assert_eq!(
        file["target"]["mid"]["args"]["BASE_IMG"],
        "ghcr.io/org/base:1-b"
    );
    assert_eq!(file["target"]["mid"]["args"]["TOOLS"], json!(null));
}

#[test]
fn a_parent_arg_the_dockerfile_does_not_declare_warns() {
    let repo = stack();
    repo.write(
        "images/spec.yml",
        &SPEC.replace(
            "    depend_on: base\n",
            "    depend_on: base\n    parent_arg: PARENT\n",
        ),
    )
    .commit("wrong arg");
    let run = repo.run(&["check"]);
    run.success();
    assert_snapshot!("undeclared_parent_arg_warning", run.stderr_redacted());
    repo.write(
        "images/spec.yml",
        &SPEC.replace(
            "    depend_on: base\n",
            "    depend_on: base\n    parent_arg: 1X\n",
        ),
    )
    .commit("bad name");
    assert_snapshot!("parent_arg_not_a_name", repo.run(&["check"]).error());
}
