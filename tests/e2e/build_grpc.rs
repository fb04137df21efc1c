//! `stackplan build` against the real engine's BuildKit, over docker:// (the engine's /grpc
//! and /session) and over a plain unix socket (Control.Session), as a sidecar would be.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::env::{
    Env, docker_config, events, layers, manifest, small_stack, stackplan, text, unique,
};
use crate::support::Repo;

/// `stackplan build --push` of `repo` into `ns`.
fn build(repo: &Repo, env: &Env, addr: &str, ns: &str, extra: &[&str]) -> Output {
    let base = format!("BASE_IMAGE={}", env.base_image);
    let mut args = vec![
        "build",
        "--addr",
        addr,
        "--push",
        "--registry",
        ns,
        "--build-arg",
        &base,
    ];
    args.extend_from_slice(extra);
    stackplan(repo, &args, None)
}

/// The targets a run started solving, in order (from `--progress json`).
fn started(out: &Output) -> Vec<String> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "started")
        .map(|e| e["target"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn builds_the_example_stack_over_docker_grpc_then_fully_cached() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("grpc");
    let ns = env.namespace("grpc");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    for (image, tag) in [
        ("base-notebook", "2026.3-grpc"),
        ("base-notebook", "2026.3-py39-grpc"),
        ("scipy-notebook", "2026.3-grpc"),
        ("scipy-notebook", "2026.3-py39-grpc"),
        ("rstudio-notebook", "2026.3-grpc"),
    ] {
        assert!(
            manifest(&format!("{ns}/{image}:{tag}")).is_some(),
            "{image}:{tag} was not pushed"
        );
    }
    for (child, parent) in [
        ("scipy-notebook", "base-notebook"),
        ("rstudio-notebook", "base-notebook"),
    ] {
        let c = layers(&format!("{ns}/{child}:2026.3-grpc"));
        let p = layers(&format!("{ns}/{parent}:2026.3-grpc"));
        assert_eq!(&c[..p.len()], &p[..], "{child} does not sit on {parent}");
    }
    let finished: Vec<_> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "finished")
        .collect();
    assert_eq!(finished.len(), 5);
    assert!(finished.iter().all(|e| e["state"] == "succeeded"));

    // A second run of the same sources: every RUN step comes from the cache.
    let again = build(
        &repo,
        &env,
        "docker://",
        &ns,
        &["--progress", "json", "--full"],
    );
    assert!(again.status.success(), "{}", text(&again));
    let runs: Vec<_> = events(&again)
        .into_iter()
        .filter(|e| {
            e["event"] == "vertex" && e["name"].as_str().is_some_and(|n| n.contains("] RUN "))
        })
        .collect();
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert!(runs.iter().all(|e| e["state"] == "cached"), "{runs:?}");
}

#[test]
fn a_failing_child_fails_with_its_descendants_and_its_sibling_succeeds() {
    let Some(env) = Env::require() else { return };
    let repo = small_stack(&unique());
    repo.branch("fail");
    repo.append("images/a/Dockerfile", "RUN echo about to fail && false\n")
        .commit("break a");
    let ns = env.namespace("fail");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("1 target(s) failed (a), 1 skipped because of them, 2 succeeded"),
        "{all}"
    );
    let summary_line = |name: &str| {
        all.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no summary line for {name}: {all}"))
            .to_string()
    };
    assert!(
        summary_line("a1").contains("skipped") && summary_line("a1").contains("because a failed"),
        "{all}"
    );
    assert!(summary_line("a").contains("FAILED"), "{all}");
    assert!(summary_line("b").contains("succeeded"), "{all}");
    assert!(
        all.contains("about to fail"),
        "the failing step's output is shown: {all}"
    );
    assert!(
        manifest(&format!("{ns}/b:1-fail")).is_some(),
        "the sibling was not pushed"
    );
    assert!(manifest(&format!("{ns}/a1:1-fail")).is_none());
}

#[test]
fn only_a_changed_leaf_is_solved() {
    let Some(env) = Env::require() else { return };
    let repo = small_stack(&unique());
    repo.branch("leaf");
    let ns = env.namespace("grpcleaf");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    repo.append("images/b/Dockerfile", "RUN echo leaf >> /l\n")
        .commit("leaf");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let started = started(&out);
    assert_eq!(started, ["b"]);
}

