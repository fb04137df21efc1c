//! What git says of a run — the change set, the branch, the revision and the source URL —
//! or the flags and CI's environment in its place.

use std::io::Read;

use super::PlanRequest;
use crate::change_set::ChangeSet;
use crate::error::{Error, Result};
use crate::git::{Base, Git};
use crate::parallel::joined;

/// What git says of the run, or the flags and CI's environment in its place.
pub(super) struct FromGit {
    pub changes: ChangeSet,
    /// The branch as named, before it is made a tag.
    pub raw_branch: String,
    /// The OCI `revision` and `source` labels' values.
    pub revision: Option<String>,
    pub source_url: Option<String>,
}

/// Each question is put to git in its own processes, side by side: a run waits for the
/// longest, not for their sum.
pub(super) fn from_git(args: &PlanRequest, git: Option<&Git>) -> Result<FromGit> {
    std::thread::scope(|scope| {
        let raw_branch = scope.spawn(|| branch(args, git));
        let source_url = scope.spawn(|| source_url(args, git));
        // Without --head the change set's head is the working tree, and the revision
        // HEAD's commit.
        let head_commit = (args.revision.is_none() && args.head.is_none())
            .then(|| scope.spawn(|| git.and_then(|g| g.commit("HEAD").ok())));
        let changes = change_set(args, git)?;
        let revision = match (&args.revision, &changes.head) {
            (Some(rev), _) => Some(rev.clone()).filter(|r| !r.is_empty()),
            (None, Some(head)) => Some(head.clone()),
            (None, None) => head_commit.and_then(joined),
        };
        Ok(FromGit {
            raw_branch: joined(raw_branch)?,
            source_url: joined(source_url),
            revision,
            changes,
        })
    })
}

/// The OCI `source` label's value: the flag, else CI's environment, else git's `origin`.
fn source_url(args: &PlanRequest, git: Option<&Git>) -> Option<String> {
    let source_url = match &args.source_url {
        Some(url) => Some(url.clone()).filter(|u| !u.is_empty()),
        None => None,
    };
    let source_url =
        source_url.or_else(
            || match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY")) {
                (Some(server), Some(repo)) => {
                    Some(format!("{}/{repo}", server.trim_end_matches('/')))
                }
                _ => git.and_then(|g| g.source_url()),
            },
        );
    source_url.filter(|_| args.source_url.as_deref() != Some(""))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn branch(args: &PlanRequest, git: Option<&Git>) -> Result<String> {
    if let Some(b) = &args.branch {
        return Ok(b.clone());
    }
    if let Some(b) = env("GITHUB_HEAD_REF").or_else(|| env("GITHUB_REF_NAME")) {
        return Ok(b);
    }
    match git.map(Git::branch).transpose()?.flatten() {
        Some(b) => Ok(b),
        None => Err(Error::usage_with_help(
            "cannot tell the branch: HEAD is detached or this is not a git repository",
            "pass --branch NAME",
        )),
    }
}

fn change_set(args: &PlanRequest, git: Option<&Git>) -> Result<ChangeSet> {
    if !args.changed.is_empty() || args.changed_from.is_some() {
        if args.base.is_some() || args.head.is_some() {
            return Err(Error::usage(
                "--changed/--changed-from replace git: do not combine them with --base/--head",
            ));
        }
        let mut paths = args.changed.clone();
        if let Some(from) = &args.changed_from {
            let text = if from.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Error::io("cannot read", "standard input", e))?;
                s
            } else {
                std::fs::read_to_string(from).map_err(|e| Error::io("cannot read", from, e))?
            };
            paths.extend(text.lines().map(str::to_string));
        }
        return Ok(ChangeSet::from_paths(paths));
    }
    let Some(git) = git else {
        if args.full {
            return Ok(ChangeSet::default());
        }
        return Err(Error::usage_with_help(
            "not a git repository, so the change set is unknown",
            "run inside the repository, or pass --changed PATH, --changed-from FILE or --full",
        ));
    };
    let head_rev = args.head.as_deref().unwrap_or("HEAD");
    let fork_point;
    let base = match &args.base {
        Some(b) => Base::Rev(b),
        None => match git.default_base(head_rev, &args.default_branch) {
            Ok(commit) => {
                fork_point = commit;
                Base::Commit(&fork_point)
            }
            // With --full the change set does not decide anything: no base is fine.
            Err(_) if args.full => {
                return Ok(ChangeSet {
                    head: args.head.as_deref().map(|h| git.commit(h)).transpose()?,
                    head_message: git.message(head_rev).ok(),
                    ..ChangeSet::default()
                });
            }
            Err(e) => return Err(e),
        },
    };
    git.change_set(base, args.head.as_deref())
}
