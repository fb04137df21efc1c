//! Adapter: what git knows — changed files, the branch, the head commit.
//!
//! It runs the `git` command rather than linking a git library: the user's git is the one
//! whose config, worktrees, shallow clones and credential setup CI already handles, and
//! `git diff -z --name-status` is a stable, script-friendly interface.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::change_set::{ChangeSet, normalize};
use crate::error::{Error, Result};

/// Where a change set starts.
#[derive(Clone, Copy, Debug)]
pub enum Base<'a> {
    /// A revision as given (`--base`): checked to be a commit.
    Rev(&'a str),
    /// A commit id git gave ([`Git::default_base`]).
    Commit(&'a str),
}

/// A git working tree.
#[derive(Clone, Debug)]
pub struct Git {
    root: PathBuf,
}

impl Git {
    /// The repository containing `dir`, or `None` when `dir` is not in one (or git is
    /// not installed). Each call asks git: a flow that needs the answer twice keeps it.
    pub fn discover(dir: &Path) -> Option<Git> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let root = String::from_utf8(out.stdout).ok()?;
        Some(Git {
            root: PathBuf::from(root.trim_end_matches(['\n', '\r'])),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        self.start(args).text()
    }

    /// Starts a git command without waiting for it: several run side by side from one
    /// thread, each read when its answer is needed ([`Started::text`]).
    fn start(&self, args: &[&str]) -> Started {
        let child = command(&self.root, args, Stdio::null()).spawn();
        Started {
            command: args.join(" "),
            child,
        }
    }

    /// Runs git in `dir`, writing `stdin` to it, and waits for it (any exit status).
    fn output(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let spawn_error = |e: std::io::Error| not_run(&args.join(" "), e);
        let piped = if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = command(dir, args, piped).spawn().map_err(spawn_error)?;
        let Some(input) = stdin else {
            return child.wait_with_output().map_err(spawn_error);
        };
        // Write on another thread: git answers while it reads, and would block on a full
        // stdout pipe while we block on a full stdin pipe.
        let mut pipe = child.stdin.take();
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                if let Some(pipe) = pipe.as_mut() {
                    // A write error shows as git's own failure below.
                    let _ = pipe.write_all(input);
                }
                drop(pipe);
            });
            let out = child.wait_with_output().map_err(spawn_error);
            let _ = writer.join();
            out
        })
    }

    /// The commit id `rev` names.
    pub fn commit(&self, rev: &str) -> Result<String> {
        commit_of(rev, self.start_commit(rev))
    }

    fn start_commit(&self, rev: &str) -> Started {
        self.start(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
    }

    /// The default base: where `head` forked from the default branch (`origin/<name>`,
    /// else `<name>`), as a commit id.
    ///
    /// `merge-base` is asked straight away: only when it cannot read a candidate is the
    /// candidate checked, to tell a missing branch from a missing head.
    pub fn default_base(&self, head: &str, default_branch: &str) -> Result<String> {
        let candidates = [
            format!("origin/{default_branch}"),
            default_branch.to_string(),
        ];
        for candidate in &candidates {
            let out = self.output(self.root(), &["merge-base", candidate, head], None)?;
            match out.status.code() {
                Some(0) => return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
                // Both commits exist and share no history.
                Some(1) => return Err(no_shared_history(head, candidate)),
                // A revision git cannot read: the next candidate, unless this one exists
                // (then the head is what is missing).
                _ if self.commit(candidate).is_ok() => {
                    self.commit(head)?;
                    return Err(no_shared_history(head, candidate));
                }
                _ => {}
            }
        }
        Err(Error::Git {
            command: "merge-base".into(),
            message: format!(
                "neither {} nor {} exists, so there is no default base",
                candidates[0], candidates[1]
            ),
            help: Some(format!(
                "pass --base REV (e.g. --base HEAD^), --default-branch NAME, --changed PATH, or --full; in CI fetch the branch `{default_branch}`"
            )),
        })
    }

    /// Files changed between `base` and `head` (the working tree, with untracked files,
    /// when `head` is `None`; renames and copies count with both paths), read by
    /// [`changed_files_of`]. The diff stats the tracked files and the untracked listing
    /// walks the folders: both run at once.
    fn start_changed_files(&self, base: &str, head: Option<&str>) -> (Started, Option<Started>) {
        let mut diff = vec![
            "diff",
            "--name-status",
            "-z",
            "--find-renames",
            "--no-ext-diff",
            base,
        ];
        diff.extend(head);
        // Revisions only: a file named like one is not a path here.
        diff.push("--");
        let untracked = head
            .is_none()
            .then(|| self.start(&["ls-files", "--others", "--exclude-standard", "-z"]));
        (self.start(&diff), untracked)
    }

    /// The change set between two revisions (the working tree when `head` is `None`).
    ///
    /// Its git commands run at once: the revisions are checked while the files are listed,
    /// and a revision that is not a commit is the error reported.
    pub fn change_set(&self, base: Base<'_>, head: Option<&str>) -> Result<ChangeSet> {
        let base_rev = match base {
            Base::Rev(rev) | Base::Commit(rev) => rev,
        };
        let message = self.start(&["log", "-1", "--format=%B", head.unwrap_or("HEAD")]);
        let head_commit = head.map(|h| (h, self.start_commit(h)));
        let base_commit = match base {
            Base::Rev(rev) => Some(self.start_commit(rev)),
            Base::Commit(_) => None,
        };
        let (diff, untracked) = self.start_changed_files(base_rev, head);
        // Every command is waited for before any answer is judged.
        let files = changed_files_of(diff, untracked);
        let head_commit = head_commit.map(|(h, started)| commit_of(h, started));
        let base_commit = base_commit.map(|started| commit_of(base_rev, started));
        let head_message = message.text().ok();
        let head_commit = head_commit.transpose()?;
        let base_commit = match base_commit {
            Some(checked) => checked?,
            None => base_rev.to_string(),
        };
        Ok(ChangeSet {
            files: files?,
            base: Some(base_commit),
            head: head_commit,
            head_message,
        })
    }

    /// The full message of a commit.
    pub fn message(&self, rev: &str) -> Result<String> {
        self.run(&["log", "-1", "--format=%B", rev])
    }

    /// The checked-out branch, `None` when HEAD is detached.
    pub fn branch(&self) -> Result<Option<String>> {
        let name = self.run(&["rev-parse", "--abbrev-ref", "HEAD"])?;
        let name = name.trim();
        Ok((name != "HEAD" && !name.is_empty()).then(|| name.to_string()))
    }

    /// `origin`'s URL as a browsable https URL, if there is one.
    pub fn source_url(&self) -> Option<String> {
        let url = self.run(&["remote", "get-url", "origin"]).ok()?;
        https_url(url.trim())
    }
}