#[test]
fn a_new_branch_reuses_what_was_built_and_solves_only_the_changed_leaf() {
    let Some(env) = Env::require() else { return };
    let repo = small_stack(&unique());
    repo.branch("first");
    let ns = env.namespace("grpcreuse");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    repo.branch("second");
    repo.append("images/b/Dockerfile", "RUN echo second >> /l\n")
        .commit("leaf on a new branch");
    let out = build(&repo, &env, "docker://", &ns, &["--progress", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let started = started(&out);
    assert_eq!(started, ["b"], "only the changed leaf is solved");
    let moved = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("moved "))
        .count();
    assert_eq!(moved, 3, "root, a and a1 are reused: {}", text(&out));
    for key in ["root", "a", "a1"] {
        assert_eq!(
            crate::env::digest(&format!("{ns}/{key}:1-second")),
            crate::env::digest(&format!("{ns}/{key}:1-first")),
            "{key} is the image built on the first branch"
        );
    }
    let b = layers(&format!("{ns}/b:1-second"));
    let root = layers(&format!("{ns}/root:1-second"));
    assert_eq!(
        &b[..root.len()],
        &root[..],
        "the leaf sits on the reused root"
    );
}

#[test]
fn a_plain_buildkit_socket_works_like_a_sidecar() {
    let Some(env) = Env::require() else { return };
    let addr = crate::env::buildkit_socket();
    let repo = small_stack(&unique());
    repo.branch("sidecar");
    let ns = env.namespace("sidecar");
    let out = build(
        &repo,
        &env,
        &addr,
        &ns,
        &["--progress", "plain", "--jobs", "1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    for key in ["root", "a", "b", "a1"] {
        assert!(
            manifest(&format!("{ns}/{key}:1-sidecar")).is_some(),
            "{key}"
        );
    }
}

#[test]
fn a_push_that_needs_a_login_uses_the_docker_credentials() {
    let Some(env) = Env::require() else { return };
    let repo = small_stack(&unique());
    repo.branch("login");
    let ns = format!("{}/e2e-login-{}", env.auth_registry, unique());
    let base = format!("BASE_IMAGE={}", env.base_image);
    let args = [
        "build",
        "--addr",
        "docker://",
        "--push",
        "--offline",
        "--full",
        "--registry",
        &ns,
        "--build-arg",
        &base,
        "--progress",
        "plain",
    ];

    let none = tempfile::tempdir().unwrap();
    let out = stackplan(&repo, &args, Some(none.path()));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("root") && all.contains("FAILED"), "{all}");
    assert!(
        all.to_lowercase().contains("unauthorized") || all.contains("401"),
        "the error says why: {all}"
    );

    let right = docker_config(&env.auth_registry, &env.user, &env.password);
    let out = stackplan(&repo, &args, Some(right.path()));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains(&env.password),
        "a credential was printed"
    );
}

#[test]
fn a_bad_address_or_a_daemon_that_is_down_fails_fast() {
    let Some(_env) = Env::require() else { return };
    let repo = Repo::example();
    for addr in [
        "tcp://127.0.0.1:1",
        "unix:///nonexistent/buildkitd.sock",
        "docker://unix:///nonexistent/docker.sock",
    ] {
        let started = Instant::now();
        let out = stackplan(
            &repo,
            &[
                "build",
                "--addr",
                addr,
                "--push",
                "--offline",
                "--full",
                "--branch",
                "x",
            ],
            None,
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{addr} took {:?}",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{addr}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot connect"),
            "{addr}: {}",
            text(&out)
        );
    }
    let out = stackplan(
        &repo,
        &[
            "build",
            "--addr",
            "ftp://x",
            "--offline",
            "--full",
            "--branch",
            "x",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme"));
}

#[test]
fn a_tls_daemon_says_when_it_wants_a_client_certificate_or_refuses_ours() {
    let Some(env) = Env::require() else { return };
    let addr = std::env::var("STACKPLAN_BUILDKIT_TLS_ADDR")
        .expect("scripts/env-up.sh exports STACKPLAN_BUILDKIT_TLS_ADDR");
    let pki = std::path::PathBuf::from(
        std::env::var("STACKPLAN_PKI").expect("scripts/env-up.sh exports STACKPLAN_PKI"),
    );
    let file = |name: &str| pki.join(name).to_string_lossy().into_owned();
    let repo = small_stack(&unique());
    repo.branch("mtls");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let run = |tls: &[&str]| {
        let mut args = vec![
            "build",
            "--addr",
            addr.as_str(),
            "--progress",
            "plain",
            "--offline",
            "--full",
            "--build-arg",
            base.as_str(),
        ];
        args.extend_from_slice(tls);
        stackplan(&repo, &args, None)
    };
    let (ca, cert, key) = (file("ca.crt"), file("client.crt"), file("client.key"));
    let (server_cert, server_key) = (file("server.crt"), file("server.key"));
    for (tls, says) in [
        (
            vec![],
            "did not answer plain gRPC; if it speaks TLS, pass --tls-ca",
        ),
        (vec!["--tls-ca", &ca], "requires a client certificate"),
        (
            vec![
                "--tls-ca",
                &ca,
                "--tls-cert",
                &server_cert,
                "--tls-key",
                &server_key,
            ],
            "refused our client certificate",
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &key],
            "signed by an unknown authority: pass its CA with --tls-ca",
        ),
    ] {
        let out = run(&tls);
        assert_eq!(out.status.code(), Some(1), "{tls:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{tls:?}: {}", text(&out));
    }
    // With the right CA and client certificate, the stack builds (in one graph, no push).
    let out = run(&["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key]);
    assert!(out.status.success(), "{}", text(&out));
}
