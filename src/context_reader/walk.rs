//! One context folder walked as fsutil walks it for buildx: symlinks not followed, the
//! `.dockerignore` applied on the way down (an excluded directory is only entered when an
//! exception may re-include something below it, and is then sent only if something is),
//! and what BuildKit could not be given faithfully refused with an error.

use std::fs::{self, DirEntry, FileType};
use std::path::Path;

use super::ContextRequest;
use crate::context::{ContextEntry, EntryKind};
use crate::dockerignore::{self, DirMatches, Dockerignore};
use crate::error::{Error, Result};
use crate::stack::join;

/// A walked context: its entries, files' ids still empty.
pub(super) struct Walked {
    pub key: String,
    /// The context folder relative to the root, normalized (`""` for the root itself).
    pub folder: String,
    /// The Dockerfile relative to the root.
    pub dockerfile: String,
    /// The Dockerfile is a symlink (to a file): git's id for it is the link's.
    pub dockerfile_is_link: bool,
    /// The ignore file that applies (or would, for the default one), relative to the root.
    pub ignore_file: String,
    /// Sorted by path.
    pub entries: Vec<ContextEntry>,
    /// The size of its files, in bytes.
    pub bytes: u64,
}

/// The context folder and the Dockerfile of a request, relative to the root.
pub(super) fn paths(request: &ContextRequest) -> (String, String) {
    let folder = join(&request.folder, "");
    let dockerfile = join(&folder, &request.dockerfile);
    (folder, dockerfile)
}

pub(super) fn walk(root: &Path, request: &ContextRequest) -> Result<Walked> {
    let (folder, dockerfile) = paths(request);
    let key = &request.key;
    let dir = root.join(&folder);
    let listing = match list(&dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage_with_help(
                format!("image `{key}`: its context folder `{folder}/` does not exist"),
                "create it, or correct the image's folder",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::usage_with_help(
                format!("image `{key}`: its context `{folder}` is not a folder"),
                "point the image at a folder",
            ));
        }
        Err(e) => return Err(Error::io("cannot read", dir, e)),
    };
    let (ignore, ignore_file) = read_ignore(root, &folder, &request.dockerfile, &listing)?;

    let mut walker = Walker {
        key,
        folder: &folder,
        ignore: &ignore,
        ignore_file: &ignore_file,
        root,
        entries: Vec::new(),
        bytes: 0,
    };
    walker.entries_of("", listing, &DirMatches::default())?;
    let bytes = walker.bytes;
    let mut entries = walker.entries;
    entries.sort();
    let dockerfile_is_link = check_dockerfile(root, key, &folder, &dockerfile, &entries)?;
    Ok(Walked {
        key: key.clone(),
        folder,
        dockerfile,
        dockerfile_is_link,
        ignore_file,
        entries,
        bytes,
    })
}

fn list(dir: &Path) -> std::io::Result<Vec<DirEntry>> {
    fs::read_dir(dir)?.collect()
}

/// The ignore file BuildKit uses: `<Dockerfile>.dockerignore` when it exists, else the
/// context's `.dockerignore`, else none (its would-be path is still returned, for help
/// texts). `listing`, the folder's, spares opening files that are not there.
fn read_ignore(
    root: &Path,
    folder: &str,
    dockerfile: &str,
    listing: &[DirEntry],
) -> Result<(Dockerignore, String)> {
    let general = join(folder, dockerignore::FILE_NAME);
    let specific = join(folder, &dockerignore::dockerfile_specific(dockerfile));
    for candidate in [specific, general.clone()] {
        let listed = match in_folder(folder, &candidate) {
            Some(name) if !name.contains('/') => listing.iter().any(|e| e.file_name() == name),
            _ => true,
        };
        if !listed {
            continue;
        }
        match fs::read(root.join(&candidate)) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let ignore = Dockerignore::parse(&text, Path::new(&candidate))?;
                return Ok((ignore, candidate));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot read", root.join(&candidate), e)),
        }
    }
    Ok((Dockerignore::default(), general))
}

