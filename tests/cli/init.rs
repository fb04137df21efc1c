//! `stackplan init` on an images folder laid out like jupyter/docker-stacks
//! (tests/fixtures/jupyter-layout): the spec it writes gives every image its parent and
//! name, and `check`, `plan` and a bake file buildx accepts follow.

use std::path::Path;

use serde_json::json;

use crate::support::{Repo, buildx_accepts, copy_dir};

/// A checkout whose images folder is `tests/fixtures/<layout>/images`, without a spec.
fn layout(layout: &str) -> Repo {
    let repo = Repo::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(layout)
            .join("images"),
        &repo.path().join("images"),
    );
    repo.commit(&format!(
        "an images folder laid out as {layout}, without a spec"
    ));
    repo
}

/// Commits the spec init wrote, checks it strictly, and plans every target offline.
fn commit_check_and_plan(repo: &Repo) -> serde_json::Value {
    repo.commit("init");
    repo.run(&["check", "--strict"]).success();
    repo.full_plan("main")
}

fn jupyter_layout() -> Repo {
    layout("jupyter-layout")
}

fn spec(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path().join("images/spec.yml")).unwrap()
}

#[test]
fn init_infers_parents_and_names_and_the_stack_plans() {
    let repo = jupyter_layout();
    let run = repo.run(&[
        "init",
        "--image-prefix",
        "quay.io/jupyter",
        "--tag-prefix",
        "2026.11",
    ]);
    run.success();
    assert!(
        run.stderr.contains("wrote images/spec.yml: 5 images"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let text = spec(&repo);
    assert!(text.contains("prefix: \"2026.11\""), "{text}");
    assert!(
        text.contains("# builds FROM ubuntu:24.04 (Dockerfile:4), not an image of this folder"),
        "{text}"
    );
    for variant in ["cuda12", "cuda13", "cuda"] {
        assert!(text.contains(&format!("      {variant}: {{}}\n")), "{text}");
    }
    assert!(run.stderr.contains("3 variant(s)"), "{}", run.stderr);
    let plan = commit_check_and_plan(&repo);
    let parents: Vec<(String, serde_json::Value, serde_json::Value)> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["parent"].clone(),
                t["image_name"].clone(),
            )
        })
        .collect();
    let expected = [
        (
            "docker-stacks-foundation",
            json!(null),
            "docker-stacks-foundation",
        ),
        (
            "base-notebook",
            json!("docker-stacks-foundation"),
            "base-notebook",
        ),
        ("scipy-notebook", json!("base-notebook"), "scipy-notebook"),
        (
            "pytorch-notebook",
            json!("scipy-notebook"),
            "pytorch-notebook",
        ),
        (
            "pytorch-notebook-cuda12",
            json!("scipy-notebook"),
            "pytorch-notebook",
        ),
        (
            "pytorch-notebook-cuda13",
            json!("scipy-notebook"),
            "pytorch-notebook",
        ),
        (
            "tensorflow-notebook",
            json!("scipy-notebook"),
            "tensorflow-notebook",
        ),
        (
            "tensorflow-notebook-cuda",
            json!("scipy-notebook"),
            "tensorflow-notebook",
        ),
    ];
    assert_eq!(parents.len(), expected.len(), "{parents:?}");
    for ((name, parent, image_name), (want, want_parent, image)) in parents.iter().zip(expected) {
        assert_eq!(name, want);
        assert_eq!(parent, &want_parent, "{name}");
        assert_eq!(image_name, &json!(format!("quay.io/jupyter/{image}")));
    }
    let scipy = &plan["targets"][2];
    assert_eq!(scipy["parent_arg"], "BASE_IMAGE");
    assert_eq!(
        scipy["build_args"]["BASE_IMAGE"],
        "quay.io/jupyter/base-notebook:2026.11-main"
    );

    let bake = repo.run(&["--full", "--offline"]);
    bake.success();
    buildx_accepts(&repo, &bake.stdout);
}

#[test]
fn without_flags_names_come_from_the_children_and_guesses_are_marked() {
    let repo = jupyter_layout();
    let run = repo.run(&["init", "--dry-run"]);
    run.success();
    assert!(
        !repo.path().join("images/spec.yml").exists(),
        "--dry-run writes nothing"
    );
    let text = &run.stdout;
    assert!(
        text.contains(
            "image_name: quay.io/jupyter/base-notebook  # as the FROM of scipy-notebook names it"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "image_name: quay.io/jupyter/pytorch-notebook  # guessed: the prefix the other images share"
        ),
        "{text}"
    );
    assert!(text.contains("prefix: \"dev\"  # guessed"), "{text}");
}

#[test]
fn an_existing_spec_is_kept_unless_forced() {
    let repo = jupyter_layout();
    repo.write("images/spec.yml", "# mine\n");
    repo.run(&["init"])
        .fails_with(&["images/spec.yml exists", "--force"]);
    assert_eq!(spec(&repo), "# mine\n");
    repo.run(&["init", "--force"]).success();
    assert!(spec(&repo).contains("depend_on: scipy-notebook"));
}

#[test]
fn what_cannot_be_guessed_is_asked_for() {
    let repo = Repo::with_files(&[("images/solo/Dockerfile", "FROM busybox\n")]);
    repo.run(&["init"])
        .fails_with(&["image_name of `solo`", "--image-prefix REGISTRY/OWNER"]);
    repo.run(&["init", "--image-prefix", "ghcr.io/Me"])
        .fails_with(&["not a valid image_name"]);
    repo.run(&[
        "init",
        "--image-prefix",
        "ghcr.io/me",
        "--tag-prefix",
        "a b",
    ])
    .fails_with(&["tag.prefix"]);
    let empty = Repo::with_files(&[("images/notes/README.md", "x\n")]);
    empty.run(&["init"]).fails_with(&["has a Dockerfile"]);
}

/// kubeflow's example-notebook-servers write `ARG BASE_IMG=<parent-folder>` and `FROM
/// $BASE_IMG`, their Makefiles passing the real reference: init reads the placeholder as
/// the parent, and the spec it writes chains every child through `BASE_IMG`.
#[test]
fn placeholder_defaults_name_the_parents() {
    let repo = layout("kubeflow-layout");
    let run = repo.run(&["init", "--image-prefix", "ghcr.io/kubeflow"]);
    run.success();
    assert!(
        run.stderr.contains("wrote images/spec.yml: 5 images"),
        "{}",
        run.stderr
    );
    let text = spec(&repo);
    for (child, parent) in [
        ("jupyter", "base"),
        ("codeserver", "base"),
        ("jupyter-pytorch", "jupyter"),
        ("jupyter-scipy", "jupyter"),
    ] {
        let entry = format!(
            "  {child}:\n    image_name: ghcr.io/kubeflow/{child}  # --image-prefix\n    depend_on: {parent}  # its FROM resolves to <{parent}> (Dockerfile:6)\n"
        );
        assert!(text.contains(&entry), "{entry}\n{text}");
    }
    let plan = commit_check_and_plan(&repo);
    let targets = plan["targets"].as_array().unwrap();
    let pytorch = targets
        .iter()
        .find(|t| t["name"] == "jupyter-pytorch")
        .unwrap();
    assert_eq!(pytorch["parent"], "jupyter");
    assert_eq!(pytorch["parent_arg"], "BASE_IMG");
    assert_eq!(
        pytorch["build_args"]["BASE_IMG"],
        "ghcr.io/kubeflow/jupyter:dev-main"
    );
    let bake = repo.run(&["--full", "--offline"]);
    bake.success();
    buildx_accepts(&repo, &bake.stdout);
}
