//! The stack built for real: `stackplan --push > bake.json && docker buildx bake -f bake.json`
//! against the engine and the local registry.

use crate::env::{Env, bake, layers, manifest, stackplan, unique};
use crate::support::{Repo, Stack, rebuilds};

/// A generated stack of six images, depth 3, with siblings at two levels:
/// root → {a, b}; a → {a1, a2}; a1 → a1x. Every RUN sleeps, so overlap is visible.
fn generated_stack() -> Repo {
    let mut stack = Stack::with_spec_head("root: root\ntag: {prefix: '2026.3'}\nimages:\n").image(
        "root",
        "ghcr.io/e2e/root",
        None,
        "ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\nARG NONCE\nRUN echo \"root $NONCE\" > /layers && sleep 1\n",
    );
    for (key, parent) in [
        ("a", "root"),
        ("b", "root"),
        ("a1", "a"),
        ("a2", "a"),
        ("a1x", "a1"),
    ] {
        stack = stack.image(
            key,
            &format!("ghcr.io/e2e/{key}"),
            Some(parent),
            &format!(
                "ARG BASE_TAG=latest\nFROM ghcr.io/e2e/{parent}:${{BASE_TAG}}\nARG NONCE\nRUN echo \"{key} $NONCE\" >> /layers && sleep 2\n"
            ),
        );
    }
    stack.repo()
}

