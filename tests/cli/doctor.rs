//! `stackplan --version` and `stackplan doctor`, with PATHs that lack docker, stub tools
//! and Docker configs made in the test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::{Repo, stackplan_command};

/// A folder for PATH holding `git` (a link to the real one) and the given scripts.
fn bin_dir(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = which_git();
    std::os::unix::fs::symlink(git, dir.path().join("git")).unwrap();
    for (name, body) in scripts {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn which_git() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .expect("git is on PATH")
}

/// A docker CLI that answers like an engine with a `remote` buildx builder.
const DOCKER_STUB: &str = r#"case "$*" in
  "version --format {{.Server.Version}}") echo 26.1.5 ;;
  "buildx version") echo "github.com/docker/buildx v0.13.1 stub" ;;
  "buildx inspect") printf 'Name:          fleet\nDriver:        remote\n' ;;
  *) echo "stub docker: unexpected $*" >&2; exit 1 ;;
esac"#;

struct Doctor {
    code: i32,
    stdout: String,
    stderr: String,
}

fn doctor(repo: &Repo, path: &Path, docker_config: &Path, args: &[&str]) -> Doctor {
    let out = stackplan_command(repo.path())
        .arg("doctor")
        .args(args)
        .env("PATH", path)
        .env("DOCKER_CONFIG", docker_config)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    Doctor {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn status_of(report: &serde_json::Value, name: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = Command::new(env!("CARGO_BIN_EXE_stackplan"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    assert!(
        version.starts_with(&format!("stackplan {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=9",
            "HEAD",
        ])
        .output()
        .unwrap();
    if head.status.success() {
        let head = String::from_utf8(head.stdout).unwrap();
        assert!(
            version.contains(&format!("({})", head.trim())),
            "{version} lacks the head commit {head}"
        );
    }
}

#[test]
fn doctor_without_docker_fails_and_says_how_to_fix_it() {
    let repo = Repo::example();
    let bin = bin_dir(&[]);
    let config = tempfile::tempdir().unwrap();
    let run = doctor(&repo, bin.path(), config.path(), &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    for needle in [
        "ok    git",
        "ok    repository",
        "FAIL  docker       the docker CLI is not on PATH",
        "fix: install the docker CLI",
        "FAIL  buildx",
        "warn  buildkit",
        "warn  credentials",
        "cannot run here until the FAIL lines are fixed",
    ] {
        assert!(
            run.stdout.contains(needle),
            "lacks {needle:?}:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("2 of 6 checks failed: docker, buildx"),
        "{}",
        run.stderr
    );

    let json = doctor(&repo, bin.path(), config.path(), &["--format", "json"]);
    assert_eq!(json.code, 1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(status_of(&report, "docker"), "fail");
    assert_eq!(status_of(&report, "git"), "ok");
}

#[test]
fn doctor_passes_with_docker_and_buildx_and_never_prints_a_secret() {
    let repo = Repo::example();
    let bin = bin_dir(&[
        ("docker", DOCKER_STUB),
        ("docker-credential-stub", "exit 0"),
    ]);
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"auths": {"ghcr.io": {"auth": "c2VjcmV0LXVzZXI6czNjcjN0LXRva2Vu"}, "localhost:5001": {"identitytoken": "id-t0ken-value"}},
            "credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "stub"}}"#,
    )
    .unwrap();
    let run = doctor(&repo, bin.path(), config.path(), &["--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(status_of(&report, "docker"), "ok");
    assert_eq!(status_of(&report, "buildx"), "ok");
    // Nothing answers at the default docker:// address: only `stackplan build` needs it.
    assert_eq!(status_of(&report, "buildkit"), "warn");
    assert_eq!(status_of(&report, "credentials"), "ok");
    let text = doctor(&repo, bin.path(), config.path(), &[]).stdout;
    for out in [&run.stdout, &text] {
        assert!(out.contains("ghcr.io, localhost:5001"), "{out}");
        assert!(out.contains("docker-credential-stub"), "{out}");
        for secret in ["c2VjcmV0", "s3cr3t", "id-t0ken"] {
            assert!(!out.contains(secret), "a secret was printed:\n{out}");
        }
    }
    assert!(text.contains("builder fleet (driver remote)"), "{text}");
}

#[test]
fn doctor_fails_on_a_missing_credential_helper_and_an_unreachable_buildkit_host() {
    let repo = Repo::example();
    let bin = bin_dir(&[("docker", DOCKER_STUB)]);
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"credsStore": "desktop"}"#,
    )
    .unwrap();
    let out = stackplan_command(repo.path())
        .args(["doctor", "--addr", "tcp://127.0.0.1:1"])
        .env("PATH", bin.path())
        .env("DOCKER_CONFIG", config.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("docker-credential-desktop is not on PATH"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  buildkit     tcp://127.0.0.1:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fix: start the BuildKit daemon"),
        "{stdout}"
    );
}

#[test]
fn doctor_outside_a_repository_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bin_dir(&[("docker", DOCKER_STUB)]);
    let out = stackplan_command(dir.path())
        .args(["doctor", "--format", "json"])
        .env("PATH", bin.path())
        .env("DOCKER_CONFIG", dir.path())
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&report, "repository"), "warn");
    assert_eq!(out.status.code(), Some(0));
}
