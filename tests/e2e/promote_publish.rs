//! Promotion, publishing by digest, and manifests, against the real engine and registry.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::env::ok;
use crate::env::{Env, bake, bake_on, blob_requests, digest, promote_args, remote_builder, unique};
use crate::support::Repo;

fn stackplan(repo: &Repo, args: &[&str]) -> Output {
    crate::env::stackplan(repo, args, None)
}

/// The example stack built and pushed on branch `main` into a fresh namespace.
fn pushed_example(env: &Env, name: &str, plan: Option<&str>) -> (Repo, String) {
    let repo = Repo::example();
    let ns = env.namespace(name);
    let base = format!("BASE_IMAGE={}", env.base_image);
    let mut args = vec!["bake", "--push", "--registry", &ns, "--build-arg", &base];
    if let Some(p) = plan {
        args.extend(["--plan", p]);
    }
    let file = ok(&stackplan(&repo, &args));
    let run = bake(&repo, &file, None);
    assert!(run.success, "{}", run.stderr);
    (repo, ns)
}

const TARGETS: &[(&str, &str)] = &[
    ("base-notebook", "2026.3"),
    ("base-notebook", "2026.3-py39"),
    ("rstudio-notebook", "2026.3"),
    ("scipy-notebook", "2026.3"),
    ("scipy-notebook", "2026.3-py39"),
];

#[test]
fn promotion_copies_manifests_and_moves_no_layer() {
    let Some(env) = Env::require() else { return };
    let (repo, ns) = pushed_example(&env, "promote", None);
    let blobs_before = blob_requests(&env);

    let out = ok(&stackplan(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-stable", &[]),
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("moved ")).count(),
        5,
        "{out}"
    );
    for (image, prefix) in TARGETS {
        let source = digest(&format!("{ns}/{image}:{prefix}-main")).unwrap();
        assert_eq!(
            digest(&format!("{ns}/{image}:{prefix}-stable")),
            Some(source),
            "{image} {prefix}"
        );
    }
    // The global tag takes only a <prefix>-stable source, one plan at a time.
    let refused = stackplan(
        &repo,
        &promote_args(&ns, "{prefix}-main", "stable", &["--plan", "py311"]),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("takes only a `<prefix>-stable` source")
    );
    ok(&stackplan(
        &repo,
        &promote_args(&ns, "2026.3-stable", "stable", &["--plan", "py311"]),
    ));
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        assert_eq!(
            digest(&format!("{ns}/{image}:stable")),
            digest(&format!("{ns}/{image}:2026.3-main")),
            "{image}"
        );
    }
    assert_eq!(
        blob_requests(&env),
        blobs_before,
        "promotion read or wrote a blob"
    );

    // --dry-run says what would move and moves nothing.
    let out = ok(&stackplan(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-rc", &["--dry-run"]),
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("would move ")).count(),
        5,
        "{out}"
    );
    assert_eq!(digest(&format!("{ns}/base-notebook:2026.3-rc")), None);
}

#[test]
fn a_missing_source_changes_nothing() {
    let Some(env) = Env::require() else { return };
    // Only plan py311 is pushed: every py39 source is missing.
    let (repo, ns) = pushed_example(&env, "missing", Some("py311"));
    let out = stackplan(
        &repo,
        &promote_args(&ns, "{prefix}-main", "{prefix}-stable", &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing was promoted; 2 source tag(s) do not exist"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{ns}/scipy-notebook:2026.3-py39-main")),
        "{stderr}"
    );
    for (image, prefix) in TARGETS {
        assert_eq!(
            digest(&format!("{ns}/{image}:{prefix}-stable")),
            None,
            "{image} moved"
        );
    }
}

/// A proxy to the registry that refuses manifest PUTs to one repository while `reject` is
/// set. Each request gets its own upstream connection (`Connection: close`).
fn failing_proxy(upstream: String, victim: &'static str, reject: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            let reject = reject.clone();
            std::thread::spawn(move || proxy_one(client, &upstream, victim, &reject));
        }
    });
    port
}

