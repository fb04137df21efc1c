//! A fixture builder: a git repository in a temp dir, made with real `git` commands, and
//! the real `stackplan` binary run against it.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
        let out = Command::new("cp")
            .arg("-a")
            .arg(self.path().join("."))
            .arg(repo.path())
            .output()
            .expect("cp runs");
        assert!(
            out.status.success(),
            "cp -a failed: {}",
            String::from_utf8_lossy(&out.stderr)
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
        let out = Command::new("git")
            .current_dir(self.path())
            .args(args)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
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

    /// Runs stackplan in the repository with a clean CI environment.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackplan"));
        cmd.current_dir(self.path())
            .args(args)
            .env_remove("GITHUB_HEAD_REF")
            .env_remove("GITHUB_REF_NAME")
            .env_remove("GITHUB_SERVER_URL")
            .env_remove("GITHUB_REPOSITORY")
            .env("NO_COLOR", "1")
            // The default platform is this machine's unless a test says otherwise.
            .env_remove("STACKPLAN_PLATFORM")
            // Fixture stacks name public registries: never reach for them from a test.
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
        Run::from(child.wait_with_output().unwrap(), args)
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: Vec<String>,
}

impl Run {
    fn from(out: Output, args: &[&str]) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stackplan {:?} failed\nstdout:\n{}\nstderr:\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Asserts a usage/input error (exit 2) whose stderr contains every `needle`, and
    /// that nothing was printed on stdout.
    #[track_caller]
    pub fn fails_with(&self, needles: &[&str]) -> &Self {
        assert_eq!(
            self.code, 2,
            "expected exit 2 for {:?}\nstderr:\n{}",
            self.args, self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must be empty on error: {}",
            self.stdout
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}:\n{}",
                self.stderr
            );
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    /// `(name, rebuild)` per target of a `plan --format json` output.
    pub fn rebuilds(&self) -> Vec<String> {
        self.json()["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["rebuild"] == true)
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
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

/// Checks a bake file with buildx's own loader (`docker buildx bake --print`), which needs
/// no daemon. Fails when buildx is missing, unless `STACKPLAN_BUILDX_CHECK=skip`.
/// Returns buildx's resolved view of the file (`None` when skipped).
#[track_caller]
pub fn buildx_accepts(repo: &Repo, bake_json: &str) -> Option<serde_json::Value> {
    if std::env::var("STACKPLAN_BUILDX_CHECK").as_deref() == Ok("skip") {
        eprintln!("note: STACKPLAN_BUILDX_CHECK=skip: bake file not checked with buildx");
        return None;
    }
    let file = repo.path().join("bake-under-test.json");
    std::fs::write(&file, bake_json).unwrap();
    let out = Command::new("docker")
        .current_dir(repo.path())
        .args(["buildx", "bake", "-f"])
        .arg(&file)
        .arg("--print")
        .arg("all")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run `docker buildx bake --print` ({e}); install buildx with `scripts/env-up.sh --buildx-only`, or set STACKPLAN_BUILDX_CHECK=skip"
        ),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "buildx rejected the bake file: {stderr}\nfile:\n{bake_json}\n(if buildx is not installed: `scripts/env-up.sh --buildx-only`, or STACKPLAN_BUILDX_CHECK=skip)"
    );
    std::fs::remove_file(file).unwrap();
    Some(serde_json::from_slice(&out.stdout).expect("buildx --print prints JSON"))
}

/// The `$ ` lines of the ```console blocks of a markdown text: the docs' commands the tests
/// run (docs/recipes.md, docs/scale-out.md).
pub fn console_commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_console = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_console = line.trim() == "```console";
            continue;
        }
        if in_console && let Some(cmd) = line.strip_prefix("$ ") {
            out.push(cmd.to_string());
        }
    }
    out
}
