//! Inputs digests through the binary: what changes a target's digest and what does not,
//! over fixture repositories. Offline, so every digest is unpinned (the external base is
//! not resolved) but still computed from the same ingredients.

use std::collections::BTreeMap;

use crate::support::{Repo, stackplan_command};

/// `target → inputs digest` of the example stack in `repo`.
fn digests(repo: &Repo, extra: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["plan", "--format", "json", "--changed", "x"];
    args.extend_from_slice(extra);
    let run = repo.run(&args);
    run.success();
    run.json()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["inputs"]["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The targets whose digest differs between two runs.
fn moved(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

const ALL: [&str; 5] = [
    "base-notebook-py311",
    "base-notebook-py39",
    "rstudio-notebook-py311",
    "scipy-notebook-py311",
    "scipy-notebook-py39",
];

#[test]
fn digests_are_the_same_in_every_clone_on_every_branch_and_prefix() {
    let a = Repo::example();
    let b = Repo::example();
    let first = digests(&a, &["--branch", "x"]);
    assert!(
        first
            .values()
            .all(|d| d.starts_with("sha256:") && d.len() == 71)
    );
    assert_eq!(first, digests(&b, &["--branch", "x"]), "another clone");
    assert_eq!(first, digests(&a, &["--branch", "other"]), "another branch");
    assert_eq!(
        first,
        digests(&a, &["--branch", "x", "--registry", "localhost:5000/fork"]),
        "another registry"
    );
    let spec = std::fs::read_to_string(a.path().join("images/spec.yml")).unwrap();
    b.write(
        "images/spec.yml",
        &spec.replace("prefix: \"2026.3\"", "prefix: \"2027.1\""),
    );
    assert_eq!(first, digests(&b, &["--branch", "x"]), "another tag prefix");
    // Committed or not, the same bytes give the same digest.
    b.write("images/spec.yml", &spec);
    b.write("images/base-notebook/scripts/extra", "x\n");
    let uncommitted = digests(&b, &[]);
    b.commit("extra");
    assert_eq!(uncommitted, digests(&b, &[]));
}

#[test]
fn a_byte_an_executable_bit_or_a_build_arg_moves_the_image_and_its_descendants() {
    let repo = Repo::example();
    let before = digests(&repo, &[]);

    repo.append("images/scipy-notebook/test/test_scipy.sh", "#\n");
    let after = digests(&repo, &[]);
    assert_eq!(
        moved(&before, &after),
        ["scipy-notebook-py311", "scipy-notebook-py39"]
    );

    let repo = Repo::example();
    let script = repo.path().join("images/base-notebook/scripts/stack-info");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(mode ^ 0o111)).unwrap();
    assert_eq!(
        moved(&before, &digests(&repo, &[])),
        ALL,
        "a parent's file moves every child"
    );

    let repo = Repo::example();
    let with_arg = digests(&repo, &["--build-arg", "PYTHON_VERSION=3.12"]);
    assert_eq!(moved(&before, &with_arg), ALL);
}

#[test]
fn files_outside_the_context_do_not_move_the_digest() {
    let repo = Repo::example();
    let before = digests(&repo, &[]);
    repo.append("images/tests_common/test_common.sh", "echo more\n");
    repo.write("README.md", "# readme\n");
    repo.append("images/change_ignore.json", "\n");
    assert_eq!(moved(&before, &digests(&repo, &[])), Vec::<String>::new());
}

#[test]
fn a_dockerignored_file_does_not_move_the_digest() {
    let repo = Repo::example();
    repo.write("images/rstudio-notebook/.dockerignore", "notes/\n*.log\n")
        .commit("ignore notes");
    let before = digests(&repo, &[]);
    repo.write("images/rstudio-notebook/notes/todo.txt", "later\n");
    repo.write("images/rstudio-notebook/build.log", "x\n");
    assert_eq!(moved(&before, &digests(&repo, &[])), Vec::<String>::new());
    repo.write("images/rstudio-notebook/kept.txt", "x\n");
    assert_eq!(
        moved(&before, &digests(&repo, &[])),
        ["rstudio-notebook-py311"]
    );
}

#[test]
fn offline_inputs_are_unpinned_and_carry_no_inputs_tag() {
    let repo = Repo::example();
    let run = repo.run(&[
        "plan",
        "--format",
        "json",
        "--changed",
        "images/base-notebook/Dockerfile",
    ]);
    run.success();
    for t in run.json()["targets"].as_array().unwrap() {
        assert_eq!(t["inputs"]["pinned"], false, "{t:#}");
        assert_eq!(t["inputs"]["tag"], serde_json::Value::Null);
        assert_eq!(
            t["tags"].as_array().unwrap().len(),
            1,
            "no inputs tag offline"
        );
        assert_eq!(
            t["action"],
            if t["rebuild"] == true {
                "build"
            } else {
                "none"
            }
        );
    }
}

/// Offline, a stack whose root builds from nothing pins: `bake` (which reads contexts only
/// when a target can pin) tags and labels every target with the digest `plan --format json`
/// (which always reads them) reports; a file in a context moves it.
#[test]
fn offline_a_stack_that_pins_bakes_the_digests_the_plan_reports() {
    let repo = Repo::with_files(&[
        (
            "images/spec.yml",
            "tag: {prefix: '1'}\nimages:\n  root:\n    image_name: ghcr.io/o/root\n  child:\n    image_name: ghcr.io/o/child\n    depend_on: root\n",
        ),
        ("images/root/Dockerfile", "FROM scratch\nCOPY a /a\n"),
        ("images/root/a", "1\n"),
        (
            "images/child/Dockerfile",
            "ARG BASE_TAG=latest\nFROM ghcr.io/o/root:${BASE_TAG}\n",
        ),
    ]);
    let baked = |repo: &Repo| -> BTreeMap<String, (String, serde_json::Value)> {
        let plan = repo.run(&["plan", "--format", "json", "--full"]);
        let plan = plan.success().json();
        let bake = repo.run(&["bake", "--full"]);
        let bake = bake.success().json();
        plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let name = t["name"].as_str().unwrap().to_string();
                assert_eq!(t["inputs"]["pinned"], true, "{t:#}");
                let digest = t["inputs"]["digest"].as_str().unwrap().to_string();
                let target = bake["target"][&name].clone();
                assert_eq!(
                    target["labels"]["dev.stackplan.inputs.digest"], digest,
                    "{target:#}"
                );
                (name, (digest, target["tags"].clone()))
            })
            .collect()
    };
    let before = baked(&repo);
    assert_eq!(before.len(), 2);
    for (name, (digest, tags)) in &before {
        let hex = digest.trim_start_matches("sha256:");
        assert_eq!(
            tags[1],
            format!("ghcr.io/o/{name}:inputs-{hex}"),
            "the inputs tag of {name}"
        );
    }
    repo.write("images/root/a", "2\n");
    let after = baked(&repo);
    for name in ["root", "child"] {
        assert_ne!(
            before[name].0, after[name].0,
            "{name} moves with root's context"
        );
    }
}

