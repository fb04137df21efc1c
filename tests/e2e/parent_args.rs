//! Children that name their parent through build args of their own: `ARG BASE_IMG=<a
//! placeholder>` + `FROM $BASE_IMG`, and `FROM localhost:5000/x/mid:${PARENT_TAG}` (a
//! repository where nothing is ever pushed). Each is built on its parent of the same run,
//! in one bake and over `stackplan build`.

use std::process::Command;

use crate::env::{Env, bake, bake_full, build_offline, docker, layers, ok, unique};
use crate::support::{Repo, Stack, on_base_image};

/// root → mid → leaf; every layer appends to /l, so the leaf's /l shows its ancestry.
fn stack(nonce: &str) -> Repo {
    Stack::new()
        .image(
            "root",
            "localhost:5000/x/root",
            None,
            &on_base_image(&format!("RUN echo root {nonce} > /l\n")),
        )
        .image(
            "mid",
            "localhost:5000/x/mid",
            Some("root"),
            &format!("ARG BASE_IMG=@@PARENT_IMAGE@@\nFROM $BASE_IMG\nRUN echo mid {nonce} >> /l\n"),
        )
        .image(
            "leaf",
            "localhost:5000/x/leaf",
            Some("mid"),
            &format!(
                "ARG PARENT_TAG=latest\nFROM localhost:5000/x/mid:${{PARENT_TAG}}\nRUN echo leaf {nonce} >> /l\n"
            ),
        )
        .repo()
}

#[test]
fn one_bake_builds_every_child_on_its_parent_of_the_run() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = stack(&nonce);
    repo.branch("args");
    let ns = env.namespace("parent-args");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let bake_json = bake_full(&repo, &ns, &base);
    let file: serde_json::Value = serde_json::from_str(&bake_json).unwrap();
    assert_eq!(
        file["target"]["mid"]["args"]["BASE_IMG"],
        format!("{ns}/root:1-args")
    );
    assert_eq!(file["target"]["leaf"]["args"]["PARENT_TAG"], "1-args");
    let run = bake(&repo, &bake_json, None);
    assert!(run.success, "bake failed:\n{}", run.stderr);
    for (child, parent) in [("mid", "root"), ("leaf", "mid")] {
        let c = layers(&format!("{ns}/{child}:1-args"));
        let p = layers(&format!("{ns}/{parent}:1-args"));
        assert_eq!(&c[..p.len()], &p[..], "{child} does not sit on {parent}");
        assert_eq!(c.len(), p.len() + 1);
    }
}

#[test]
fn stackplan_build_chains_them_in_one_graph() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = stack(&nonce);
    repo.branch("args");
    // Nothing listens on port 9: a child can only get its parent from the same graph.
    let ns = format!("127.0.0.1:9/args-{nonce}");
    let base = format!("BASE_IMAGE={}", env.base_image);
    ok(&build_offline(&repo, "docker://", &ns, &base));
    let image = format!("{ns}/leaf:1-args");
    assert_eq!(
        docker(&["run", "--rm", &image, "cat", "/l"]),
        format!("root {nonce}\nmid {nonce}\nleaf {nonce}\n")
    );
    for key in ["root", "mid", "leaf"] {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &format!("{ns}/{key}:1-args")])
            .output();
    }
}
