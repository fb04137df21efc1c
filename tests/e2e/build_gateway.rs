//! `stackplan build` through BuildKit's gateway: children chained to their parent's result
//! in one graph (no push needed), file sync of large contexts with `.dockerignore`, and
//! parity with the bake file's build of the same plan.

use std::process::Command;

use crate::env::{
    Env, bake, build_offline, buildkit_socket, config, docker, events, layers, manifest, stackplan,
    text, unique,
};
use crate::support::{Repo, Stack, on_base_image};

/// An empty BuildKit cache, as a fresh builder has.
fn cold() {
    docker(&["buildx", "prune", "-af"]);
}

#[test]
fn the_example_stack_builds_without_push_on_a_plain_buildkit_socket() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("nopush");
    let ns = env.namespace("nopush");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let addr = buildkit_socket();
    let out = stackplan(
        &repo,
        &[
            "build",
            "--addr",
            &addr,
            "--registry",
            &ns,
            "--build-arg",
            &base,
            "--progress",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let events = events(&out);
    let finished: Vec<_> = events.iter().filter(|e| e["event"] == "finished").collect();
    assert_eq!(finished.len(), 5, "{}", text(&out));
    assert!(finished.iter().all(|e| e["state"] == "succeeded"));
    // Each RUN is shown once, under its own target, though the children's streams carry
    // their parent's steps too.
    let runs: Vec<(String, String)> = events
        .iter()
        .filter(|e| {
            e["event"] == "vertex" && e["name"].as_str().is_some_and(|n| n.contains("] RUN "))
        })
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(runs.len(), 5, "{runs:?}");
    for (target, name) in &runs {
        let own = if target.starts_with("base-notebook") {
            "base layer"
        } else if target.starts_with("scipy") {
            "scipy"
        } else {
            "rstudio layer"
        };
        assert!(name.contains(own), "{target} shows {name}");
    }
    assert!(
        manifest(&format!("{ns}/base-notebook:2026.3-nopush")).is_none(),
        "nothing is pushed without --push"
    );
}

/// root → {a, b}; a → a1, every child `FROM ${BASE_IMAGE}` (stackplan sets it to the
/// parent's ref).
fn base_image_stack(nonce: &str, fail_a: bool) -> Repo {
    Stack::new()
        .image(
            "root",
            "ghcr.io/g/root",
            None,
            &on_base_image(&format!("ENV FROM_ROOT=yes\nRUN echo root {nonce} > /l\n")),
        )
        .tree(
            |key| format!("ghcr.io/g/{key}"),
            |key, _| {
                let fail = if fail_a && key == "a" {
                    "RUN echo about to fail && false\n"
                } else {
                    ""
                };
                on_base_image(&format!("RUN echo {key} {nonce} $FROM_ROOT >> /l\n{fail}"))
            },
        )
        .repo()
}

#[test]
fn children_get_their_parent_in_graph_from_a_registry_where_nothing_listens() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = base_image_stack(&nonce, false);
    repo.branch("ingraph");
    // Nothing listens on port 9: a child can only get its parent from the same graph.
    let ns = format!("127.0.0.1:9/ingraph-{nonce}");
    let base = format!("BASE_IMAGE={}", env.base_image);
    for addr in [buildkit_socket(), "docker://".to_string()] {
        let out = build_offline(&repo, &addr, &ns, &base);
        assert!(out.status.success(), "{addr}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("built 4 target(s)"),
            "{addr}: {}",
            text(&out)
        );
    }
    // docker:// loaded the images into the engine: a1 sits on a on root, with root's env.
    let image = format!("{ns}/a1:1-ingraph");
    let l = docker(&["run", "--rm", &image, "cat", "/l"]);
    assert_eq!(
        l,
        format!("root {nonce}\na {nonce} yes\na1 {nonce} yes\n"),
        "{image}"
    );
    for key in ["root", "a", "b", "a1"] {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &format!("{ns}/{key}:1-ingraph")])
            .output();
    }
}

#[test]
fn a_failing_parent_fails_exactly_its_descendants_in_one_graph() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = base_image_stack(&nonce, true);
    repo.branch("ingraphfail");
    let ns = env.namespace("ingraphfail");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let addr = buildkit_socket();
    let out = build_offline(&repo, &addr, &ns, &base);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("1 target(s) failed (a), 1 skipped because of them, 2 succeeded"),
        "{all}"
    );
    let line = |name: &str| {
        all.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no summary line for {name}: {all}"))
            .to_string()
    };
    assert!(line("a").contains("FAILED"), "{all}");
    assert!(line("a1").contains("because a failed"), "{all}");
    assert!(line("b").contains("succeeded"), "{all}");
    assert!(line("root").contains("succeeded"), "{all}");
    assert!(all.contains("about to fail"), "{all}");
}

/// Bytes that do not compress, quickly.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn a_50_mib_context_streams_and_dockerignore_keeps_files_out() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = Repo::with_files(&[
        (
            "images/spec.yml",
            "tag: {prefix: '1'}\nimages:\n  big: {image_name: ghcr.io/g/big}\n",
        ),
        (
            "images/big/Dockerfile",
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY . /ctx/\n",
        ),
        ("images/big/.dockerignore", "ignored\n*.tmp\n!keep.tmp\n"),
        ("images/big/keep.tmp", "kept by the exception\n"),
        ("images/big/drop.tmp", "ignored by *.tmp\n"),
    ]);
    let dir = repo.path().join("images/big");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::create_dir_all(dir.join("ignored")).unwrap();
    for i in 0..5 {
        std::fs::write(
            dir.join(format!("data/part{i}.bin")),
            noise(10 << 20, i + 7),
        )
        .unwrap();
    }
    std::fs::write(dir.join("ignored/secret.bin"), noise(5 << 20, 99)).unwrap();
    repo.commit("a large context");
    repo.branch("big");
    let ns = format!("{}/e2e-big-{nonce}", env.registry);
    let base = format!("BASE_IMAGE={}", env.base_image);
    let out = build_offline(&repo, "docker://", &ns, &base);
    assert!(out.status.success(), "{}", text(&out));
    let image = format!("{ns}/big:1-big");
    let listing = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "cd /ctx && find . -type f | sort && cat data/*.bin | wc -c",
    ]);
    assert_eq!(
        listing,
        "./.dockerignore\n./Dockerfile\n./data/part0.bin\n./data/part1.bin\n./data/part2.bin\n./data/part3.bin\n./data/part4.bin\n./keep.tmp\n52428800\n",
        "{image}"
    );
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", &image])
        .output();
}