/// `path` (relative to the root) relative to the context `folder`, when it is inside.
fn in_folder<'a>(folder: &str, path: &'a str) -> Option<&'a str> {
    if folder.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(folder)?.strip_prefix('/')
    }
}

/// Checks that the Dockerfile is a file (or a link to one) and says whether it is a link.
/// When it is in the context the walk has already looked at it.
fn check_dockerfile(
    root: &Path,
    key: &str,
    folder: &str,
    dockerfile: &str,
    entries: &[ContextEntry],
) -> Result<bool> {
    if let Some(path) = in_folder(folder, dockerfile)
        && let Ok(i) = entries.binary_search_by(|e| e.path.as_str().cmp(path))
        && matches!(entries[i].kind, EntryKind::File { .. })
    {
        return Ok(false);
    }
    let abs = root.join(dockerfile);
    let mut is_link = false;
    let meta = match fs::symlink_metadata(&abs) {
        Ok(meta) if meta.is_symlink() => {
            is_link = true;
            fs::metadata(&abs)
        }
        other => other,
    };
    match meta {
        Ok(meta) if meta.is_file() => Ok(is_link),
        Ok(_) => Err(Error::usage_with_help(
            format!("image `{key}`: its Dockerfile `{dockerfile}` is not a file"),
            "point the image at its Dockerfile",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::usage_with_help(
            format!("image `{key}` has no Dockerfile at `{dockerfile}`"),
            "add the Dockerfile, or correct the image's `dockerfile`",
        )),
        Err(e) => Err(Error::io("cannot read", abs, e)),
    }
}

struct Walker<'a> {
    key: &'a str,
    folder: &'a str,
    ignore: &'a Dockerignore,
    ignore_file: &'a str,
    root: &'a Path,
    entries: Vec<ContextEntry>,
    bytes: u64,
}

impl Walker<'_> {
    /// Walks the directory `rel` (relative to the context, `""` for its root); `excluded`
    /// when it is only entered for exceptions below it. Returns whether it sent anything.
    fn dir(&mut self, rel: &str, abs: &Path, parent: &DirMatches, excluded: bool) -> Result<bool> {
        match list(abs) {
            Ok(listing) => self.entries_of(rel, listing, parent),
            // fsutil ignores a permission error on an excluded path.
            Err(e) if excluded && e.kind() == std::io::ErrorKind::PermissionDenied => Ok(false),
            Err(e) => Err(self.unreadable(rel, e)),
        }
    }

    /// Walks the entries of the directory `rel`; returns whether it sent any.
    fn entries_of(
        &mut self,
        rel: &str,
        listing: Vec<DirEntry>,
        parent: &DirMatches,
    ) -> Result<bool> {
        let mut sent = false;
        for entry in listing {
            let name = entry.file_name();
            let utf8 = name.to_str().is_some();
            let name = name.to_string_lossy();
            let path = if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            };
            let file_type = entry.file_type().map_err(|e| self.unreadable(&path, e))?;
            let (is_excluded, matches) = if self.ignore.is_empty() {
                (false, DirMatches::default())
            } else {
                self.ignore.check(&path, parent)
            };
            if is_excluded {
                if file_type.is_dir()
                    && utf8
                    && self.ignore.may_reinclude_below(&path)
                    && self.dir(&path, &entry.path(), &matches, true)?
                {
                    self.push(path, EntryKind::Dir);
                    sent = true;
                }
                continue;
            }
            if !utf8 {
                return Err(self.refuse(
                    &path,
                    "has a name that is not UTF-8, which stackplan cannot record",
                    "rename it",
                ));
            }
            let abs = entry.path();
            if file_type.is_dir() {
                self.push(path.clone(), EntryKind::Dir);
                self.dir(&path, &abs, &matches, false)?;
            } else if file_type.is_symlink() {
                let target = fs::read_link(&abs).map_err(|e| self.unreadable(&path, e))?;
                let Some(target) = target.to_str() else {
                    return Err(self.refuse(
                        &path,
                        "is a symlink whose target is not UTF-8",
                        "replace the link with what it points to",
                    ));
                };
                if escapes(&path, target) {
                    return Err(self.refuse(
                        &path,
                        &format!("is a symlink to `{target}`, outside the build context"),
                        "BuildKit sends the link, not what it points to, so the build would see a dangling link: replace the link with the file or folder it points to",
                    ));
                }
                self.push(
                    path,
                    EntryKind::Symlink {
                        target: target.to_string(),
                    },
                );
            } else if file_type.is_file() {
                use std::os::unix::fs::PermissionsExt;
                let meta = entry.metadata().map_err(|e| self.unreadable(&path, e))?;
                let executable = meta.permissions().mode() & 0o111 != 0;
                self.bytes += meta.len();
                self.push(
                    path,
                    EntryKind::File {
                        executable,
                        id: String::new(),
                    },
                );
            } else {
                return Err(self.refuse(
                    &path,
                    &format!(
                        "is a {}, which stackplan cannot put in a build context",
                        special_kind(file_type)
                    ),
                    "remove it",
                ));
            }
            sent = true;
        }
        Ok(sent)
    }

    fn push(&mut self, path: String, kind: EntryKind) {
        self.entries.push(ContextEntry { path, kind });
    }

    /// A path of the context the user must change: what is wrong, and the two fixes.
    fn refuse(&self, path: &str, problem: &str, fix: &str) -> Error {
        Error::usage_with_help(
            format!(
                "image `{}`: `{}` {problem}",
                self.key,
                within(self.folder, path)
            ),
            format!(
                "{fix}, or list `{path}` in {} to leave it out of the build context",
                self.ignore_file
            ),
        )
    }

    fn unreadable(&self, path: &str, e: std::io::Error) -> Error {
        unreadable(self.root, self.key, self.folder, self.ignore_file, path, e)
    }
}

