//! Build script: the git revision for `stackplan --version`.
//!
//! `STACKPLAN_VERSION` is the crate version followed by the short commit it was built
//! from, when that is known: `$STACKPLAN_BUILD_REVISION` (set by builds without a `.git`,
//! such as the container image's), else git when the crate root is the top of a git
//! checkout, else `.cargo_vcs_info.json` (written by `cargo package`, so a crate installed
//! from crates.io knows its commit too). Without any of them it is just the version.

use std::path::Path;
use std::process::Command;

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let root = Path::new(&root);
    println!("cargo:rerun-if-env-changed=STACKPLAN_BUILD_REVISION");
    let revision = std::env::var("STACKPLAN_BUILD_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .map(|r| r.trim().to_string())
        .or_else(|| git_revision(root))
        .or_else(|| packaged_revision(root));
    let full = match revision {
        Some(rev) => format!("{version} ({rev})"),
        None => version,
    };
    println!("cargo:rustc-env=STACKPLAN_VERSION={full}");
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The short head commit, when `root` is the top of a git work tree (not a folder inside
/// some other repository, such as `target/package/` or a vendored copy). Re-runs when the
/// head moves.
fn git_revision(root: &Path) -> Option<String> {
    let top = git(root, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != root.canonicalize().ok()? {
        return None;
    }
    for file in ["HEAD", "packed-refs"] {
        if let Some(path) = git(root, &["rev-parse", "--git-path", file]) {
            println!("cargo:rerun-if-changed={}", root.join(path).display());
        }
    }
    if let Some(head_ref) = git(root, &["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(root, &["rev-parse", "--git-path", &head_ref])
    {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    git(root, &["rev-parse", "--short=9", "HEAD"])
}

/// The commit `cargo package` recorded: `{"git": {"sha1": "<40 hex>"}, ...}`.
fn packaged_revision(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(".cargo_vcs_info.json")).ok()?;
    let start = text.find("\"sha1\"")?;
    let rest = &text[start + "\"sha1\"".len()..];
    let sha: String = rest
        .trim_start_matches([' ', ':', '"', '\n', '\t'])
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (sha.len() >= 9).then(|| sha[..9].to_string())
}
