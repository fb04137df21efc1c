//! How the planner reads Dockerfiles, seen through `plan --format json` and `bake`: the
//! `ADD` sources BuildKit fetches (expanded with their stage's variables), heredocs, a
//! byte-order mark, and the `# syntax=` frontend. Offline, over a root built `FROM scratch`,
//! so a target is pinned unless the Dockerfile reads something nothing pins.

use crate::support::Repo;

const SPEC: &str = "tag: {prefix: '1'}\nimages:\n  root:\n    image_name: ghcr.io/o/root\n";

/// The one target of a stack whose root has `dockerfile`.
fn target(dockerfile: &str) -> serde_json::Value {
    let repo = Repo::with_files(&[
        ("images/spec.yml", SPEC),
        ("images/root/Dockerfile", dockerfile),
        ("images/root/files/a", "a\n"),
    ]);
    let run = repo.run(&["plan", "--format", "json", "--full"]);
    run.success();
    let targets = run.json()["targets"].clone();
    assert_eq!(targets.as_array().unwrap().len(), 1, "{targets:#}");
    targets[0].clone()
}

fn unpinned(t: &serde_json::Value) -> Vec<String> {
    t["inputs"]["unpinned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

fn bases(t: &serde_json::Value) -> Vec<String> {
    t["inputs"]["bases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reference"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_add_of_a_variable_url_unpins_the_target() {
    let local = target("FROM scratch\nARG SRC=files\nADD ${SRC}/a /a\n");
    assert_eq!(local["inputs"]["pinned"], true, "{local:#}");
    for dockerfile in [
        "FROM scratch\nARG URL=https://example.com/x.tgz\nADD ${URL} /x\n",
        "FROM scratch\nENV U=https://example.com/x.tgz\nADD $U /x\n",
        "ARG URL=https://example.com/x.tgz\nFROM scratch\nARG URL\nADD $URL /x\n",
    ] {
        let t = target(dockerfile);
        assert_eq!(t["inputs"]["pinned"], false, "{dockerfile}: {t:#}");
        assert_eq!(
            unpinned(&t),
            ["ADD https://example.com/x.tgz has no --checksum"],
            "{dockerfile}"
        );
    }
    let t = target("FROM scratch\nADD deploy@git.example:o/r.git /r\n");
    assert_eq!(
        unpinned(&t),
        ["ADD deploy@git.example:o/r.git has no --checksum"]
    );
}

#[test]
fn what_follows_a_false_heredoc_is_read() {
    let t = target(
        "FROM scratch\nRUN echo \"<<EOF\"\nLABEL x=\"<<EOT\"\nRUN echo $((1<<2))\nFROM ghcr.io/o/later:1\nADD https://example.com/after.tgz /x\n",
    );
    assert_eq!(bases(&t), ["ghcr.io/o/later:1"], "{t:#}");
    let reasons = unpinned(&t);
    assert!(
        reasons.contains(&"ADD https://example.com/after.tgz has no --checksum".to_string()),
        "{reasons:?}"
    );
}

#[test]
fn a_dockerfile_with_a_byte_order_mark_parses() {
    let t = target("\u{feff}FROM scratch\nCOPY files /files\n");
    assert_eq!(t["inputs"]["pinned"], true, "{t:#}");
}

#[test]
fn the_syntax_frontend_is_an_external_image() {
    // By tag, offline: a base of the target, not resolved, so the target is unpinned and
    // no `BUILDKIT_SYNTAX` is written.
    let t = target("# syntax=docker/dockerfile:1.7\nFROM scratch\n");
    assert_eq!(bases(&t), ["docker.io/docker/dockerfile:1.7"], "{t:#}");
    assert_eq!(t["inputs"]["pinned"], false);
    assert_eq!(t["build_args"].get("BUILDKIT_SYNTAX"), None, "{t:#}");
    // By digest: pinned as written, nothing to add.
    let digest = format!("sha256:{}", "a".repeat(64));
    let t = target(&format!(
        "# syntax=docker/dockerfile@{digest}\nFROM scratch\n"
    ));
    assert_eq!(t["inputs"]["bases"][0]["digest"], digest.as_str(), "{t:#}");
    assert_eq!(t["inputs"]["pinned"], true, "{t:#}");
    assert_eq!(t["build_args"].get("BUILDKIT_SYNTAX"), None, "{t:#}");
}

#[test]
fn an_onbuild_trigger_of_a_url_unpins_the_image_that_declares_it() {
    let t = target("FROM scratch\nONBUILD ADD https://example.com/t.tgz /t\n");
    assert_eq!(
        unpinned(&t),
        ["ADD https://example.com/t.tgz (ONBUILD) has no --checksum"],
        "{t:#}"
    );
    let t = target("FROM scratch\nONBUILD COPY --from=ghcr.io/o/tools:1 /a /a\n");
    assert_eq!(bases(&t), ["ghcr.io/o/tools:1"], "{t:#}");
}
