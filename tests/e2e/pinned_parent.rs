//! A parent that is not built in the child's graph (kept, or reused) is read by the
//! manifest digest the plan saw: another pipeline moving the parent's branch tag between
//! plan and build cannot put the child on another parent under the inputs it was planned
//! with (a poisoned inputs tag every later plan would reuse).

use serde_json::{Value, json};

use crate::env::{Env, bake, buildkit_socket, digest, docker, layers, ok, stackplan, unique};
use crate::support::{Repo, Stack, on_base_image};

/// `root` on the base image, and `kid` on `root` through `ARG BASE_IMAGE` (stackplan sets
/// it to root's ref of the run, so the bake file names no context for a kept root today).
fn stack(nonce: &str) -> Repo {
    Stack::new()
        .image(
            "root",
            "ghcr.io/pin/root",
            None,
            &on_base_image(&format!("RUN echo root {nonce} > /r\n")),
        )
        .image(
            "kid",
            "ghcr.io/pin/kid",
            Some("root"),
            &on_base_image(&format!("RUN echo kid {nonce} > /k\n")),
        )
        .repo()
}

/// Whether `image`'s layers start with all of `parent`'s: it was built on `parent`.
#[track_caller]
fn built_on(image: &str, parent: &[String]) {
    let own = layers(image);
    assert!(
        own.len() > parent.len() && own[..parent.len()] == *parent,
        "{image} is not built on the planned parent:\n  its layers {own:?}\n  the parent's {parent:?}"
    );
}

#[test]
fn a_child_builds_on_the_parent_digest_the_plan_saw_when_the_tag_moves_before_the_build() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let ns = env.namespace("pinnedparent");
    let repo = stack(&nonce);
    let base = format!("BASE_IMAGE={}", env.base_image);
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![
            command,
            "--registry",
            &ns,
            "--build-arg",
            &base,
            "--branch",
            "dev",
        ];
        args.extend_from_slice(extra);
        stackplan(&repo, &args, None)
    };

    // Both built and pushed, under their branch and inputs tags.
    let file = ok(&run("bake", &["--push", "--full"]));
    let baked = bake(&repo, &file, None);
    assert!(baked.success, "bake failed:\n{}", baked.stderr);
    let root_ref = format!("{ns}/root:1-dev");
    let kid_ref = format!("{ns}/kid:1-dev");
    let planned = digest(&root_ref).expect("root was pushed");
    let planned_layers = layers(&root_ref);

    // kid changes; root is kept: the plan reads it by the digest its tag has now.
    repo.append(
        "images/kid/Dockerfile",
        &format!("RUN echo second {nonce} >> /k\n"),
    );
    let changed = ["--changed", "images/kid/Dockerfile"];
    let out = run("bake", &[&["--push"][..], &changed].concat());
    let file = ok(&out);
    let status = String::from_utf8_lossy(&out.stderr);
    // root's and kid's branch tags exist, and root's inputs tag (kid's new inputs do not).
    assert!(
        status.contains("(1 of 2 inputs tags)"),
        "the registry line counts the inputs tags:\n{status}"
    );
    let pinned = format!("{root_ref}@{planned}");
    let bake_file: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(bake_file["group"]["default"]["targets"], json!(["kid"]));
    assert_eq!(
        bake_file["target"]["kid"]["contexts"],
        json!({ root_ref.as_str(): format!("docker-image://{pinned}") }),
        "{file}"
    );
    let text = ok(&run("plan", &changed));
    assert!(
        text.contains(&format!("kept   at {pinned}: it already has inputs")),
        "{text}"
    );
    // `stackplan build` asks BuildKit for the same parent, and the same platform.
    let solves: Value = serde_json::from_str(&ok(&run(
        "build",
        &[
            &["--addr", &buildkit_socket(), "--push", "--dry-run"][..],
            &changed,
        ]
        .concat(),
    )))
    .unwrap();
    let kid = solves
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["target"] == "kid")
        .expect("kid is solved");
    let attrs = &kid["frontend"]["frontend_attrs"];
    assert_eq!(
        attrs[format!("context:{root_ref}")],
        format!("docker-image://{pinned}"),
        "{kid:#}"
    );
    assert_eq!(
        attrs["platform"],
        bake_file["target"]["kid"]["platforms"][0]
    );

    // Another pipeline on the branch moves root's tag before this bake runs.
    docker(&["pull", "-q", &env.base_image]);
    docker(&["tag", &env.base_image, &root_ref]);
    docker(&["push", "-q", &root_ref]);
    assert_ne!(digest(&root_ref).as_deref(), Some(planned.as_str()));
    let baked = bake(&repo, &file, None);
    assert!(baked.success, "bake failed:\n{}", baked.stderr);
    built_on(&kid_ref, &planned_layers);

    // Through BuildKit's API: the tag still moved, so root is reused from its inputs tag,
    // by digest, and kid (changed again) is built on it.
    repo.append(
        "images/kid/Dockerfile",
        &format!("RUN echo third {nonce} >> /k\n"),
    );
    ok(&run(
        "build",
        &[
            &[
                "--addr",
                &buildkit_socket(),
                "--push",
                "--progress",
                "plain",
            ][..],
            &changed,
        ]
        .concat(),
    ));
    built_on(&kid_ref, &planned_layers);
    assert_eq!(
        digest(&root_ref),
        Some(planned),
        "reuse wrote root's tag back"
    );
}
