//! The registry probe against real registries: down, and with htpasswd auth.

use std::time::{Duration, Instant};

use crate::env::{Env, bake, curl_status_with, docker_config, manifest, stackplan};
use crate::support::Repo;

/// Runs stackplan with `docker_config`, or with no Docker config at all.
fn run(
    repo: &Repo,
    args: &[&str],
    docker_config: Option<&std::path::Path>,
) -> std::process::Output {
    let none = repo.path().join("no-docker-config");
    stackplan(repo, args, Some(docker_config.unwrap_or(&none)))
}

#[test]
fn a_registry_that_is_down_is_a_clear_error_within_seconds() {
    let Some(_env) = Env::require() else { return };
    let repo = Repo::example();
    let started = Instant::now();
    let out = run(
        &repo,
        &["plan", "--branch", "x", "--registry", "127.0.0.1:5999/ns"],
        None,
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registry 127.0.0.1:5999: unreachable"),
        "{stderr}"
    );
    assert!(stderr.contains("--offline"), "{stderr}");
    assert!(out.stdout.is_empty());
    // --offline plans without it.
    let out = run(
        &repo,
        &[
            "plan",
            "--offline",
            "--branch",
            "x",
            "--registry",
            "127.0.0.1:5999/ns",
        ],
        None,
    );
    assert!(out.status.success());
}

#[test]
fn a_registry_with_auth_needs_the_right_credentials() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("feature-auth");
    let ns = format!("{}/e2e-auth-{}", env.auth_registry, crate::env::unique());
    let args = [
        "plan",
        "--format",
        "json",
        "--registry",
        ns.as_str(),
        "--plan",
        "py311",
    ];

    let out = run(&repo, &args, None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("registry {}: access denied", env.auth_registry)),
        "{stderr}"
    );
    assert!(stderr.contains("docker login"), "{stderr}");

    let wrong = docker_config(&env.auth_registry, &env.user, "wrong-password");
    let out = run(&repo, &args, Some(wrong.path()));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("access denied"), "{stderr}");
    assert!(
        !stderr.contains("wrong-password"),
        "a credential was printed: {stderr}"
    );

    let right = docker_config(&env.auth_registry, &env.user, &env.password);
    let out = run(&repo, &args, Some(right.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["registry_probed"], true);
    assert_eq!(
        plan["summary"]["rebuild"], 3,
        "nothing is in the registry yet"
    );

    // The bake built from that plan pushes with the same credentials.
    let base = format!("BASE_IMAGE={}", env.base_image);
    let out = run(
        &repo,
        &[
            "bake",
            "--push",
            "--registry",
            &ns,
            "--plan",
            "py311",
            "--build-arg",
            &base,
        ],
        Some(right.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = bake(
        &repo,
        &String::from_utf8(out.stdout).unwrap(),
        Some(right.path()),
    );
    assert!(run.success, "{}", run.stderr);
    let (host, path) = ns.split_once('/').unwrap();
    let user = format!("{}:{}", env.user, env.password);
    let status = curl_status_with(
        &format!("http://{host}/v2/{path}/base-notebook/manifests/2026.3-feature-auth"),
        &["-H", crate::env::ACCEPT, "-u", &user],
    );
    assert_eq!(status, 200);
    assert!(
        manifest(&format!("{ns}/base-notebook:2026.3-feature-auth")).is_none(),
        "anonymous reads are refused"
    );
}
