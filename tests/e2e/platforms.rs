//! A stack built for several platforms: one image index per target, each platform of a
//! child built on the same platform of its parent in one BuildKit graph, and promotion
//! copying the index whole. The images are `COPY`s on `scratch`, so building `linux/arm64`
//! needs no emulator on this machine.

use crate::env::{
    Env, buildkit_socket, digest, layers_of, ok, promote_args, raw_manifest, stackplan, text,
    unique,
};
use crate::support::Repo;

/// `base` (files only) and `kid` on it through `ARG BASE_IMAGE`, both for two platforms.
fn stack(nonce: &str) -> Repo {
    let spec = "tag: {prefix: '1'}\nimages:\n  base:\n    image_name: ghcr.io/p/base\n    platforms: [linux/amd64, linux/arm64]\n  kid:\n    image_name: ghcr.io/p/kid\n    depend_on: base\n    platforms: [linux/amd64, linux/arm64]\n";
    Repo::with_files(&[
        ("images/spec.yml", spec),
        (
            "images/base/Dockerfile",
            "FROM scratch\nCOPY a.txt /a.txt\n",
        ),
        ("images/base/a.txt", nonce),
        (
            "images/kid/Dockerfile",
            "ARG BASE_IMAGE=placeholder\nFROM ${BASE_IMAGE}\nCOPY b.txt /b.txt\n",
        ),
        ("images/kid/b.txt", nonce),
    ])
}

/// The image manifest of each platform of the index at `reference`, by architecture.
fn per_platform(reference: &str) -> Vec<(String, serde_json::Value)> {
    let index = raw_manifest(reference).unwrap_or_else(|| panic!("{reference} was not pushed"));
    let entries = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{reference} is not an index: {index}"));
    let repository = reference.rsplit_once(':').unwrap().0;
    let mut out: Vec<(String, serde_json::Value)> = entries
        .iter()
        .map(|e| {
            let arch = e["platform"]["architecture"].as_str().unwrap().to_string();
            let image =
                raw_manifest(&format!("{repository}@{}", e["digest"].as_str().unwrap())).unwrap();
            (arch, image)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_multi_platform_stack_builds_in_one_graph_and_promotes_as_an_index() {
    let Some(env) = Env::require() else { return };
    let repo = stack(&unique());
    let ns = env.namespace("platforms");
    // Without push, under a registry where nothing listens: it can only succeed in-graph.
    let out = stackplan(
        &repo,
        &[
            "build",
            "--full",
            "--offline",
            "--addr",
            &buildkit_socket(),
            "--registry",
            "127.0.0.1:9/nothing",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = stackplan(
        &repo,
        &[
            "build",
            "--full",
            "--addr",
            &buildkit_socket(),
            "--registry",
            &ns,
            "--push",
            "--progress",
            "plain",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(
        !log.contains(&format!("load metadata for {ns}/base")),
        "the child reads its parent from the graph, not from the registry:\n{log}"
    );

    let base = per_platform(&format!("{ns}/base:1-main"));
    let kid = per_platform(&format!("{ns}/kid:1-main"));
    let arches =
        |v: &[(String, serde_json::Value)]| v.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>();
    assert_eq!(arches(&base), ["amd64", "arm64"]);
    assert_eq!(arches(&kid), ["amd64", "arm64"]);
    for ((arch, parent), (_, child)) in base.iter().zip(&kid) {
        let (parent, child) = (layers_of(parent), layers_of(child));
        assert_eq!(child.len(), 2, "{arch}: the parent's layer and its own");
        assert_eq!(
            child[0], parent[0],
            "{arch}: built on the same platform of its parent"
        );
    }

    ok(&stackplan(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-stable", &[]),
        None,
    ));
    for image in ["base", "kid"] {
        let built = digest(&format!("{ns}/{image}:1-main")).unwrap();
        assert_eq!(
            digest(&format!("{ns}/{image}:1-stable")).as_deref(),
            Some(built.as_str()),
            "{image}: the index is promoted whole"
        );
    }
}
