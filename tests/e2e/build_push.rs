//! `stackplan build` and the registry: a parent whose push is refused takes its descendants
//! down with it, and `--push-by-digest` moves no tag until `stackplan publish`.

use crate::env::{Env, buildkit_socket, digest, stackplan, unique};
use crate::support::{Repo, Stack, on_base_image, text};

/// root → {a, b}; a → a1; and `solo` on its own. Every child is `FROM ${BASE_IMAGE}`
/// (stackplan sets it to the parent's ref). `root` lives at `root_repo`, the others under
/// `ns`.
fn stack(nonce: &str, root_repo: &str, ns: &str) -> Repo {
    let run = |key: &str, to: &str| on_base_image(&format!("RUN echo {key} {nonce} {to} /l\n"));
    Stack::new()
        .image("root", root_repo, None, &run("root", ">"))
        .image("solo", &format!("{ns}/solo"), None, &run("solo", ">"))
        .tree(|key| format!("{ns}/{key}"), |key, _| run(key, ">>"))
        .repo()
}

/// The summary line of `name` in the output.
fn line(all: &str, name: &str) -> String {
    all.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no summary line for {name}: {all}"))
        .to_string()
}

#[test]
fn a_parent_whose_push_is_refused_fails_its_descendants_and_they_push_nothing() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let ns = env.namespace("pushrefused");
    // Nothing listens on port 9: root builds (its children build on its result, in the same
    // graph) but its push is refused.
    let repo = stack(
        &nonce,
        &format!("127.0.0.1:9/pushrefused-{nonce}/root"),
        &ns,
    );
    repo.branch("refused");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let addr = buildkit_socket();
    let out = stackplan(
        &repo,
        &[
            "build",
            "--addr",
            &addr,
            "--push",
            "--offline",
            "--full",
            "--build-arg",
            &base,
            "--progress",
            "plain",
        ],
        None,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 target(s) failed (root), 3 skipped because of them, 1 succeeded"),
        "{all}"
    );
    assert!(line(&all, "root").contains("FAILED"), "{all}");
    for key in ["a", "b", "a1"] {
        assert!(line(&all, key).contains("because root failed"), "{all}");
        assert_eq!(
            digest(&format!("{ns}/{key}:1-refused")),
            None,
            "{key} was pushed though its parent was not: {all}"
        );
    }
    assert!(line(&all, "solo").contains("succeeded"), "{all}");
    assert!(digest(&format!("{ns}/solo:1-refused")).is_some(), "{all}");

    // By digest: the same failure, no digest recorded for root and its descendants, and
    // publish moves nothing.
    repo.branch("refusedbydigest");
    let flags = ["--offline", "--full", "--build-arg", base.as_str()];
    let mut args = vec![
        "build",
        "--addr",
        &addr,
        "--push-by-digest",
        "--metadata-file",
        "meta.json",
    ];
    args.extend_from_slice(&flags);
    let out = stackplan(&repo, &args, None);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 target(s) failed (root), 3 skipped because of them, 1 succeeded"),
        "{all}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("meta.json")).unwrap())
            .unwrap();
    let recorded: Vec<&String> = meta.as_object().unwrap().keys().collect();
    assert_eq!(recorded, ["solo"], "{meta}");
    let mut args = vec!["publish", "--metadata", "meta.json"];
    args.extend_from_slice(&flags);
    let published = stackplan(&repo, &args, None);
    assert_eq!(published.status.code(), Some(1), "{}", text(&published));
    assert!(
        text(&published).contains("nothing was published"),
        "{}",
        text(&published)
    );
    for key in ["solo", "a", "b", "a1"] {
        assert_eq!(
            digest(&format!("{ns}/{key}:1-refusedbydigest")),
            None,
            "{key}"
        );
    }
}

/// Runs `stackplan build --push-by-digest` at `addr`, checks that no tag moved and that
/// every target has a digest in the metadata file, then publishes: every tag moves to its
/// target's digest. Returns the build's output.
fn build_by_digest_then_publish(env: &Env, addr: &str, branch: &str) -> String {
    let nonce = unique();
    let ns = env.namespace(branch);
    let repo = stack(&nonce, &format!("{ns}/root"), &ns);
    repo.branch(branch);
    let base = format!("BASE_IMAGE={}", env.base_image);
    let flags = ["--offline", "--full", "--build-arg", base.as_str()];
    let mut args = vec![
        "build",
        "--addr",
        addr,
        "--push-by-digest",
        "--metadata-file",
        "meta.json",
        "--progress",
        "plain",
    ];
    args.extend_from_slice(&flags);
    let out = stackplan(&repo, &args, None);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("meta.json")).unwrap())
            .unwrap();
    let keys = ["root", "a", "b", "a1", "solo"];
    let mut pushed = Vec::new();
    for key in keys {
        let tag = format!("{ns}/{key}:1-{branch}");
        assert_eq!(digest(&tag), None, "{tag} moved before publish: {all}");
        let d = meta[key]["containerimage.digest"]
            .as_str()
            .unwrap_or_else(|| panic!("no digest of {key} in {meta}"))
            .to_string();
        assert!(
            digest(&format!("{ns}/{key}@{d}")).is_some(),
            "{key}@{d} is not in the registry"
        );
        pushed.push((tag, d));
    }
    let mut args = vec!["publish", "--metadata", "meta.json"];
    args.extend_from_slice(&flags);
    let published = stackplan(&repo, &args, None);
    assert!(published.status.success(), "{}", text(&published));
    for (tag, d) in &pushed {
        assert_eq!(digest(tag).as_ref(), Some(d), "{tag}");
    }
    // a1 is built on a, on root (each found by its digest, or in the same graph).
    let a1 = &pushed[3].0;
    let run = std::process::Command::new("docker")
        .args(["run", "--rm", a1, "cat", "/l"])
        .output()
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", "-f", a1])
        .output();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        format!("root {nonce}\na {nonce}\na1 {nonce}\n"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    all
}

#[test]
fn push_by_digest_moves_no_tag_until_publish_moves_them_all() {
    let Some(env) = Env::require() else { return };
    let all = build_by_digest_then_publish(&env, &buildkit_socket(), "bydigest");
    assert!(!all.contains("each target is solved on its own"), "{all}");
}

#[test]
fn without_a_gateway_each_target_is_solved_on_its_own_and_says_so() {
    let Some(env) = Env::require() else { return };
    let front = crate::no_gateway::start(&buildkit_socket());
    let all = build_by_digest_then_publish(&env, &front.addr, "nogateway");
    assert!(
        all.contains("it serves no gateway API (LLBBridge); each target is solved on its own"),
        "{all}"
    );
}
