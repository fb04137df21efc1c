//! The change set: which files changed between two revisions, as plain data.
//!
//! The git adapter ([`crate::git`]) or the command line (`--changed`) fills it; the core
//! only reads it.

/// Files that changed, relative to the repository root with `/` separators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Sorted and without duplicates. A rename contributes its old and its new path.
    pub files: Vec<String>,
    /// The base revision (a commit id), if the change set came from git.
    pub base: Option<String>,
    /// The head revision; `None` for the working tree or a list given by hand.
    pub head: Option<String>,
    /// The message of the head commit, searched for "full rebuild".
    pub head_message: Option<String>,
}

impl ChangeSet {
    /// A change set from a list of paths (normalized, sorted, deduplicated).
    pub fn from_paths<I, S>(paths: I) -> ChangeSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut files: Vec<String> = paths
            .into_iter()
            .map(|p| normalize(p.as_ref()))
            .filter(|p| !p.is_empty())
            .collect();
        files.sort();
        files.dedup();
        ChangeSet {
            files,
            ..ChangeSet::default()
        }
    }
}

/// `./images\\a/` → `images/a`.
pub fn normalize(path: &str) -> String {
    if is_normal(path) {
        return path.to_string();
    }
    rebuild(path)
}

/// [`normalize`] of a path the caller owns: a normal one is handed back as it is.
pub fn normalize_owned(path: String) -> String {
    if is_normal(&path) {
        return path;
    }
    rebuild(&path)
}

/// Most paths are normal already (a plan joins tens of thousands): they are kept.
fn is_normal(path: &str) -> bool {
    !path.is_empty()
        && path.trim() == path
        && !path.contains('\\')
        && path.split('/').all(|p| !matches!(p, "" | "." | ".."))
}

fn rebuild(path: &str) -> String {
    let path = path.trim().replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_sorted_and_unique() {
        let c = ChangeSet::from_paths([
            "./images/b/x",
            "images\\a/y",
            "images/b/x",
            "",
            "images/c/../d",
        ]);
        assert_eq!(c.files, ["images/a/y", "images/b/x", "images/d"]);
    }
}
