//! Fixture repositories: a git repository in a temp dir, made with real `git` commands,
//! and the real `stackplan` binary run in it offline ([`Repo::run`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::checks::succeeded;
use super::run::{Run, stackplan_command};

pub struct Repo {
    dir: tempfile::TempDir,
}

/// The crate's example stack.
pub fn example_images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images")
}

impl Repo {
    /// An empty repository on branch `main`.
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "user.email", "test@example.invalid"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    /// A repository whose first commit on `main` is the example stack.
    pub fn example() -> Repo {
        let repo = Repo::new();
        copy_dir(&example_images(), &repo.path().join("images"));
        repo.commit("add the example stack");
        repo
    }

    /// A repository with a stack written from `(path, contents)` pairs, committed on main.
    pub fn with_files<P: AsRef<str>, C: AsRef<str>>(files: &[(P, C)]) -> Repo {
        let repo = Repo::new();
        for (path, contents) in files {
            repo.write(path.as_ref(), contents.as_ref());
        }
        repo.commit("initial");
        repo
    }

    /// A copy of the repository as it is on disk — modes, times, owners, extended
    /// attributes and hard links kept (`cp -a`) — with its index refreshed, as a fresh
    /// checkout's is (the copy's files have new inodes; git would otherwise find every
    /// one stat-dirty and hash it).
    pub fn copy(&self) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        succeeded(
            Command::new("cp")
                .arg("-a")
                .arg(self.path().join("."))
                .arg(repo.path()),
            "cp -a",
        );
        repo.git(&["update-index", "-q", "--refresh"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, contents: &str) -> &Self {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
        self
    }

    pub fn append(&self, path: &str, contents: &str) -> &Self {
        let p = self.path().join(path);
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        let p = self.path().join(path);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
        self
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = succeeded(
            Command::new("git")
                .current_dir(self.path())
                .args(args)
                .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
                .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"),
            &format!("git {args:?}"),
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn commit(&self, message: &str) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self
    }

    pub fn branch(&self, name: &str) -> &Self {
        self.git(&["checkout", "-q", "-b", name]);
        self
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs stackplan in the repository with a clean CI environment, offline: fixture
    /// stacks name public registries, never reach for them from a test.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    /// The plan of every target on `branch` (`plan --offline --format json --full`).
    pub fn full_plan(&self, branch: &str) -> serde_json::Value {
        self.run(&[
            "plan",
            "--offline",
            "--format",
            "json",
            "--branch",
            branch,
            "--full",
        ])
        .json()
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = stackplan_command(self.path());
        cmd.args(args)
            .env("STACKPLAN_OFFLINE", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("stackplan runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        Run::from(child.wait_with_output().unwrap(), args, self.path())
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