fn proxy_one(mut client: TcpStream, upstream: &str, victim: &str, reject: &AtomicBool) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let request_line = text.lines().next().unwrap_or_default().to_string();
    if reject.load(Ordering::SeqCst)
        && request_line.starts_with("PUT ")
        && request_line.contains(&format!("/{victim}/manifests/"))
    {
        let _ = client.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let mut head: String = text
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    head.truncate(head.trim_end().len());
    head.push_str("\r\nConnection: close\r\n\r\n");
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    if server.write_all(head.as_bytes()).is_err() {
        return;
    }
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
    });
    let _ = std::io::copy(&mut server, &mut client);
}

#[test]
fn a_failed_write_is_reported_and_resume_finishes() {
    let Some(env) = Env::require() else { return };
    let (repo, ns) = pushed_example(&env, "resume", Some("py311"));
    let reject = Arc::new(AtomicBool::new(true));
    let upstream = env.registry.replace("localhost", "127.0.0.1");
    let port = failing_proxy(upstream, "scipy-notebook", reject.clone());
    let path = ns.split_once('/').unwrap().1;
    let via_proxy = format!("127.0.0.1:{port}/{path}");
    let args = [
        "promote",
        "--registry",
        &via_proxy,
        "--plan",
        "py311",
        "--from",
        "2026.3-main",
        "--to",
        "2026.3-stable",
    ];

    let out = stackplan(&repo, &args);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("moved ") && stdout.contains("base-notebook:2026.3-stable"),
        "{stdout}"
    );
    assert!(stderr.contains("2 tag(s) moved, 1 did not"), "{stderr}");
    assert!(stderr.contains("scipy-notebook:2026.3-stable"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(digest(&format!("{ns}/scipy-notebook:2026.3-stable")), None);

    reject.store(false, Ordering::SeqCst);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = ok(&stackplan(&repo, &resume));
    assert!(
        out.contains("kept  ") && out.contains("already moved"),
        "{out}"
    );
    assert!(
        out.contains("moved ") && out.contains("scipy-notebook:2026.3-stable"),
        "{out}"
    );
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        assert_eq!(
            digest(&format!("{ns}/{image}:2026.3-stable")),
            digest(&format!("{ns}/{image}:2026.3-main")),
            "{image}"
        );
    }
}

/// `docker buildx bake` of `file` on the remote builder (the docker driver cannot push by
/// digest): whether it succeeded, and its output.
fn bake_remote(repo: &Repo, file: &str) -> (bool, String) {
    let run = bake_on(repo, file, None, Some(&remote_builder()));
    (run.success, run.stderr)
}

#[test]
fn push_by_digest_moves_no_tag_until_publish() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("release");
    let ns = env.namespace("publish");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let nonce = format!("NONCE={}", unique());
    let flags = [
        "--registry",
        ns.as_str(),
        "--build-arg",
        base.as_str(),
        "--build-arg",
        nonce.as_str(),
        "--plan",
        "py311",
    ];
    let bake_args: Vec<&str> = ["bake", "--push-by-digest"]
        .into_iter()
        .chain(flags)
        .collect();

    // One child fails: its siblings and parent may push by digest, but no tag moves.
    repo.append("images/rstudio-notebook/Dockerfile", "RUN false\n")
        .commit("break rstudio");
    let (success, stderr) = bake_remote(&repo, &ok(&stackplan(&repo, &bake_args)));
    assert!(!success, "the broken build succeeded: {stderr}");
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        assert_eq!(
            digest(&format!("{ns}/{image}:2026.3-release")),
            None,
            "{image}'s tag moved"
        );
    }
    let publish_args: Vec<&str> = ["publish", "--metadata", "meta.json"]
        .into_iter()
        .chain(flags)
        .collect();
    let out = stackplan(&repo, &publish_args);
    assert_ne!(
        out.status.code(),
        Some(0),
        "publish of a failed build succeeded"
    );
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        assert_eq!(
            digest(&format!("{ns}/{image}:2026.3-release")),
            None,
            "{image}'s tag moved"
        );
    }

    // Fixed: the build pushes by digest, then publish moves every tag at once.
    let fixed = std::fs::read_to_string(repo.path().join("images/rstudio-notebook/Dockerfile"))
        .unwrap()
        .replace("RUN false\n", "");
    repo.write("images/rstudio-notebook/Dockerfile", &fixed)
        .commit("fix rstudio");
    let (success, stderr) = bake_remote(&repo, &ok(&stackplan(&repo, &bake_args)));
    assert!(success, "{stderr}");
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        assert_eq!(
            digest(&format!("{ns}/{image}:2026.3-release")),
            None,
            "{image} was tagged before publish"
        );
    }
    let out = ok(&stackplan(&repo, &publish_args));
    let moved: Vec<&str> = out.lines().filter(|l| l.starts_with("moved ")).collect();
    assert_eq!(moved.len(), 6, "a branch tag and an inputs tag each: {out}");
    assert_eq!(
        moved.iter().filter(|l| l.contains(":inputs-")).count(),
        3,
        "{out}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("meta.json")).unwrap())
            .unwrap();
    for image in ["base-notebook", "rstudio-notebook", "scipy-notebook"] {
        let pushed = meta[format!("{image}-py311")]["containerimage.digest"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            digest(&format!("{ns}/{image}:2026.3-release")),
            Some(pushed),
            "{image}"
        );
    }
}

