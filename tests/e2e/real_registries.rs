//! Registries as users meet them, from scripts/env-up.sh: bearer tokens (distribution's
//! `auth: token` and scripts/token-server.py), TLS from a private CA read from docker's
//! certs.d, and a fault front that throttles, fails and resets (scripts/fault-proxy.py).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::env::{
    Env, arm_faults, bake, digest, docker_config, faults_served, ok, promote_args,
    stackplan_at_home, token_requests, unique, var,
};
use crate::support::Repo;

#[test]
fn a_token_registry_gets_one_token_per_repository_for_the_whole_run() {
    let Some(env) = Env::require() else { return };
    let registry = var("STACKPLAN_TOKEN_REGISTRY", "localhost:5002");
    let home = tempfile::tempdir().unwrap();
    let creds = docker_config(&registry, &env.user, &env.password);
    let repo = Repo::example();
    let path = format!("e2e-token-{}", unique());
    let ns = format!("{registry}/{path}");
    let base = format!("BASE_IMAGE={}", env.base_image);

    // Without credentials: refused, said once, no retry.
    let out = stackplan_at_home(
        &repo,
        &["plan", "--branch", "main", "--registry", &ns],
        home.path(),
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("access denied"), "{stderr}");
    assert!(stderr.contains("docker login"), "{stderr}");

    // Build and push through the token registry (BuildKit's own token flow: the password
    // grant), then probe it: one token per repository, for probing and the inputs tags.
    let file = ok(&stackplan_at_home(
        &repo,
        &[
            "bake",
            "--push",
            "--branch",
            "main",
            "--registry",
            &ns,
            "--build-arg",
            &base,
        ],
        home.path(),
        Some(creds.path()),
    ));
    let baked = bake(&repo, &file, Some(creds.path()));
    assert!(baked.success, "{}", baked.stderr);
    let before = token_requests(&path).len();
    let out = stackplan_at_home(
        &repo,
        &[
            "plan",
            "--format",
            "json",
            "--branch",
            "main",
            "--registry",
            &ns,
        ],
        home.path(),
        Some(creds.path()),
    );
    let plan: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(plan["registry_probed"], true);
    let asked: Vec<serde_json::Value> = token_requests(&path).split_off(before);
    let mut scopes: Vec<String> = asked
        .iter()
        .flat_map(|l| l["scopes"].as_array().cloned().unwrap_or_default())
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    let requests = scopes.len();
    scopes.sort();
    scopes.dedup();
    eprintln!(
        "probe of the example stack: {requests} token request(s) for {} scope(s): {scopes:?}",
        scopes.len()
    );
    assert_eq!(requests, scopes.len(), "one token per scope: {asked:?}");
    assert_eq!(scopes.len(), 3, "one per repository: {scopes:?}");
    assert!(
        asked
            .iter()
            .all(|l| l["grant"] == "basic" && l["status"] == 200)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 token request(s)"), "{stderr}");

    // Promotion in the same registry: every tag moves, a push token per repository.
    let before = token_requests(&path).len();
    let out = ok(&stackplan_at_home(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-stable", &[]),
        home.path(),
        Some(creds.path()),
    ));
    assert_eq!(out.lines().filter(|l| l.starts_with("moved ")).count(), 5);
    let asked = token_requests(&path).split_off(before);
    assert!(
        asked.len() <= 6,
        "at most a pull and a push token per repository: {asked:?}"
    );
}

#[test]
fn an_expired_token_is_renewed_once() {
    let Some(env) = Env::require() else { return };
    let registry = var("STACKPLAN_TOKEN_REGISTRY", "localhost:5002");
    let server = var("STACKPLAN_TOKEN_SERVER", "http://127.0.0.1:5003");
    let home = tempfile::tempdir().unwrap();
    let creds = docker_config(&registry, &env.user, &env.password);
    let repo = Repo::example();
    let path = format!("e2e-expiry-{}", unique());
    let ns = format!("{registry}/{path}");
    // Tokens whose JWT expires at once while the answer says 300 s: the registry refuses
    // them, stackplan asks again once per scope, and the run fails with access denied
    // rather than looping.
    let set = |seconds: i32| {
        Command::new("curl")
            .args(["-sf", "-X", "POST"])
            .arg(format!("{server}/_stackplan/exp?seconds={seconds}"))
            .output()
            .unwrap()
    };
    set(-120); // past distribution's 60 s leeway
    let out = stackplan_at_home(
        &repo,
        &["plan", "--branch", "main", "--registry", &ns],
        home.path(),
        Some(creds.path()),
    );
    set(0);
    assert_eq!(out.status.code(), Some(1));
    let asked = token_requests(&path);
    let mut scopes: Vec<String> = asked
        .iter()
        .flat_map(|l| l["scopes"].as_array().cloned().unwrap_or_default())
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    let requests = scopes.len();
    scopes.sort();
    scopes.dedup();
    assert!(requests <= 2 * scopes.len(), "{asked:?}");
    // With tokens that live, the same run works.
    ok(&stackplan_at_home(
        &repo,
        &["plan", "--branch", "main", "--registry", &ns],
        home.path(),
        Some(creds.path()),
    ));
}

#[test]
fn a_tls_registry_is_trusted_through_certs_d_and_an_unknown_ca_is_named() {
    let Some(_env) = Env::require() else { return };
    let registry = var("STACKPLAN_TLS_REGISTRY", "localhost:5443");
    let pki = var(
        "STACKPLAN_PKI",
        &format!("{}/pki", var("STACKPLAN_ENV_DIR", ".stackplan-env")),
    );
    let home = tempfile::tempdir().unwrap();
    let repo = Repo::example();
    let ns = format!("{registry}/e2e-tls-{}", unique());
    let args = ["plan", "--branch", "main", "--registry", ns.as_str()];

    let started = Instant::now();
    let out = stackplan_at_home(&repo, &args, home.path(), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a certificate failure is not retried: {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the certificate of {registry} is signed by an unknown authority"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("etc-docker-certs.d/{registry}/ca.crt")),
        "{stderr}"
    );

    // The CA where the docker CLI reads it: trusted.
    let dir = home.path().join(".docker/certs.d").join(&registry);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(Path::new(&pki).join("ca.crt"), dir.join("ca.crt")).unwrap();
    let out = stackplan_at_home(&repo, &args, home.path(), None);
    ok(&out);
    // And in the system folder instead.
    std::fs::remove_dir_all(home.path().join(".docker")).unwrap();
    let dir = home.path().join("etc-docker-certs.d").join(&registry);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(Path::new(&pki).join("ca.crt"), dir.join("ca.crt")).unwrap();
    ok(&stackplan_at_home(&repo, &args, home.path(), None));
}

#[test]
fn a_throttled_and_flaky_registry_is_retried_and_promotion_holds() {
    let Some(env) = Env::require() else { return };
    let front = var("STACKPLAN_FAULT_REGISTRY", "localhost:5004");
    let home = tempfile::tempdir().unwrap();
    let repo = Repo::example();
    let path = format!("e2e-faults-{}", unique());
    let direct = format!("{}/{path}", env.registry);
    let ns = format!("{front}/{path}");
    let base = format!("BASE_IMAGE={}", env.base_image);

    // The stack pushed straight to the registry behind the front.
    let file = ok(&stackplan_at_home(
        &repo,
        &[
            "bake",
            "--push",
            "--branch",
            "main",
            "--registry",
            &direct,
            "--build-arg",
            &base,
        ],
        home.path(),
        None,
    ));
    let baked = bake(&repo, &file, None);
    assert!(baked.success, "{}", baked.stderr);

    // Probing through the front while it throttles, fails, resets and stalls.
    arm_faults(&path, "429,ok,503,ok,reset,ok,502,slow,504,ok", 12, 1);
    let started = Instant::now();
    let out = stackplan_at_home(
        &repo,
        &[
            "plan",
            "--format",
            "json",
            "--branch",
            "main",
            "--registry",
            &ns,
            "--build-arg",
            &base,
        ],
        home.path(),
        None,
    );
    let plan: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(plan["registry_probed"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("probe under faults in {:?}: {stderr}", started.elapsed());
    assert!(
        stderr.contains("registry: ") && stderr.contains("retr"),
        "{stderr}"
    );
    // No fault served here lasts 20 s (the slow one is 2 s): a read timeout would be a
    // connection the front held up (its accept loop once waited on a silent connection;
    // 2 of 5 such probes stalled for 20 s).
    assert!(!stderr.contains("timeout"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15), "{stderr}");
    let served = faults_served(&path);
    eprintln!("faults served: {served:?}");
    for kind in ["429", "503", "reset", "502", "504", "slow"] {
        assert!(served.iter().any(|(f, _)| f == kind), "{kind}: {served:?}");
    }

    // Promotion through the front under faults: every tag moves.
    arm_faults(&path, "ok,429,ok,503,reset", 10, 1);
    let out = ok(&stackplan_at_home(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-stable", &[]),
        home.path(),
        None,
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("moved ")).count(),
        5,
        "{out}"
    );
    for image in ["base-notebook", "scipy-notebook", "rstudio-notebook"] {
        assert_eq!(
            digest(&format!("{direct}/{image}:2026.3-stable")),
            digest(&format!("{direct}/{image}:2026.3-main")),
        );
    }

    // A registry that throttles past the budget: the run stops within it, says what was
    // retried and for how long, and nothing moved.
    arm_faults(&path, "429", 100, 1);
    let started = Instant::now();
    let out = stackplan_at_home(
        &repo,
        &[
            "promote",
            "--registry",
            &ns,
            "--registry-retry-budget",
            "3s",
            "--from",
            "{prefix}-main",
            "--to",
            "{prefix}-next",
        ],
        home.path(),
        None,
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(took < Duration::from_secs(10), "{took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("budget spent in {took:?}: {stderr}");
    assert!(
        stderr.contains("gave up on 429 Too Many Requests"),
        "{stderr}"
    );
    assert!(stderr.contains("of its 3 s retry budget"), "{stderr}");
    assert!(stderr.contains("--registry-retry-budget"), "{stderr}");
    assert!(digest(&format!("{direct}/base-notebook:2026.3-next")).is_none());
    arm_faults(&path, "", 0, 1);
}

#[test]
fn a_connection_that_says_nothing_holds_up_neither_the_fault_front_nor_the_token_server() {
    let Some(env) = Env::require() else { return };
    // An HTTP client's spare pooled connection: open, nothing sent. The fault front and the
    // token server once peeked at every new connection in their accept loop, so one such
    // connection held up all others until the client's read timeout (20 s for stackplan).
    let front = var("STACKPLAN_FAULT_REGISTRY", "localhost:5004");
    let token_registry = var("STACKPLAN_TOKEN_REGISTRY", "localhost:5002");
    let server = var("STACKPLAN_TOKEN_SERVER", "http://127.0.0.1:5003");
    let port = |a: &str| a.rsplit(':').next().unwrap().trim_matches('/').to_string();
    let _idle = [
        std::net::TcpStream::connect(format!("127.0.0.1:{}", port(&front))).unwrap(),
        std::net::TcpStream::connect(format!("127.0.0.1:{}", port(&server))).unwrap(),
    ];
    let home = tempfile::tempdir().unwrap();
    let creds = docker_config(&token_registry, &env.user, &env.password);
    let repo = Repo::example();
    for registry in [front, token_registry] {
        let ns = format!("{registry}/e2e-idle-{}", unique());
        let started = Instant::now();
        let out = stackplan_at_home(
            &repo,
            &["plan", "--branch", "main", "--registry", &ns],
            home.path(),
            Some(creds.path()),
        );
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        ok(&out);
        assert!(
            took < Duration::from_secs(8),
            "{registry}: {took:?}: {stderr}"
        );
        assert!(!stderr.contains("timeout"), "{registry}: {stderr}");
    }
}