impl Walked {
    /// The error for a file of this context that cannot be read (`path` relative to the
    /// root).
    pub(super) fn unreadable(&self, root: &Path, path: &str, e: std::io::Error) -> Error {
        if path == self.dockerfile {
            return Error::io_with_help(
                "cannot read",
                root.join(path),
                e,
                format!("image `{}`: make its Dockerfile readable", self.key),
            );
        }
        let in_context = path
            .strip_prefix(self.folder.as_str())
            .map_or(path, |p| p.trim_start_matches('/'));
        unreadable(
            root,
            &self.key,
            &self.folder,
            &self.ignore_file,
            in_context,
            e,
        )
    }
}

/// A path of a context (`path` relative to it) that cannot be read, and the two fixes.
fn unreadable(
    root: &Path,
    key: &str,
    folder: &str,
    ignore_file: &str,
    path: &str,
    e: std::io::Error,
) -> Error {
    Error::io_with_help(
        "cannot read",
        root.join(within(folder, path)),
        e,
        format!(
            "image `{key}`: fix its permissions, or list `{}` in {ignore_file} to leave it out of the build context",
            if path.is_empty() { "." } else { path },
        ),
    )
}

/// The path relative to the root of `path`, relative to the context `folder`. File names
/// are kept as they are (no trimming, no `\` read as a separator).
pub(super) fn within(folder: &str, path: &str) -> String {
    match (folder.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => folder.to_string(),
        (false, false) => format!("{folder}/{path}"),
    }
}

/// Whether a symlink at `path` (relative to the context) pointing to `target` leads
/// outside the context: an absolute target, or more `..` than there are directories above.
fn escapes(path: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut depth = path.matches('/').count();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." if depth == 0 => return true,
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

fn special_kind(file_type: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "named pipe (FIFO)"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_leave_the_context() {
        assert!(!escapes("link", "target"));
        assert!(!escapes("link", "./a/../b"));
        assert!(!escapes("a/b/link", "../../x"));
        assert!(escapes("a/b/link", "../../../x"));
        assert!(escapes("link", ".."));
        assert!(escapes("link", "a/../../x"));
        assert!(escapes("link", "/etc/passwd"));
        assert!(!escapes("a/link", "..//x/"));
    }
}
