//! Variants: another Dockerfile and context of an image, its own target on the image's
//! parent, tagged `<variant>-<prefix>-<branch>`, rebuilt by its own folder only.

use std::path::Path;

use serde_json::json;

use crate::support::{Repo, buildx_accepts, copy_dir, rebuilds, target};

const SPEC: &str = r#"tag: {prefix: "2026.11"}
images:
  docker-stacks-foundation:
    image_name: quay.io/jupyter/docker-stacks-foundation
  base-notebook:
    image_name: quay.io/jupyter/base-notebook
    depend_on: docker-stacks-foundation
  scipy-notebook:
    image_name: quay.io/jupyter/scipy-notebook
    depend_on: base-notebook
  pytorch-notebook:
    image_name: quay.io/jupyter/pytorch-notebook
    depend_on: scipy-notebook
    variants:
      cuda12: {}
      cuda13: {build_args: {CUDA: "13.0"}}
  tensorflow-notebook:
    image_name: quay.io/jupyter/tensorflow-notebook
    depend_on: scipy-notebook
    variants:
      cuda: {tag_prefix: gpu}
plans:
  py312: {tag_prefix: "2026.11"}
  py311: {tag_prefix: "2026.11-py311", build_args: {PYTHON_VERSION: "3.11"}}
"#;

fn stack() -> Repo {
    let repo = Repo::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jupyter-layout/images"),
        &repo.path().join("images"),
    );
    repo.write("images/spec.yml", SPEC);
    repo.commit("the jupyter layout with variants");
    repo.branch("feature");
    repo
}

fn plan(repo: &Repo, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--offline", "--format", "json", "--branch", "b"];
    args.extend_from_slice(extra);
    repo.run(&args).json()
}

#[test]
fn every_variant_is_a_target_on_its_images_parent() {
    let repo = stack();
    repo.run(&["check", "--strict"]).success();
    let plan = plan(&repo, &["--full"]);
    let names: Vec<&str> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .filter(|n| n.starts_with("pytorch") || n.starts_with("tensorflow"))
        .collect();
    assert_eq!(
        names,
        [
            "pytorch-notebook-py311",
            "pytorch-notebook-cuda12-py311",
            "pytorch-notebook-cuda13-py311",
            "pytorch-notebook-py312",
            "pytorch-notebook-cuda12-py312",
            "pytorch-notebook-cuda13-py312",
            "tensorflow-notebook-py311",
            "tensorflow-notebook-cuda-py311",
            "tensorflow-notebook-py312",
            "tensorflow-notebook-cuda-py312",
        ]
    );
    let cuda12 = target(&plan, "pytorch-notebook-cuda12-py311");
    assert_eq!(cuda12["variant"], "cuda12");
    assert_eq!(cuda12["image"], "pytorch-notebook");
    assert_eq!(cuda12["parent"], "scipy-notebook-py311");
    assert_eq!(cuda12["context"], "images/pytorch-notebook/cuda12");
    assert_eq!(cuda12["dockerfile"], "Dockerfile");
    assert_eq!(cuda12["tag"], "cuda12-2026.11-py311-b");
    assert_eq!(
        cuda12["cache_from"],
        json!([
            "quay.io/jupyter/pytorch-notebook:cuda12-2026.11-py311-b",
            "quay.io/jupyter/pytorch-notebook:cuda12-2026.11-py311-stable",
            "quay.io/jupyter/pytorch-notebook:cuda12-stable"
        ])
    );
    assert_eq!(
        cuda12["contexts"],
        json!({"quay.io/jupyter/scipy-notebook:2026.11-py311-b": "target:scipy-notebook-py311"})
    );
    assert_eq!(cuda12["build_args"]["PYTHON_VERSION"], "3.11");
    assert_eq!(
        target(&plan, "pytorch-notebook-cuda13-py312")["build_args"]["CUDA"],
        "13.0"
    );
    assert_eq!(
        target(&plan, "pytorch-notebook-py312")["variant"],
        json!(null)
    );
    assert_eq!(
        target(&plan, "tensorflow-notebook-cuda-py312")["tag"],
        "gpu-2026.11-b"
    );

    let bake = repo.run(&["--offline", "--full", "--branch", "b"]);
    bake.success();
    let file = bake.json();
    assert_eq!(
        file["target"]["pytorch-notebook-cuda12-py311"]["tags"],
        json!(["quay.io/jupyter/pytorch-notebook:cuda12-2026.11-py311-b"])
    );
    buildx_accepts(&repo, &bake.stdout);
}

