//! What git's index vouches for: the blob ids of files whose working-tree bytes are the
//! blob's bytes, so a reader of the checkout can take their ids without reading them.
//!
//! git records a blob id for every tracked file, but the file on disk is only that blob
//! when it is unmodified (`git diff-files`), not hidden from that check (assume-unchanged,
//! skip-worktree), and checked out without conversion (no `core.autocrlf`, no `filter`,
//! `text`, `eol`, `crlf`, `ident` or `working-tree-encoding` attribute). Everything else is
//! left out, for the caller to hash from disk. Five git commands answer for any number of
//! folders.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::{Git, failed};
use crate::error::Result;

/// The attributes that make git write a blob to disk as other bytes.
const CONVERSION_ATTRIBUTES: [&str; 6] = [
    "filter",
    "text",
    "eol",
    "crlf",
    "ident",
    "working-tree-encoding",
];

impl Git {
    /// The SHA-1 blob ids of the regular files at or below `paths` (relative to `dir`,
    /// `/`-separated) whose working-tree bytes git vouches for, keyed by their path
    /// relative to `dir`. Empty when the repository converts on checkout
    /// (`core.autocrlf`) or does not use SHA-1 object ids.
    pub fn clean_blobs(&self, dir: &Path, paths: &[String]) -> Result<HashMap<String, String>> {
        let mut ids = HashMap::new();
        let info = self.run_raw(
            dir,
            &["rev-parse", "--show-prefix", "--show-object-format"],
            None,
        )?;
        let info = String::from_utf8_lossy(&info);
        let mut lines = info.lines();
        let prefix = lines.next().unwrap_or_default().to_string();
        if lines.next() != Some("sha1") || self.converts_line_endings(dir)? || paths.is_empty() {
            return Ok(ids);
        }

        // One pathspec, the folders' common directory, keeps git from testing every entry
        // against thousands of pathspecs; entries outside the folders are dropped here.
        let wanted: HashSet<String> = paths.iter().map(|p| join(&prefix, p)).collect();
        let common = common_dir(wanted.iter().map(String::as_str));
        let pathspec = if common.is_empty() {
            "."
        } else {
            common.as_str()
        };
        let index = self.run_raw(
            self.root(),
            &[
                "--literal-pathspecs",
                "ls-files",
                "-s",
                "-v",
                "-z",
                "--",
                pathspec,
            ],
            None,
        )?;
        let mut candidates: HashMap<&str, &str> = HashMap::new();
        for record in index.split(|&b| b == 0) {
            if let Some((path, id)) = clean_entry(record)
                && under_any(path, &wanted)
            {
                candidates.insert(path, id);
            }
        }
        if candidates.is_empty() {
            return Ok(ids);
        }

        // Both stat or read every candidate: they run side by side.
        let mut stdin = Vec::new();
        for path in candidates.keys() {
            stdin.extend_from_slice(path.as_bytes());
            stdin.push(0);
        }
        let mut attribute_args = vec!["check-attr", "-z", "--stdin"];
        attribute_args.extend(CONVERSION_ATTRIBUTES);
        let (modified, attributes) = std::thread::scope(|scope| {
            let modified = scope.spawn(|| {
                self.run_raw(
                    self.root(),
                    &[
                        "--literal-pathspecs",
                        "diff-files",
                        "-z",
                        "--name-only",
                        "--",
                        pathspec,
                    ],
                    None,
                )
            });
            let attributes = self.run_raw(self.root(), &attribute_args, Some(&stdin));
            let modified = crate::parallel::joined(modified);
            (modified, attributes)
        });
        for path in modified?.split(|&b| b == 0) {
            if let Ok(path) = std::str::from_utf8(path) {
                candidates.remove(path);
            }
        }
        let attributes = attributes?;
        let mut fields = attributes.split(|&b| b == 0);
        while let (Some(path), Some(_attribute), Some(value)) =
            (fields.next(), fields.next(), fields.next())
        {
            if value != b"unspecified"
                && let Ok(path) = std::str::from_utf8(path)
            {
                candidates.remove(path);
            }
        }

        for (path, id) in candidates {
            if let Some(relative) = path.strip_prefix(prefix.as_str()) {
                ids.insert(relative.to_string(), id.to_string());
            }
        }
        Ok(ids)
    }