/// The bake file for the repository's current state, probing the registry.
fn bake_file(repo: &Repo, env: &Env, ns: &str, nonce: &str, extra: &[&str]) -> String {
    let base = format!("BASE_IMAGE={}", env.base_image);
    let nonce = format!("NONCE={nonce}");
    let mut args = vec![
        "bake",
        "--push",
        "--registry",
        ns,
        "--build-arg",
        &base,
        "--build-arg",
        &nonce,
    ];
    args.extend_from_slice(extra);
    let out = stackplan(repo, &args, None);
    assert!(
        out.status.success(),
        "stackplan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn plan_json(repo: &Repo, ns: &str) -> serde_json::Value {
    let out = stackplan(repo, &["plan", "--format", "json", "--registry", ns], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Builds and pushes the whole generated stack on branch `feature-x`; returns the repo,
/// the namespace and the nonce.
fn built_stack(env: &Env, name: &str) -> (Repo, String, String) {
    let repo = generated_stack();
    repo.branch("feature-x");
    let ns = env.namespace(name);
    let nonce = unique();
    let run = bake(&repo, &bake_file(&repo, env, &ns, &nonce, &[]), None);
    assert!(run.success, "bake failed:\n{}", tail(&run.stderr));
    (repo, ns, nonce)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

const PARENTS: &[(&str, &str)] = &[
    ("a", "root"),
    ("b", "root"),
    ("a1", "a"),
    ("a2", "a"),
    ("a1x", "a1"),
];

#[test]
fn a_fresh_registry_gets_every_image_built_on_its_parent() {
    let Some(env) = Env::require() else { return };
    let (_repo, ns, _) = built_stack(&env, "fresh");
    for key in ["root", "a", "b", "a1", "a2", "a1x"] {
        assert!(
            manifest(&format!("{ns}/{key}:2026.3-feature-x")).is_some(),
            "{key} was not pushed"
        );
    }
    for (child, parent) in PARENTS {
        let child_layers = layers(&format!("{ns}/{child}:2026.3-feature-x"));
        let parent_layers = layers(&format!("{ns}/{parent}:2026.3-feature-x"));
        assert_eq!(
            &child_layers[..parent_layers.len()],
            &parent_layers[..],
            "{child}'s layers do not sit on {parent}'s"
        );
        assert_eq!(child_layers.len(), parent_layers.len() + 1);
    }
}

#[test]
fn the_example_stack_builds_and_pushes() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("feature-x");
    let ns = env.namespace("example");
    let run = bake(&repo, &bake_file(&repo, &env, &ns, "x", &[]), None);
    assert!(run.success, "{}", tail(&run.stderr));
    for (key, tag) in [
        ("base-notebook", "2026.3-feature-x"),
        ("base-notebook", "2026.3-py39-feature-x"),
        ("scipy-notebook", "2026.3-feature-x"),
        ("scipy-notebook", "2026.3-py39-feature-x"),
        ("rstudio-notebook", "2026.3-feature-x"),
    ] {
        assert!(
            manifest(&format!("{ns}/{key}:{tag}")).is_some(),
            "{key}:{tag} was not pushed"
        );
    }
    assert!(
        manifest(&format!("{ns}/rstudio-notebook:2026.3-py39-feature-x")).is_none(),
        "rstudio skips py39"
    );
    for target in [
        "base-notebook-py311",
        "base-notebook-py39",
        "rstudio-notebook-py311",
        "scipy-notebook-py311",
        "scipy-notebook-py39",
    ] {
        let digest = run.metadata[target]["containerimage.digest"]
            .as_str()
            .unwrap_or_default();
        assert!(digest.starts_with("sha256:"), "{target}: {}", run.metadata);
    }
    let scipy = layers(&format!("{ns}/scipy-notebook:2026.3-py39-feature-x"));
    let base = layers(&format!("{ns}/base-notebook:2026.3-py39-feature-x"));
    assert_eq!(&scipy[..base.len()], &base[..]);
}

#[test]
fn a_leaf_change_rebuilds_only_that_leaf() {
    let Some(env) = Env::require() else { return };
    let (repo, ns, nonce) = built_stack(&env, "leaf");
    let before = layers(&format!("{ns}/a2:2026.3-feature-x"));
    repo.append("images/a1x/Dockerfile", "RUN echo changed >> /layers\n")
        .commit("leaf");
    let plan = plan_json(&repo, &ns);
    assert_eq!(rebuilds(&plan), ["a1x"]);
    let run = bake(&repo, &bake_file(&repo, &env, &ns, &nonce, &[]), None);
    assert!(run.success, "{}", tail(&run.stderr));
    assert_eq!(run.built_targets(), ["a1x"]);
    let a1x = layers(&format!("{ns}/a1x:2026.3-feature-x"));
    let a1 = layers(&format!("{ns}/a1:2026.3-feature-x"));
    assert_eq!(
        &a1x[..a1.len()],
        &a1[..],
        "the rebuilt leaf sits on its parent from the registry"
    );
    assert_eq!(
        layers(&format!("{ns}/a2:2026.3-feature-x")),
        before,
        "a sibling did not move"
    );
}

/// `2026-11-25T02:30:01.5Z` → seconds since the epoch day start, with the day.
fn instant(t: &str) -> (String, f64) {
    let (day, time) = t.split_once('T').unwrap();
    let time = time.trim_end_matches('Z');
    let parts: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    (
        day.to_string(),
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2],
    )
}

#[test]
fn a_root_change_rebuilds_all_siblings_in_parallel_parents_first() {
    let Some(env) = Env::require() else { return };
    let (repo, ns, _) = built_stack(&env, "root");
    repo.append("images/root/Dockerfile", "RUN echo changed >> /layers\n")
        .commit("root");
    assert_eq!(rebuilds(&plan_json(&repo, &ns)).len(), 6);
    let run = bake(&repo, &bake_file(&repo, &env, &ns, &unique(), &[]), None);
    assert!(run.success, "{}", tail(&run.stderr));
    assert_eq!(run.built_targets(), ["a", "a1", "a1x", "a2", "b", "root"]);
    let span = |target: &str| {
        let runs = run.runs_of(target);
        assert!(!runs.is_empty(), "no RUN of {target} in the progress");
        let start = runs
            .iter()
            .map(|v| instant(v.started.as_ref().unwrap()))
            .fold(None, |m: Option<(String, f64)>, x| match m {
                Some(m) if m <= x => Some(m),
                _ => Some(x),
            });
        let end = runs
            .iter()
            .map(|v| instant(v.completed.as_ref().unwrap()))
            .fold(None, |m: Option<(String, f64)>, x| match m {
                Some(m) if m >= x => Some(m),
                _ => Some(x),
            });
        (start.unwrap(), end.unwrap())
    };
    for (child, parent) in PARENTS {
        let (child_start, _) = span(child);
        let (_, parent_end) = span(parent);
        // BuildKit reports a step's completion asynchronously, a little after its result is
        // usable (later still on a loaded machine); every step sleeps for 1 s or more, so a child
        // that had started early would be off by far more than this allowance.
        let parent_end = (parent_end.0, parent_end.1 - 0.8);
        assert!(
            child_start >= parent_end,
            "{child} started at {child_start:?}, before {parent} finished at {parent_end:?}"
        );
    }
    for (x, y) in [("a", "b"), ("a1", "a2")] {
        let (xs, xe) = span(x);
        let (ys, ye) = span(y);
        assert!(
            xs < ye && ys < xe,
            "siblings {x} ({xs:?}..{xe:?}) and {y} ({ys:?}..{ye:?}) did not overlap"
        );
    }
}

#[test]
fn a_cold_builder_hits_the_registry_cache() {
    let Some(env) = Env::require() else { return };
    let (repo, ns, nonce) = built_stack(&env, "cold");
    for args in [
        &["buildx", "prune", "-af"][..],
        &["image", "prune", "-af"][..],
    ] {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let run = bake(
        &repo,
        &bake_file(&repo, &env, &ns, &nonce, &["--full"]),
        None,
    );
    assert!(run.success, "{}", tail(&run.stderr));
    let runs: Vec<_> = run
        .vertexes
        .iter()
        .filter(|v| v.name.contains("] RUN "))
        .collect();
    assert_eq!(runs.len(), 6, "{runs:?}");
    for v in runs {
        assert!(v.cached, "not from the registry cache: {}", v.name);
    }
}

#[test]
fn a_new_branch_reuses_the_ancestors_of_a_changed_leaf() {
    let Some(env) = Env::require() else { return };
    let (repo, ns, nonce) = built_stack(&env, "newbranch");
    repo.branch("feature-y");
    repo.append("images/a1x/Dockerfile", "RUN echo y >> /layers\n")
        .commit("leaf on a new branch");
    let plan = plan_json(&repo, &ns);
    assert_eq!(
        rebuilds(&plan).len(),
        6,
        "no image carries the new branch tag yet"
    );
    let root = &plan["targets"][0];
    assert_eq!(root["reason_details"][0]["kind"], "branch_tag_missing");
    assert_eq!(
        root["registry"][format!("{ns}/root:2026.3-feature-y")],
        "missing"
    );
    // The ancestors' inputs did not change: their images are reused, only the leaf builds.
    let base = format!("BASE_IMAGE={}", env.base_image);
    let nonce_arg = format!("NONCE={nonce}");
    let reuse = stackplan(
        &repo,
        &[
            "reuse",
            "--registry",
            &ns,
            "--build-arg",
            &base,
            "--build-arg",
            &nonce_arg,
        ],
        None,
    );
    assert!(
        reuse.status.success(),
        "{}",
        String::from_utf8_lossy(&reuse.stderr)
    );
    let run = bake(&repo, &bake_file(&repo, &env, &ns, &nonce, &[]), None);
    assert!(run.success, "{}", tail(&run.stderr));
    assert_eq!(run.built_targets(), ["a1x"]);
    for key in ["root", "a", "a1", "a1x"] {
        assert!(
            manifest(&format!("{ns}/{key}:2026.3-feature-y")).is_some(),
            "{key}"
        );
    }
    let a1x = layers(&format!("{ns}/a1x:2026.3-feature-y"));
    let a1 = layers(&format!("{ns}/a1:2026.3-feature-y"));
    assert_eq!(
        &a1x[..a1.len()],
        &a1[..],
        "the leaf sits on its reused parent"
    );
}