/// A root built from files only and a child on it: both pin offline.
fn pinning_stack(root_platforms: &str) -> Repo {
    Repo::with_files(&[
        (
            "images/spec.yml",
            format!(
                "tag: {{prefix: '1'}}\nimages:\n  root:\n    image_name: ghcr.io/o/root\n{root_platforms}  child:\n    image_name: ghcr.io/o/child\n    depend_on: root\n"
            )
            .as_str(),
        ),
        ("images/root/Dockerfile", "FROM scratch\nCOPY a /a\n"),
        ("images/root/a", "1\n"),
        (
            "images/child/Dockerfile",
            "ARG BASE_TAG=latest\nFROM ghcr.io/o/root:${BASE_TAG}\n",
        ),
    ])
}

/// `target → (platforms, inputs digest label)` of the bake file.
fn baked_platforms(repo: &Repo, extra: &[&str]) -> BTreeMap<String, (serde_json::Value, String)> {
    let mut args = vec!["bake", "--full"];
    args.extend_from_slice(extra);
    let run = repo.run(&args);
    let bake = run.success().json();
    bake["target"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, t)| {
            let digest = t["labels"]["dev.stackplan.inputs.digest"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} is pinned: {t:#}"))
                .to_string();
            (name.clone(), (t["platforms"].clone(), digest))
        })
        .collect()
}

/// This machine's platform as BuildKit names it.
fn host_platform() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("linux/amd64"),
        "aarch64" => Some("linux/arm64"),
        _ => None,
    }
}

#[test]
fn the_platform_built_is_the_platform_hashed() {
    let repo = pinning_stack("");
    let amd64 = baked_platforms(&repo, &["--platform", "linux/amd64"]);
    let arm64 = baked_platforms(&repo, &["--platform", "linux/arm64"]);
    assert_eq!(amd64.len(), 2);
    for name in ["root", "child"] {
        assert_eq!(amd64[name].0, serde_json::json!(["linux/amd64"]), "{name}");
        assert_eq!(arm64[name].0, serde_json::json!(["linux/arm64"]), "{name}");
        // An amd64 runner and an arm64 laptop never share a digest.
        assert_ne!(amd64[name].1, arm64[name].1, "{name}");
    }
    // The environment says the same as the flag.
    let run = {
        stackplan_command(repo.path())
            .args(["bake", "--full", "--offline", "--branch", "main"])
            .env("STACKPLAN_PLATFORM", "linux/arm64")
            .output()
            .unwrap()
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let by_env: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        by_env["target"]["child"]["labels"]["dev.stackplan.inputs.digest"],
        arm64["child"].1.as_str()
    );
    // Without either, this machine's platform.
    let native = baked_platforms(&repo, &[]);
    if let Some(host) = host_platform() {
        assert_eq!(native["root"].0, serde_json::json!([host]));
        let same = if host == "linux/amd64" {
            &amd64
        } else {
            &arm64
        };
        assert_eq!(native["child"].1, same["child"].1);
    }
}

#[test]
fn spec_platforms_are_kept_whatever_the_default() {
    let repo = pinning_stack("    platforms: [linux/amd64, linux/arm64]\n");
    let amd64 = baked_platforms(&repo, &["--platform", "linux/amd64"]);
    let arm64 = baked_platforms(&repo, &["--platform", "linux/arm64"]);
    let both = serde_json::json!(["linux/amd64", "linux/arm64"]);
    assert_eq!((&amd64["root"].0, &arm64["root"].0), (&both, &both));
    assert_eq!(amd64["root"].1, arm64["root"].1);
    // The child names none: it is built, and hashed, for the default.
    assert_ne!(amd64["child"].1, arm64["child"].1);
}

#[test]
fn a_platform_that_is_not_one_is_refused() {
    let repo = pinning_stack("");
    for bad in ["amd64", "linux/amd64,linux/arm64", "Linux/AMD64"] {
        repo.run(&["bake", "--platform", bad]).fails_with(&[
            "--platform",
            bad,
            "OS/ARCH[/VARIANT]",
            "linux/amd64",
        ]);
    }
}