    /// Whether `core.autocrlf` may make checked-out files differ from their blobs.
    fn converts_line_endings(&self, dir: &Path) -> Result<bool> {
        let out = self.output(dir, &["config", "--get", "core.autocrlf"], None)?;
        match out.status.code() {
            // Unset.
            Some(1) => Ok(false),
            Some(0) => {
                let value = String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .to_ascii_lowercase();
                Ok(!matches!(value.as_str(), "false" | "no" | "off" | "0" | ""))
            }
            _ => Err(failed("config --get core.autocrlf", &out)),
        }
    }

    /// Runs git in `dir` (bytes in and out) and requires success.
    fn run_raw(&self, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>> {
        let out = self.output(dir, args, stdin)?;
        if !out.status.success() {
            return Err(failed(&args.join(" "), &out));
        }
        Ok(out.stdout)
    }
}

/// `(path, id)` of an `ls-files -s -v -z` record (`H 100644 <id> 0\t<path>`) when it is a
/// regular file at stage 0 that git checks for changes (tag `H`: not assume-unchanged,
/// skip-worktree or conflicted).
fn clean_entry(record: &[u8]) -> Option<(&str, &str)> {
    let record = std::str::from_utf8(record).ok()?;
    let (info, path) = record.split_once('\t')?;
    let mut fields = info.split(' ');
    let (tag, mode, id, stage) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let regular = mode == "100644" || mode == "100755";
    (tag == "H" && regular && stage == "0" && id.len() == 40).then_some((path, id))
}

/// `dir/path` without empty parts (`dir` is git's `--show-prefix`, ending in `/` or empty).
fn join(dir: &str, path: &str) -> String {
    let path = path.trim_matches('/');
    let path = if path == "." {
        ""
    } else {
        path.strip_prefix("./").unwrap_or(path)
    };
    let dir = dir.trim_end_matches('/');
    match (dir.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => dir.to_string(),
        (false, false) => format!("{dir}/{path}"),
    }
}

/// The longest directory that holds every path (`""` for the repository root).
fn common_dir<'a>(paths: impl Iterator<Item = &'a str>) -> String {
    let mut common: Option<Vec<&str>> = None;
    for path in paths {
        let parts: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        common = Some(match common {
            None => parts,
            Some(c) => c
                .iter()
                .zip(&parts)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    common.unwrap_or_default().join("/")
}

/// Whether `path` is one of `dirs` or below one of them.
fn under_any(path: &str, dirs: &HashSet<String>) -> bool {
    dirs.contains("")
        || dirs.contains(path)
        || path
            .match_indices('/')
            .any(|(end, _)| dirs.contains(&path[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_records() {
        let id = "ce013625030ba8dba906f756967f9e9ca394464a";
        let line = |tag: &str, mode: &str, stage: &str| format!("{tag} {mode} {id} {stage}\ta b/c");
        assert_eq!(
            clean_entry(line("H", "100644", "0").as_bytes()),
            Some(("a b/c", id))
        );
        assert!(clean_entry(line("H", "100755", "0").as_bytes()).is_some());
        // assume-unchanged, skip-worktree, symlinks, submodules, conflicts: not vouched for.
        assert!(clean_entry(line("h", "100644", "0").as_bytes()).is_none());
        assert!(clean_entry(line("S", "100644", "0").as_bytes()).is_none());
        assert!(clean_entry(line("H", "120000", "0").as_bytes()).is_none());
        assert!(clean_entry(line("H", "160000", "0").as_bytes()).is_none());
        assert!(clean_entry(line("H", "100644", "2").as_bytes()).is_none());
        assert!(clean_entry(b"").is_none());
    }

    #[test]
    fn paths_and_their_common_directory() {
        assert_eq!(join("", "images/a/"), "images/a");
        assert_eq!(join("sub/", "images/a"), "sub/images/a");
        assert_eq!(join("sub/", "."), "sub");
        assert_eq!(join("", "."), "");
        assert_eq!(
            common_dir(["images/a", "images/b/Dockerfile", "images/a/x"].into_iter()),
            "images"
        );
        assert_eq!(common_dir(["images/a", "other"].into_iter()), "");
        assert_eq!(common_dir(["images/a"].into_iter()), "images/a");
        let dirs: HashSet<String> = ["images/a".to_string()].into();
        assert!(under_any("images/a/x", &dirs));
        assert!(under_any("images/a", &dirs));
        assert!(!under_any("images/ab", &dirs));
    }
}
