//! Adapter: the files each target's tests read, from a checkout, and their tests digest.
//!
//! Which files count is [`crate::test_record::is_test_input`]'s to say; this module walks
//! the images folder once — every image's folder is left out of the walk except its test
//! folders, so a large stack costs a directory listing, not a walk of every context — and
//! hashes the chosen files from disk (git's blob id, as for build contexts).
//!
//! The walk is `std::fs` by hand rather than a crate (walkdir, ignore): it follows no
//! symlink, applies no ignore file, and prunes by image folder, which is all it needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::change_rules::ChangeRules;
use crate::context::blob_id;
use crate::error::{Error, Result};
use crate::stack::join;
use crate::test_record::{TestFile, is_test_input, tests_digest};

/// The change rules of the stack at `root` (`<images>/change_ignore.json`, or the rules of
/// a stack without one).
pub fn change_rules(root: &Path, images_dir: &str) -> Result<ChangeRules> {
    let display = join(images_dir, "change_ignore.json");
    match std::fs::read_to_string(root.join(&display)) {
        Ok(text) => ChangeRules::parse(&text, Path::new(&display)).map(|(r, _)| r),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ChangeRules::without_file()),
        Err(e) => Err(Error::io("cannot read", root.join(&display), e)),
    }
}

/// Every file under `dir` (relative to `root`), recursively, symlinks not followed.
fn walk(
    root: &Path,
    dir: &str,
    out: &mut Vec<TestFile>,
    prune: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let abs = root.join(dir);
    let entries = match std::fs::read_dir(&abs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot read", abs, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot read", &abs, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // git's own database is no test's input (no change set names it), and a stack kept
        // at the repository's top (`--images .`) would walk all of it.
        if name == ".git" {
            continue;
        }
        let path = join(dir, &name);
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("cannot read", entry.path(), e))?;
        if kind.is_dir() {
            if !prune(&path) {
                walk(root, &path, out, prune)?;
            }
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map_err(|e| Error::io("cannot read", entry.path(), e))?;
            out.push(TestFile {
                path,
                executable: false,
                id: blob_id(target.to_string_lossy().as_bytes()),
            });
        } else {
            out.push(TestFile {
                path,
                executable: false,
                id: String::new(),
            });
        }
    }
    Ok(())
}

/// Fills in the ids (and executable bits) of the files found, from disk.
fn hash(root: &Path, files: &mut [TestFile]) -> Result<()> {
    for f in files.iter_mut().filter(|f| f.id.is_empty()) {
        let abs = root.join(&f.path);
        let bytes = std::fs::read(&abs).map_err(|e| Error::io("cannot read", &abs, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&abs)
                .map_err(|e| Error::io("cannot read", &abs, e))?
                .permissions()
                .mode();
            f.executable = mode & 0o111 != 0;
        }
        f.id = blob_id(&bytes);
    }
    Ok(())
}

/// The tests digest of each `(image key, integration_tests)` asked, keyed the same way.
/// `images` are every image key of the stack.
pub fn tests_digests(
    root: &Path,
    images_dir: &str,
    rules: &ChangeRules,
    images: &BTreeSet<String>,
    asked: &BTreeSet<(String, bool)>,
) -> Result<BTreeMap<(String, bool), String>> {
    let in_image = |path: &str| -> bool {
        let rel = path
            .strip_prefix(images_dir)
            .map(|r| r.trim_start_matches('/'))
            .unwrap_or(path);
        images.iter().any(|k| {
            rel == k
                || rel
                    .strip_prefix(k.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    };
    let relative = |path: &str| -> String {
        if images_dir.is_empty() {
            path.to_string()
        } else {
            path.strip_prefix(images_dir)
                .map(|r| r.trim_start_matches('/').to_string())
                .unwrap_or_else(|| path.to_string())
        }
    };
    // Outside every image folder: what BuildAll ties to every image's tests.
    let mut common = Vec::new();
    walk(root, images_dir, &mut common, &|p| in_image(p))?;
    common.retain(|f| !in_image(&f.path));
    let mut out = BTreeMap::new();
    let mut common_hashed = false;
    for (image, integration) in asked {
        let mut files = Vec::new();
        for folder in ["test", "integration_tests"] {
            walk(
                root,
                &join(&join(images_dir, image), folder),
                &mut files,
                &|_| false,
            )?;
        }
        if !common_hashed {
            common.retain(|f| is_test_input(&relative(&f.path), "", false, false, rules));
            hash(root, &mut common)?;
            common_hashed = true;
        }
        files.retain(|f| is_test_input(&relative(&f.path), image, *integration, true, rules));
        hash(root, &mut files)?;
        files.extend(common.iter().cloned());
        out.insert((image.clone(), *integration), tests_digest(&files));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_digest_follows_the_tests_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, text: &str| write_file(root, p, text);
        write(
            "images/change_ignore.json",
            r#"{"ChangeIgnore": ["*.md"], "BuildAll": ["tests_common", "conftest.py"]}"#,
        );
        write("images/a/Dockerfile", "FROM x\n");
        write("images/a/test/t.sh", "echo a\n");
        write("images/b/test/t.sh", "echo b\n");
        write("images/tests_common/c.sh", "echo c\n");
        write("images/conftest.py", "# c\n");
        let rules = change_rules(root, "images").unwrap();
        let images: BTreeSet<String> = ["a".into(), "b".into()].into();
        let asked: BTreeSet<(String, bool)> = [("a".into(), false), ("b".into(), false)].into();
        let digests = || tests_digests(root, "images", &rules, &images, &asked).unwrap();
        let before = digests();
        assert_ne!(before[&("a".into(), false)], before[&("b".into(), false)]);
        // Not a test input: the Dockerfile, a README.
        write("images/a/Dockerfile", "FROM y\n");
        write("images/tests_common/README.md", "docs\n");
        write("images/notes.txt", "x\n");
        assert_eq!(digests(), before);
        // One image's tests: only its digest moves.
        write("images/a/test/t.sh", "echo a2\n");
        let after = digests();
        assert_ne!(after[&("a".into(), false)], before[&("a".into(), false)]);
        assert_eq!(after[&("b".into(), false)], before[&("b".into(), false)]);
        // A BuildAll file outside every image: every digest moves.
        write("images/conftest.py", "# c2\n");
        let last = digests();
        assert_ne!(last[&("a".into(), false)], after[&("a".into(), false)]);
        assert_ne!(last[&("b".into(), false)], after[&("b".into(), false)]);
    }

    #[test]
    fn a_stack_at_the_repository_top_leaves_git_s_database_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, text: &str| write_file(root, p, text);
        write(
            "change_ignore.json",
            r#"{"BuildAll": ["conftest.py", "**/conftest.py"]}"#,
        );
        write("a/Dockerfile", "FROM x\n");
        write("a/test/t.sh", "echo a\n");
        write("conftest.py", "# c\n");
        write(".git/conftest.py", "# git's\n");
        let rules = change_rules(root, "").unwrap();
        let images: BTreeSet<String> = ["a".into()].into();
        let asked: BTreeSet<(String, bool)> = [("a".into(), false)].into();
        let digests = || tests_digests(root, "", &rules, &images, &asked).unwrap();
        let before = digests();
        write(".git/conftest.py", "# git's, changed\n");
        write(".git/sub/conftest.py", "# more\n");
        assert_eq!(digests(), before);
        write("conftest.py", "# c2\n");
        assert_ne!(digests(), before);
    }
}
