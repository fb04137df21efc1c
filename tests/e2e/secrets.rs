//! Secrets never leak: every command that talks to a registry runs with known credentials
//! configured — the right ones, and a wrong password — and neither the password nor its
//! base64 form may appear in any stdout, stderr, plan, bake file or error, failures
//! included.

use std::path::Path;
use std::process::Output;

use crate::env::{Env, bake, docker_config, promote_args, unique};
use crate::support::Repo;

/// Every form a secret could leak in: as written, and inside a basic-auth header.
fn forms(user: &str, password: &str) -> Vec<String> {
    use base64::Engine;
    vec![
        password.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
    ]
}

/// Fails the test when any form of a secret is in `text`.
#[track_caller]
fn clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} leaks a secret:\n{text}");
    }
}

fn run(repo: &Repo, args: &[&str], config: &Path, secrets: &[String]) -> Output {
    let out = crate::env::stackplan(repo, args, Some(config));
    let what = format!("stackplan {args:?}");
    clean(&what, &String::from_utf8_lossy(&out.stdout), secrets);
    clean(&what, &String::from_utf8_lossy(&out.stderr), secrets);
    out
}

#[test]
fn no_command_prints_or_writes_a_registry_secret() {
    let Some(env) = Env::require() else { return };
    let wrong_password = format!("wrong-secret-{}", unique());
    let mut secrets = forms(&env.user, &env.password);
    secrets.extend(forms(&env.user, &wrong_password));
    let right = docker_config(&env.auth_registry, &env.user, &env.password);
    let wrong = docker_config(&env.auth_registry, &env.user, &wrong_password);

    let repo = Repo::example();
    repo.branch("secrets");
    let ns = format!("{}/e2e-secrets-{}", env.auth_registry, unique());
    let base = format!("BASE_IMAGE={}", env.base_image);
    let common = ["--registry", ns.as_str(), "--build-arg", base.as_str()];
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .chain(common.iter())
            .map(|s| s.to_string())
            .collect()
    };

    // Success paths, with the right password: plan (to a file), the bake file, a build
    // pushed through the session, reuse, the matrix, a test record (its log holding the
    // password: only the log's digest may be recorded), promote and publish checks.
    let plan_file = repo.path().join("plan.json");
    let log_file = repo.path().join("test.log");
    std::fs::write(&log_file, format!("login with {}\n", env.password)).unwrap();
    let log = log_file.to_str().unwrap();
    for args in [
        with(&[
            "plan",
            "--format",
            "json",
            "-o",
            plan_file.to_str().unwrap(),
        ]),
        with(&["plan", "--format", "markdown"]),
        with(&["bake", "--push"]),
        with(&[
            "build",
            "--addr",
            "docker://",
            "--push",
            "--progress",
            "plain",
        ]),
        with(&["reuse", "--dry-run"]),
        with(&["matrix"]),
        with(&[
            "test-result",
            "base-notebook-py311",
            "--passed",
            "--log",
            log,
        ]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&repo, &args, right.path(), &secrets);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    clean(
        "plan.json",
        &std::fs::read_to_string(&plan_file).unwrap(),
        &secrets,
    );
    // What test-result sent: the fallback index and the record's manifest, read back with
    // the right credentials.
    let (host, path) = ns.split_once('/').unwrap();
    let get = |what: &str, head: bool| -> String {
        let out = std::process::Command::new("curl")
            .args(["-sf", if head { "-I" } else { "-s" }])
            .args(["-H", "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"])
            .args(["-u", &format!("{}:{}", env.user, env.password)])
            .arg(format!("http://{host}/v2/{path}/base-notebook/manifests/{what}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "GET {what}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let image_digest = get("2026.3-secrets", true)
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("docker-content-digest:")
                .map(|d| d.trim().to_string())
        })
        .expect("the image was pushed");
    let index = get(&image_digest.replace(':', "-"), false);
    clean("the fallback index", &index, &secrets);
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let records = index["manifests"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{index}");
    for record in records {
        let artifact = get(record["digest"].as_str().unwrap(), false);
        assert!(
            artifact.contains("dev.stackplan.tests.log.digest"),
            "{artifact}"
        );
        clean("the test record", &artifact, &secrets);
    }
    let bake_args = with(&["bake", "--push"]);
    let bake_args: Vec<&str> = bake_args.iter().map(String::as_str).collect();
    let bake_file = run(&repo, &bake_args, right.path(), &secrets);
    let bake_json = String::from_utf8_lossy(&bake_file.stdout).to_string();
    clean("the bake file", &bake_json, &secrets);
    let promote = run(
        &repo,
        &promote_args(&ns, "{prefix}-secrets", "{prefix}-stable", &["--dry-run"]),
        right.path(),
        &secrets,
    );
    assert!(
        promote.status.success(),
        "{}",
        String::from_utf8_lossy(&promote.stderr)
    );

    // Failure paths, with a wrong password: every command that asks the registry fails,
    // and its error names the registry, never the password.
    for args in [
        with(&["plan"]),
        with(&["bake", "--push"]),
        with(&["reuse"]),
        with(&[
            "test-result",
            "base-notebook-py311",
            "--failed",
            "--log",
            log,
        ]),
        with(&[
            "build",
            "--addr",
            "docker://",
            "--push",
            "--progress",
            "plain",
        ]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&repo, &args, wrong.path(), &secrets);
        assert!(
            !out.status.success(),
            "{args:?} succeeded with a wrong password"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&env.auth_registry), "{args:?}: {stderr}");
    }
    let promote = run(
        &repo,
        &promote_args(&ns, "{prefix}-secrets", "{prefix}-stable", &[]),
        wrong.path(),
        &secrets,
    );
    assert!(!promote.status.success());

    // buildx itself, given the bake file: its own output is not ours to police, but the
    // file it was given carries no secret (checked above) and the push works.
    let run_bake = bake(&repo, &bake_json, Some(right.path()));
    assert!(run_bake.success, "{}", run_bake.stderr);
}