/// `git -C <dir> <args>`, its output and errors piped.
fn command(dir: &Path, args: &[&str], stdin: Stdio) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// git could not be started, or its pipes read.
fn not_run(command: &str, e: std::io::Error) -> Error {
    Error::Git {
        command: command.to_string(),
        message: e.to_string(),
        help: Some("is git installed and on PATH?".into()),
    }
}

/// git ran and failed: what it said on stderr.
fn failed(command: &str, out: &Output) -> Error {
    Error::Git {
        command: command.to_string(),
        message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        help: None,
    }
}

/// A git command started by [`Git::start`].
struct Started {
    command: String,
    child: std::io::Result<Child>,
}

impl Started {
    /// Its standard output, once it has ended well.
    fn text(self) -> Result<String> {
        let (command, stdout) = self.stdout()?;
        String::from_utf8(stdout).map_err(|_| Error::Git {
            command,
            message: "output is not UTF-8".into(),
            help: None,
        })
    }

    /// Its standard output as file names: a name that is not UTF-8 (git prints it as it
    /// is with `-z`) is read with U+FFFD for its bad bytes. A change set only asks which
    /// folders a file is under, which such a name still says; refusing it would fail every
    /// plan of a repository holding one untracked stray file.
    fn names(self) -> Result<String> {
        let (_, stdout) = self.stdout()?;
        Ok(match String::from_utf8(stdout) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn stdout(self) -> Result<(String, Vec<u8>)> {
        let command = self.command;
        let out = self
            .child
            .and_then(Child::wait_with_output)
            .map_err(|e| not_run(&command, e))?;
        if !out.status.success() {
            return Err(failed(&command, &out));
        }
        Ok((command, out.stdout))
    }
}

/// The commit id from a started [`Git::start_commit`] of `rev`.
fn commit_of(rev: &str, started: Started) -> Result<String> {
    started
        .text()
        .map(|s| s.trim().to_string())
        .map_err(|_| {
            Error::Git {
            command: format!("rev-parse {rev}"),
            message: format!("`{rev}` is not a commit of this repository"),
            help: Some(
                "check the revision; in CI fetch enough history (actions/checkout `fetch-depth: 0`)"
                    .into(),
            ),
        }
        })
}

/// The files of a started diff and untracked listing, sorted, without duplicates.
fn changed_files_of(diff: Started, untracked: Option<Started>) -> Result<Vec<String>> {
    let diff = diff.names();
    let untracked = untracked.map(Started::names);
    let mut files = parse_name_status(&diff?);
    if let Some(untracked) = untracked {
        files.extend(
            untracked?
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(normalize),
        );
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn no_shared_history(head: &str, candidate: &str) -> Error {
    Error::Git {
        command: format!("merge-base {candidate} {head}"),
        message: format!("{head} shares no history with {candidate}"),
        help: Some("pass --base REV, or fetch the full history".into()),
    }
}

/// `git@github.com:org/repo.git` → `https://github.com/org/repo`.
pub fn https_url(url: &str) -> Option<String> {
    let url = url.trim_end_matches(".git");
    if let Some(rest) = url.strip_prefix("git@") {
        let (host, path) = rest.split_once(':')?;
        return Some(format!("https://{host}/{path}"));
    }
    if let Some(rest) = url.strip_prefix("ssh://git@") {
        return Some(format!("https://{rest}"));
    }
    if let Some(rest) = url.strip_prefix("https://") {
        // Drop credentials embedded in the URL, never put them in a label.
        let rest = rest.split_once('@').map(|(_, r)| r).unwrap_or(rest);
        return Some(format!("https://{rest}"));
    }
    None
}

/// Parses `git diff --name-status -z`: a status, then one path (two for R and C).
fn parse_name_status(out: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut tokens = out.split('\0').filter(|s| !s.is_empty());
    while let Some(status) = tokens.next() {
        let paths = if status.starts_with('R') || status.starts_with('C') {
            2
        } else {
            1
        };
        for _ in 0..paths {
            if let Some(p) = tokens.next() {
                files.push(normalize(p));
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_with_renames() {
        let out = "M\0images/a/Dockerfile\0R100\0images/b/x\0images/c/x\0D\0images/d/y\0";
        assert_eq!(
            parse_name_status(out),
            [
                "images/a/Dockerfile",
                "images/b/x",
                "images/c/x",
                "images/d/y"
            ]
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            https_url("git@github.com:org/repo.git").as_deref(),
            Some("https://github.com/org/repo")
        );
        assert_eq!(
            https_url("https://tok@github.com/org/repo").as_deref(),
            Some("https://github.com/org/repo")
        );
        assert_eq!(https_url("/some/path"), None);
    }
}
