//! The bake file: structure, escaping, determinism, and buildx's own loader accepting it.

use serde_json::json;

use crate::support::{Repo, buildx_accepts};

fn bake(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bake"];
    all.extend_from_slice(args);
    let run = repo.run(&all);
    run.success();
    buildx_accepts(repo, &run.stdout);
    run.json()
}

#[test]
fn the_example_stack_bakes_and_chains_children_to_rebuilt_parents() {
    let repo = Repo::example();
    repo.branch("feature-x");
    repo.append("images/base-notebook/Dockerfile", "RUN true\n")
        .commit("base");
    let file = bake(&repo, &["--revision", "", "--source-url", ""]);
    assert_eq!(
        file["group"]["default"]["targets"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let child = &file["target"]["scipy-notebook-py39"];
    assert_eq!(
        child["contexts"],
        json!({"ghcr.io/stackplan-example/base-notebook:2026.3-py39-feature-x": "target:base-notebook-py39"})
    );
    assert_eq!(child["args"]["BASE_TAG"], "2026.3-py39-feature-x");
    assert_eq!(
        child["args"]["SCIPY_VERSION"], "1.7.3",
        "plan_build_args apply"
    );
    assert_eq!(
        child["args"]["PYTHON_VERSION"], "3.9.5",
        "plan build_args apply"
    );
    assert_eq!(child["context"], "images/scipy-notebook");
    assert_eq!(child["cache-to"], json!(["type=inline"]));
    assert_eq!(
        child["cache-from"],
        json!([
            "type=registry,ref=ghcr.io/stackplan-example/scipy-notebook:2026.3-py39-feature-x",
            "type=registry,ref=ghcr.io/stackplan-example/scipy-notebook:2026.3-py39-stable",
            "type=registry,ref=ghcr.io/stackplan-example/scipy-notebook:stable"
        ])
    );
    assert_eq!(
        child["labels"],
        json!({"org.opencontainers.image.version": "2026.3-py39-feature-x"})
    );
    assert!(child.get("output").is_none());
}

#[test]
fn no_context_when_the_parent_is_not_rebuilt() {
    let repo = Repo::example();
    repo.branch("leaf");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("leaf");
    let file = bake(&repo, &[]);
    assert_eq!(
        file["group"]["default"]["targets"],
        json!(["scipy-notebook-py311", "scipy-notebook-py39"])
    );
    assert!(
        file["target"]["scipy-notebook-py311"]
            .get("contexts")
            .is_none()
    );
    assert_eq!(
        file["group"]["py39"]["targets"],
        json!(["scipy-notebook-py39"])
    );
    assert_eq!(file["group"]["all"]["targets"].as_array().unwrap().len(), 5);
}

#[test]
fn registry_rewrite_redirects_fixed_from_lines() {
    let repo = Repo::example();
    repo.branch("leaf");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("leaf");
    let file = bake(
        &repo,
        &["--registry", "localhost:5000/test", "--plan", "py311"],
    );
    let child = &file["target"]["scipy-notebook-py311"];
    assert_eq!(
        child["tags"],
        json!(["localhost:5000/test/scipy-notebook:2026.3-leaf"])
    );
    assert_eq!(
        child["contexts"],
        json!({"ghcr.io/stackplan-example/base-notebook:2026.3-leaf": "docker-image://localhost:5000/test/base-notebook:2026.3-leaf"})
    );
}

const SPEC: &str = r#"images:
  base:
    image_name: docker.io/org/base
    build_args: {GREETING: "hello ${USER} %{x}"}
  child:
    image_name: docker.io/org/child
    depend_on: base
    dockerfile: docker/Dockerfile.gpu
    platforms: [linux/amd64, linux/arm64]
  by-image:
    image_name: localhost:5000/org/by-image
    depend_on: base
plans:
  "3.11": {tag_prefix: "2026.3"}
  "3.9": {tag_prefix: "2026.3-py3.9"}
tag: {prefix: "2026.3"}
"#;

fn custom_stack() -> Repo {
    Repo::with_files(&[
        ("images/spec.yml", SPEC),
        ("images/base/Dockerfile", "FROM busybox\nARG GREETING\n"),
        (
            "images/child/docker/Dockerfile.gpu",
            "ARG BASE_TAG=latest\nFROM docker.io/org/base:${BASE_TAG} AS build\nFROM build\n",
        ),
        ("images/child/Dockerfile", "FROM scratch\n"),
        (
            "images/by-image/Dockerfile",
            "ARG BASE_IMAGE=docker.io/org/base:latest\nFROM ${BASE_IMAGE}\n",
        ),
    ])
}

#[test]
fn stacks_other_than_the_example() {
    let repo = custom_stack();
    let file = bake(&repo, &["--branch", "b", "--changed", "images/base/x"]);
    // Plan names with dots make valid target names.
    let targets: Vec<&String> = file["target"].as_object().unwrap().keys().collect();
    assert_eq!(
        targets,
        [
            "base-3_11",
            "base-3_9",
            "by-image-3_11",
            "by-image-3_9",
            "child-3_11",
            "child-3_9"
        ]
    );
    let child = &file["target"]["child-3_9"];
    assert_eq!(child["dockerfile"], "docker/Dockerfile.gpu");
    assert_eq!(child["platforms"], json!(["linux/amd64", "linux/arm64"]));
    // The context key is the FROM in BuildKit's familiar form (docker.io/ stripped).
    assert_eq!(
        child["contexts"],
        json!({"org/base:2026.3-py3.9-b": "target:base-3_9"})
    );
    // A child taking its parent through ARG BASE_IMAGE gets the whole parent ref.
    let by_image = &file["target"]["by-image-3_11"];
    assert_eq!(
        by_image["args"]["BASE_IMAGE"],
        "docker.io/org/base:2026.3-b"
    );
    assert_eq!(
        by_image["contexts"],
        json!({"org/base:2026.3-b": "target:base-3_11"})
    );
    assert_eq!(
        file["group"]["3_9"]["targets"],
        json!(["base-3_9", "by-image-3_9", "child-3_9"])
    );
}

#[test]
fn hcl_sequences_are_escaped_and_survive_buildx() {
    let repo = custom_stack();
    let run = repo.run(&[
        "bake",
        "--branch",
        "b",
        "--changed",
        "images/base/x",
        "--build-arg",
        "TOKEN=$${kept}",
    ]);
    run.success();
    let file = run.json();
    assert_eq!(
        file["target"]["base-3_11"]["args"]["GREETING"],
        "hello $${USER} %%{x}"
    );
    if let Some(printed) = buildx_accepts(&repo, &run.stdout) {
        let args = &printed["target"]["base-3_11"]["args"];
        assert_eq!(
            args["GREETING"], "hello ${USER} %{x}",
            "buildx reads the value as written"
        );
        assert_eq!(args["TOKEN"], "$${kept}");
    }
}

#[test]
fn output_is_byte_identical_across_runs() {
    let repo = Repo::example();
    let a = repo.run(&["bake", "--branch", "x", "--full"]);
    let b = repo.run(&["bake", "--branch", "x", "--full"]);
    a.success();
    assert_eq!(a.stdout, b.stdout);
    let a = repo.run(&["plan", "--format", "json", "--branch", "x", "--full"]);
    let b = repo.run(&["plan", "--format", "json", "--branch", "x", "--full"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn push_and_cache_options() {
    let repo = Repo::example();
    let file = bake(
        &repo,
        &[
            "--branch",
            "x",
            "--full",
            "--push",
            "--cache-to",
            "registry",
            "--plan",
            "py311",
        ],
    );
    let base = &file["target"]["base-notebook-py311"];
    assert_eq!(base["output"], json!(["type=registry"]));
    assert_eq!(
        base["cache-to"],
        json!([
            "type=registry,ref=ghcr.io/stackplan-example/base-notebook:buildcache-2026.3-x,mode=max",
            "type=inline"
        ])
    );
    assert_eq!(
        base["cache-from"][0],
        "type=registry,ref=ghcr.io/stackplan-example/base-notebook:buildcache-2026.3-x"
    );
    let file = bake(
        &repo,
        &[
            "--branch",
            "x",
            "--full",
            "--cache-to",
            "none",
            "--push-by-digest",
        ],
    );
    let base = &file["target"]["base-notebook-py311"];
    assert!(base.get("cache-to").is_none(), "no cache export: {base}");
    assert!(
        base.get("tags").is_none(),
        "a digest push writes no tag: {base}"
    );
    assert!(
        base["output"][0]
            .as_str()
            .unwrap()
            .contains("push-by-digest=true")
    );
    repo.run(&["bake", "--branch", "x", "--push", "--push-by-digest"])
        .fails_with(&["cannot be used with"]);
}

#[test]
fn a_stack_without_change_ignore_json() {
    let repo = Repo::example();
    repo.remove("images/change_ignore.json").commit("no rules");
    repo.branch("spec");
    repo.append("images/spec.yml", "# comment\n").commit("spec");
    let run = repo.run(&["plan", "--format", "json"]);
    run.success();
    assert_eq!(
        run.rebuilds().len(),
        5,
        "a spec change rebuilds everything by default"
    );
}

#[test]
fn the_default_command_is_bake() {
    let repo = Repo::example();
    let a = repo.run(&["--branch", "x", "--full"]);
    let b = repo.run(&["bake", "--branch", "x", "--full"]);
    a.success();
    assert_eq!(a.stdout, b.stdout);
    assert!(
        a.stderr.contains("5 of 5 targets build (group `default`)"),
        "{}",
        a.stderr
    );
}

#[test]
fn build_push_by_digest_pushes_names_without_tags_and_needs_a_metadata_file() {
    let repo = Repo::example();
    repo.branch("x");
    let run = repo.run(&[
        "build",
        "--full",
        "--dry-run",
        "--push-by-digest",
        "--metadata-file",
        "meta.json",
    ]);
    run.success();
    let solves = run.json();
    let solves = solves.as_array().unwrap();
    assert_eq!(solves.len(), 5, "{solves:?}");
    for solve in solves {
        let exporter = &solve["control"]["exporter"];
        assert_eq!(exporter["type"], "image", "{solve}");
        assert_eq!(exporter["attrs"]["push-by-digest"], "true", "{solve}");
        assert!(
            !exporter["attrs"]["name"].as_str().unwrap().contains(':'),
            "a name, no tag: {solve}"
        );
    }
    repo.run(&["build", "--dry-run", "--push-by-digest"])
        .fails_with(&["--metadata-file"]);
    repo.run(&[
        "build",
        "--dry-run",
        "--push",
        "--push-by-digest",
        "--metadata-file",
        "m.json",
    ])
    .fails_with(&["cannot be used with"]);
}