/// The targets the last commit rebuilds, in plan py312.
fn rebuilt_by_last_commit(repo: &Repo) -> Vec<String> {
    rebuilds(&plan(repo, &["--plan", "py312", "--base", "HEAD^"]))
}

#[test]
fn a_variant_folder_rebuilds_that_variant_and_a_parent_rebuilds_them_all() {
    let repo = stack();
    repo.append("images/pytorch-notebook/cuda12/Dockerfile", "RUN true\n")
        .commit("cuda12 only");
    assert_eq!(
        rebuilt_by_last_commit(&repo),
        ["pytorch-notebook-cuda12-py312"]
    );

    repo.append("images/pytorch-notebook/Dockerfile", "RUN true\n")
        .commit("the default");
    assert_eq!(rebuilt_by_last_commit(&repo), ["pytorch-notebook-py312"]);

    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("a parent");
    assert_eq!(
        rebuilt_by_last_commit(&repo),
        [
            "scipy-notebook-py312",
            "pytorch-notebook-py312",
            "pytorch-notebook-cuda12-py312",
            "pytorch-notebook-cuda13-py312",
            "tensorflow-notebook-py312",
            "tensorflow-notebook-cuda-py312",
        ]
    );
}

#[test]
fn bad_variants_are_reported_where_they_are() {
    let repo = stack();
    let bad = |replacement: &str| {
        repo.write(
            "images/spec.yml",
            &SPEC.replace("      cuda12: {}\n", replacement),
        )
        .commit("bad");
        repo.run(&["check"])
    };
    let run = bad("      cuda12: {tag_prefix: 'a b', contxt: x}\n");
    run.fails_with(&[
        "images/spec.yml:15:28",
        "images.pytorch-notebook.variants.cuda12.tag_prefix `a b`",
    ]);
    assert!(
        run.stderr
            .contains("unknown key `images.pytorch-notebook.variants.cuda12.contxt`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `context`"),
        "{}",
        run.stderr
    );
    bad("      cuda12: {context: ../scipy-notebook}\n")
        .fails_with(&["context `../scipy-notebook` escapes the image folder"]);
    bad("      cuda14: {}\n").fails_with(&[
        "variant `cuda14` of image `pytorch-notebook` has no Dockerfile at images/pytorch-notebook/cuda14/Dockerfile",
    ]);
    bad("      cuda12: {dockerfile: ../../x/Dockerfile}\n")
        .fails_with(&["dockerfile `../../x/Dockerfile` escapes the image folder"]);
    // A Dockerfile beside the context, inside the image folder, is fine.
    bad("      cuda12: {dockerfile: ../cuda13/Dockerfile}\n").success();
}

#[test]
fn a_variant_may_build_the_images_own_dockerfile_with_other_args() {
    let repo = stack();
    repo.write(
        "images/spec.yml",
        &SPEC.replace(
            "      cuda12: {}\n",
            "      cuda12: {}\n      slim: {context: ., build_args: {SLIM: \"1\"}}\n",
        ),
    )
    .commit("a variant on the image's own Dockerfile");
    repo.run(&["check"]).success();
    let plan = plan(&repo, &["--full"]);
    let (image, slim) = (
        target(&plan, "pytorch-notebook-py312"),
        target(&plan, "pytorch-notebook-slim-py312"),
    );
    assert_eq!(slim["context"], image["context"]);
    assert_eq!(slim["dockerfile"], image["dockerfile"]);
    assert_eq!(slim["build_args"]["SLIM"], "1");
    assert_ne!(slim["inputs"]["digest"], image["inputs"]["digest"]);
}