#[test]
fn manifests_come_out_of_the_bake_and_render_as_pages() {
    let Some(env) = Env::require() else { return };
    let repo = Repo::example();
    repo.branch("manifests");
    let ns = env.namespace("manifests");
    let base = format!("BASE_IMAGE={}", env.base_image);
    let file = ok(&stackplan(
        &repo,
        &[
            "bake",
            "--push",
            "--manifests",
            "--registry",
            &ns,
            "--build-arg",
            &base,
        ],
    ));
    let run = bake(&repo, &file, None);
    assert!(run.success, "{}", run.stderr);
    let dir = repo
        .path()
        .join("artifacts/manifests/scipy-notebook/2026.3-py39-manifests");
    assert_eq!(
        std::fs::read_to_string(dir.join("PY_VER.out")).unwrap(),
        "3.9.5\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("PY_VER.status"))
            .unwrap()
            .trim(),
        "0"
    );

    let wiki = repo.path().join("wiki");
    ok(&stackplan(
        &repo,
        &["manifests", "render", "--out", wiki.to_str().unwrap()],
    ));
    let page =
        std::fs::read_to_string(wiki.join("scipy-notebook-2026.3-py39-manifests.md")).unwrap();
    assert!(
        page.contains("## Python Version\n\n`cat /opt/python-version`\n\n```text\n3.9.5\n```"),
        "{page}"
    );
    assert!(page.contains("scipy 1.7.3 on python 3.9.5"), "{page}");
    let home = std::fs::read_to_string(wiki.join("Home.md")).unwrap();
    assert!(
        home.contains("| rstudio-notebook | 2026.3-manifests |"),
        "{home}"
    );
    assert_eq!(home.matches("| scipy-notebook |").count(), 2, "{home}");

    // A promotion adds the promoted tags' pages and rows; earlier rows stay.
    let pages = wiki.to_str().unwrap();
    ok(&stackplan(
        &repo,
        &promote_args(
            &ns,
            "{prefix}-manifests",
            "{prefix}-stable",
            &["--pages", pages],
        ),
    ));
    let stable =
        std::fs::read_to_string(wiki.join("scipy-notebook-2026.3-py39-stable.md")).unwrap();
    assert!(
        stable.starts_with("# scipy-notebook:2026.3-py39-stable\n"),
        "{stable}"
    );
    assert!(stable.contains("3.9.5"), "{stable}");
    let home = std::fs::read_to_string(wiki.join("Home.md")).unwrap();
    assert_eq!(home.matches("| scipy-notebook |").count(), 4, "{home}");
    assert!(home.contains("| base-notebook | 2026.3-stable |"), "{home}");
    assert!(
        home.contains("| base-notebook | 2026.3-manifests |"),
        "{home}"
    );
}