/// A layer's entries as `tar -tvz` lists them (mode, owner, size, name), with the time of
/// each file and symlink too when `times`: a directory that `COPY` creates above its files
/// gets the time of the build, and so do the files a `RUN` writes.
fn entries(reference: &str, digest: &str, times: bool) -> Vec<String> {
    let (host, rest) = reference.split_once('/').unwrap();
    let name = rest.rsplit_once(':').unwrap().0;
    let url = format!("http://{host}/v2/{name}/blobs/{digest}");
    let out = Command::new("sh")
        .args(["-c", &format!("curl -sf {url} | tar -tvz --full-time")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{url}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let keep_time = times && !f[0].starts_with('d');
            let time = if keep_time {
                format!("{} {}", f[3], f[4])
            } else {
                String::new()
            };
            format!("{} {} {} {time} {}", f[0], f[1], f[2], f[5..].join(" "))
        })
        .collect()
}

/// What two cold builds of the same checkout must agree on: every layer's entries (with the
/// files' times, except in `RUN` layers), the layers that are identical (the base image's),
/// and the config but for the layers' ids and the times (of the image, of each step, in the
/// inline cache record).
fn comparable(reference: &str) -> (Vec<Vec<String>>, serde_json::Value) {
    let mut cfg = config(reference);
    let all = layers(reference);
    let history: Vec<serde_json::Value> = cfg["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h["empty_layer"] != true)
        .collect();
    assert_eq!(history.len(), all.len(), "{reference}: {cfg}");
    let listed = all
        .iter()
        .zip(&history)
        .map(|(l, h)| {
            let by = h["created_by"].as_str().unwrap_or_default();
            if by.starts_with("RUN ") || by.contains("COPY") {
                entries(reference, l, !by.starts_with("RUN "))
            } else {
                vec![l.clone()]
            }
        })
        .collect();
    let cfg = cfg.as_object_mut().unwrap();
    cfg.remove("rootfs");
    // When each step was made.
    cfg.remove("created");
    for h in cfg
        .get_mut("history")
        .and_then(|h| h.as_array_mut())
        .into_iter()
        .flatten()
    {
        h.as_object_mut().unwrap().remove("created");
    }
    // The inline cache record: the same graph (each step's cache key and inputs). Which
    // steps it maps to a layer of this image is left out: a step two targets of one build
    // share (base-notebook's `COPY` in both plans) is mapped in whichever image BuildKit
    // exported it for first, which depends on timing, in a bake as in `stackplan build`.
    if let Some(cache) = cfg.remove("moby.buildkit.cache.v0") {
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(cache.as_str().unwrap_or_default())
            .unwrap();
        let text = String::from_utf8(raw).unwrap();
        let mut record: serde_json::Value = serde_json::from_str(&text).unwrap();
        for entry in record.as_array_mut().into_iter().flatten() {
            entry.as_object_mut().unwrap().remove("layers");
        }
        cfg.insert("moby.buildkit.cache.v0".into(), record);
    }
    (listed, serde_json::Value::Object(cfg.clone()))
}

#[test]
fn stackplan_build_push_gives_the_bakes_layers_and_config() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("parity");
    let nonce = unique();
    let (ns_bake, ns_grpc) = (
        format!("{}/e2e-parity-bake-{nonce}", env.registry),
        format!("{}/e2e-parity-grpc-{nonce}", env.registry),
    );
    let base = format!("BASE_IMAGE={}", env.base_image);
    let common = [
        "--offline",
        "--full",
        "--build-arg",
        &base,
        "--revision=",
        "--source-url=",
    ];

    cold();
    let mut args = vec!["bake", "--push", "--registry", &ns_bake];
    args.extend_from_slice(&common);
    let out = stackplan(&repo, &args, None);
    assert!(out.status.success(), "{}", text(&out));
    let run = bake(&repo, &String::from_utf8_lossy(&out.stdout), None);
    assert!(run.success, "{}", run.stderr);

    cold();
    let mut args = vec![
        "build",
        "--addr",
        "docker://",
        "--push",
        "--registry",
        &ns_grpc,
    ];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--progress", "plain"]);
    let out = stackplan(&repo, &args, None);
    assert!(out.status.success(), "{}", text(&out));

    for (image, tag) in [
        ("base-notebook", "2026.3-parity"),
        ("base-notebook", "2026.3-py39-parity"),
        ("scipy-notebook", "2026.3-parity"),
        ("scipy-notebook", "2026.3-py39-parity"),
        ("rstudio-notebook", "2026.3-parity"),
    ] {
        let (bake_layers, bake_config) = comparable(&format!("{ns_bake}/{image}:{tag}"));
        let (grpc_layers, grpc_config) = comparable(&format!("{ns_grpc}/{image}:{tag}"));
        assert_eq!(grpc_layers, bake_layers, "{image}:{tag}: layers");
        assert_eq!(grpc_config, bake_config, "{image}:{tag}: config");
    }
}
