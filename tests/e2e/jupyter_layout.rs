//! The jupyter/docker-stacks layout (tests/fixtures/jupyter-layout) brought to stackplan
//! with `stackplan init`, then built for real: every image and variant on its parent of
//! the same run, in one bake and over `stackplan build`.

use std::path::Path;
use std::process::Command;

use crate::env::{Env, bake, bake_full, build_offline, layers, ok, stackplan, unique};
use crate::support::{Repo, copy_dir};

fn initialized() -> Repo {
    let repo = Repo::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jupyter-layout/images"),
        &repo.path().join("images"),
    );
    repo.commit("images without a spec");
    ok(&stackplan(
        &repo,
        &[
            "init",
            "--image-prefix",
            "quay.io/jupyter",
            "--tag-prefix",
            "2026.11",
        ],
        None,
    ));
    repo.commit("stackplan init");
    repo.branch("jl");
    repo
}

/// (target, its image, its parent image): every variant sits on scipy-notebook.
const CHAIN: &[(&str, &str, &str)] = &[
    ("base-notebook", "base-notebook", "docker-stacks-foundation"),
    ("scipy-notebook", "scipy-notebook", "base-notebook"),
    ("pytorch-notebook", "pytorch-notebook", "scipy-notebook"),
    (
        "pytorch-notebook-cuda12",
        "pytorch-notebook:cuda12-",
        "scipy-notebook",
    ),
    (
        "pytorch-notebook-cuda13",
        "pytorch-notebook:cuda13-",
        "scipy-notebook",
    ),
    (
        "tensorflow-notebook",
        "tensorflow-notebook",
        "scipy-notebook",
    ),
    (
        "tensorflow-notebook-cuda",
        "tensorflow-notebook:cuda-",
        "scipy-notebook",
    ),
];

/// `<ns>/<image>:<tag>` for an entry of [`CHAIN`] (a variant's tag has its prefix).
fn reference(ns: &str, image: &str) -> String {
    match image.split_once(':') {
        Some((name, prefix)) => format!("{ns}/{name}:{prefix}2026.11-jl"),
        None => format!("{ns}/{image}:2026.11-jl"),
    }
}

#[test]
fn one_bake_builds_every_image_and_variant_on_its_parent() {
    let Some(env) = Env::require() else { return };
    let repo = initialized();
    let ns = env.namespace("jupyter");
    let root = format!("ROOT_IMAGE={}", env.base_image);
    let bake_json = bake_full(&repo, &ns, &root);
    let run = bake(&repo, &bake_json, None);
    assert!(run.success, "bake failed:\n{}", run.stderr);
    for (target, image, parent) in CHAIN {
        let c = layers(&reference(&ns, image));
        let p = layers(&reference(&ns, parent));
        assert!(!p.is_empty(), "{parent} was not pushed");
        assert_eq!(&c[..p.len()], &p[..], "{target} does not sit on {parent}");
        assert_eq!(c.len(), p.len() + 1, "{target}");
    }
}

#[test]
fn stackplan_build_chains_every_variant_in_one_graph() {
    let Some(env) = Env::require() else { return };
    let repo = initialized();
    let nonce = unique();
    // Nothing listens on port 9: a child can only get its parent from the same graph.
    let ns = format!("127.0.0.1:9/jl-{nonce}");
    let root = format!("ROOT_IMAGE={}", env.base_image);
    ok(&build_offline(&repo, "docker://", &ns, &root));
    let cuda12 = reference(&ns, "pytorch-notebook:cuda12-");
    let l = Command::new("docker")
        .args(["run", "--rm", &cuda12, "cat", "/layers"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&l.stdout),
        "docker-stacks-foundation\nbase-notebook\nscipy-notebook\npytorch-notebook cuda12\n",
        "{}",
        String::from_utf8_lossy(&l.stderr)
    );
    for (_, image, _) in CHAIN {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &reference(&ns, image)])
            .output();
    }
    let _ = Command::new("docker")
        .args([
            "image",
            "rm",
            "-f",
            &reference(&ns, "docker-stacks-foundation"),
        ])
        .output();
}
