//! Running the `stackplan` binary: one command builder with one clean environment, for
//! every test that runs it (offline in a fixture repository, online against the e2e
//! environment, from a docs' shell line), and the outcome of a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::checks::rebuilds;

/// The machine's settings that change what stackplan decides or prints: the CI's branch
/// and repository (branch names, the OCI `source` label), a default platform, a BuildKit
/// address. A test that means one sets it after [`clean_env`].
pub const MACHINE_ENV: &[&str] = &[
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "STACKPLAN_PLATFORM",
    "BUILDKIT_HOST",
];

/// Takes [`MACHINE_ENV`] out of `cmd`'s environment and turns colour off.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for name in MACHINE_ENV {
        cmd.env_remove(name);
    }
    cmd.env("NO_COLOR", "1")
}

/// The `stackplan` binary cargo built, to run in `dir` with a [`clean_env`]. Whether it may
/// reach a registry is the caller's: `STACKPLAN_OFFLINE` is left as it is.
pub fn stackplan_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackplan"));
    cmd.current_dir(dir);
    clean_env(&mut cmd);
    cmd
}

/// `PATH` with the folder of the `stackplan` binary cargo built first, for shell lines
/// that call it by name.
pub fn path_with_stackplan() -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_stackplan")).parent().unwrap();
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `sh -c LINE` in `dir` the way a user types a docs' line: `stackplan` on `PATH`, online,
/// with a [`clean_env`].
pub fn shell_line(dir: &Path, line: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", line])
        .current_dir(dir)
        .env("PATH", path_with_stackplan())
        .env_remove("STACKPLAN_OFFLINE");
    clean_env(&mut cmd);
    cmd
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

/// The text of `docs/NAME`.
pub fn docs(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    args: Vec<String>,
    /// The folder it ran in, written `[REPO]` in what a snapshot holds.
    dir: PathBuf,
}

impl Run {
    /// The outcome of `stackplan ARGS` run in `dir`.
    pub fn from(out: Output, args: &[&str], dir: &Path) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: dir.to_path_buf(),
        }
    }

    /// The stderr of a usage/input error (exit 2, nothing on stdout, no panic), as a
    /// snapshot holds it: the folder the run was in written `[REPO]`, so that it reads the
    /// same from any temp dir.
    #[track_caller]
    pub fn error(&self) -> String {
        self.fails_with(&[]);
        self.redacted(&self.stderr)
    }

    /// The stderr of a run (its warnings), the folder written `[REPO]`.
    pub fn stderr_redacted(&self) -> String {
        self.redacted(&self.stderr)
    }

    fn redacted(&self, text: &str) -> String {
        let mut out = text.to_string();
        // The canonical form first: a temp dir behind a symlink is printed either way.
        let canonical = self.dir.canonicalize().unwrap_or_else(|_| self.dir.clone());
        for dir in [canonical, self.dir.clone()] {
            out = out.replace(&*dir.to_string_lossy(), "[REPO]");
        }
        out
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
        rebuilds(&self.json())
    }
}
