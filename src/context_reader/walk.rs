//! The one context walker: a folder walked as fsutil walks it for buildx, yielding the
//! entries BuildKit receives with everything either consumer needs of them. The inputs
//! digest reads it with `.dockerignore` as the exclude patterns ([`walk`]); the FileSync
//! service of `stackplan build` with BuildKit's `include-patterns`, `exclude-patterns` and
//! `followpaths` ([`walk_folder`]), turning its entries into fsutil `Stat`s. What is
//! hashed is therefore what is sent.
//!
//! As fsutil: symlinks are not followed; each folder's entries go in byte order of their
//! names, parents before children; the exclude patterns are applied on the way down (an
//! excluded directory is only entered when an exception may re-include something below
//! it, and is then sent only if something is); a regular file whose inode was already
//! sent (a hard link) carries the first path sent as its link target; extended attributes
//! go along (but Apple's `com.apple.*`). What BuildKit could not be given faithfully is
//! refused: a name that is not UTF-8 (fsutil's `Stat.path` is a protobuf string), a named
//! pipe, socket or device; and, for the digest, a symlink leading out of the context.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::{self, FileType, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::ContextRequest;
use crate::context::{ContextEntry, EntryKind};
use crate::dockerignore::{self, DirMatches, Dockerignore};
use crate::error::{Error, Result};
use crate::stack::join;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

/// One entry of a walked folder, with what fsutil sends of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    pub kind: Kind,
    /// The permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// A file's size, a symlink's target length, 0 for a directory.
    pub size: u64,
    /// The modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// A symlink's target; for a file, the earlier path of the walk it is a hard link of.
    pub link: String,
    /// Extended attributes, by name.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Which entries a walk yields.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// What is left out (`.dockerignore`, BuildKit's `exclude-patterns`).
    pub excludes: Dockerignore,
    /// When not empty, only what these match (or folders above what they match) is sent:
    /// BuildKit's `include-patterns`.
    pub includes: Dockerignore,
    /// Paths sent whatever the includes say, with their folders (`followpaths`); a
    /// symlink among them brings its target along.
    pub follow: Vec<String>,
    /// Refuse a symlink that leads out of the folder (the digest cannot vouch for what it
    /// points to).
    pub refuse_escaping_links: bool,
}

/// Why a walk stopped: a path it refuses, or one it cannot read (relative to the folder).
#[derive(Debug)]
pub enum Refusal {
    Refused {
        path: String,
        problem: String,
        fix: String,
        /// The `.dockerignore` pattern that leaves it out, when it is not the path itself
        /// (a name that is not UTF-8).
        pattern: Option<String>,
    },
    Unreadable {
        path: String,
        error: std::io::Error,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Refused {
                path, problem, fix, ..
            } => write!(f, "`{path}` {problem}: {fix}"),
            Refusal::Unreadable { path, error } => write!(f, "cannot read `{path}`: {error}"),
        }
    }
}

/// Walks `dir` with `filter`: the entries BuildKit receives, in fsutil's order.
pub fn walk_folder(dir: &Path, filter: &Filter) -> std::result::Result<Vec<Entry>, Refusal> {
    let listing = list(dir).map_err(|error| Refusal::Unreadable {
        path: ".".into(),
        error,
    })?;
    walk_listing(dir, listing, filter)
}

fn walk_listing(
    dir: &Path,
    listing: Vec<(Vec<u8>, FileType)>,
    filter: &Filter,
) -> std::result::Result<Vec<Entry>, Refusal> {
    let mut follow: Vec<String> = filter.follow.iter().map(|f| clean(f)).collect();
    // A followed path that is a symlink brings its target along (a Dockerfile that is a
    // link), resolved inside the folder.
    for f in follow.clone() {
        if let Ok(target) = fs::read_link(dir.join(&f))
            && let Some(target) = target.to_str()
        {
            follow.push(resolve_inside(&f, target));
        }
    }
    let mut walker = Walker {
        filter,
        follow,
        entries: Vec::new(),
        inodes: HashMap::new(),
    };
    walker.entries_of(dir, "", listing, &DirMatches::default())?;
    Ok(walker.entries)
}

/// A directory's entries, sorted by name as fsutil sends them.
fn list(dir: &Path) -> std::io::Result<Vec<(Vec<u8>, FileType)>> {
    let mut listing = fs::read_dir(dir)?
        .map(|e| {
            let e = e?;
            Ok((e.file_name().as_bytes().to_vec(), e.file_type()?))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    listing.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(listing)
}

/// `path` without a leading `/` or `./`, and without a trailing `/`.
pub fn clean(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

/// Where a symlink at `path` pointing to `target` leads, resolved as BuildKit resolves
/// links inside a transferred folder: relative to the link's folder, an absolute target
/// from the folder's root, and `..` never above the root.
pub fn resolve_inside(path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(path.split('/'));
        parts.pop();
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

struct Walker<'a> {
    filter: &'a Filter,
    follow: Vec<String>,
    entries: Vec<Entry>,
    /// The first path sent of each inode with more than one link (fsutil keys by inode).
    inodes: HashMap<u64, String>,
}

impl Walker<'_> {
    fn included(&self, path: &str) -> bool {
        if self.filter.includes.is_empty() && self.follow.is_empty() {
            return true;
        }
        self.filter.includes.excludes(path)
            || self.follow.iter().any(|f| {
                f == path
                    || path
                        .strip_prefix(f.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
    }

    /// Whether the includes may keep something below the folder `dir`.
    fn may_include_below(&self, dir: &str) -> bool {
        if self.filter.includes.is_empty() && self.follow.is_empty() {
            return true;
        }
        self.filter.includes.may_match_below(dir)
            || self.follow.iter().any(|f| {
                f.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
                    || f == dir
                    || dir
                        .strip_prefix(f.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
    }

    /// Walks the entries of the directory `rel` (`""` for the root); returns whether it
    /// sent any.
    fn entries_of(
        &mut self,
        abs_dir: &Path,
        rel: &str,
        listing: Vec<(Vec<u8>, FileType)>,
        parent: &DirMatches,
    ) -> std::result::Result<bool, Refusal> {
        let mut sent = false;
        for (name, file_type) in listing {
            let mut raw = Vec::with_capacity(rel.len() + 1 + name.len());
            if !rel.is_empty() {
                raw.extend_from_slice(rel.as_bytes());
                raw.push(b'/');
            }
            raw.extend_from_slice(&name);
            let abs = abs_dir.join(OsStr::from_bytes(&name));
            let (excluded, matches) = if self.filter.excludes.is_empty() {
                (false, DirMatches::default())
            } else {
                self.filter.excludes.check(&raw, parent)
            };
            let Ok(path) = String::from_utf8(raw) else {
                if excluded {
                    continue;
                }
                let shown = String::from_utf8_lossy(&name).into_owned();
                return Err(Refusal::Refused {
                    path: if rel.is_empty() {
                        shown
                    } else {
                        format!("{rel}/{shown}")
                    },
                    problem: "has a name that is not UTF-8, which stackplan cannot record".into(),
                    fix: "rename it".into(),
                    pattern: Some(pattern_for(rel, &name)),
                });
            };
            let included = self.included(&path);
            if file_type.is_dir() {
                let kept = !excluded && included;
                let may = (!excluded || self.filter.excludes.may_reinclude_below(&path))
                    && self.may_include_below(&path);
                if !kept && !may {
                    continue;
                }
                let listing = match list(&abs) {
                    Ok(listing) => listing,
                    // fsutil ignores a permission error on an excluded path.
                    Err(e) if !kept && e.kind() == std::io::ErrorKind::PermissionDenied => {
                        continue;
                    }
                    Err(error) => return Err(Refusal::Unreadable { path, error }),
                };
                let at = self.entries.len();
                let entry = self.entry(&abs, path.clone(), Kind::Dir)?;
                self.entries.push(entry);
                let below = self.entries_of(&abs, &path, listing, &matches)?;
                if !kept && !below {
                    self.entries.truncate(at);
                    continue;
                }
                sent = true;
                continue;
            }
            if excluded || !included {
                continue;
            }
            let kind = if file_type.is_symlink() {
                Kind::Symlink
            } else if file_type.is_file() {
                Kind::File
            } else {
                return Err(Refusal::Refused {
                    path,
                    problem: format!(
                        "is a {}, which stackplan cannot put in a build context",
                        special_kind(file_type)
                    ),
                    fix: "remove it".into(),
                    pattern: None,
                });
            };
            let entry = self.entry(&abs, path, kind)?;
            self.entries.push(entry);
            sent = true;
        }
        Ok(sent)
    }

    /// The entry of `abs`, read with one `lstat` (and a `readlink` for a link, a
    /// `llistxattr` for every entry).
    fn entry(
        &mut self,
        abs: &Path,
        path: String,
        kind: Kind,
    ) -> std::result::Result<Entry, Refusal> {
        let unreadable = |path: &str, error| Refusal::Unreadable {
            path: path.to_string(),
            error,
        };
        let meta: Metadata = fs::symlink_metadata(abs).map_err(|e| unreadable(&path, e))?;
        let xattrs = xattrs(abs).map_err(|e| unreadable(&path, e))?;
        let mut entry = Entry {
            path,
            kind,
            mode: meta.mode() & 0o7777,
            size: if kind == Kind::Dir { 0 } else { meta.len() },
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            link: String::new(),
            xattrs,
        };
        match kind {
            Kind::Symlink => {
                let target = fs::read_link(abs).map_err(|e| unreadable(&entry.path, e))?;
                let Some(target) = target.to_str() else {
                    return Err(Refusal::Refused {
                        path: entry.path,
                        problem: "is a symlink whose target is not UTF-8".into(),
                        fix: "replace the link with what it points to".into(),
                        pattern: None,
                    });
                };
                if self.filter.refuse_escaping_links && escapes(&entry.path, target) {
                    return Err(Refusal::Refused {
                        problem: format!("is a symlink to `{target}`, outside the build context"),
                        path: entry.path,
                        fix: "BuildKit sends the link, not what it points to, so the build would see a dangling link: replace the link with the file or folder it points to".into(),
                        pattern: None,
                    });
                }
                entry.link = target.to_string();
            }
            Kind::File if meta.nlink() > 1 => match self.inodes.get(&meta.ino()) {
                Some(first) => {
                    entry.link = first.clone();
                    entry.size = 0;
                }
                None => {
                    self.inodes.insert(meta.ino(), entry.path.clone());
                }
            },
            _ => {}
        }
        Ok(entry)
    }
}

/// The extended attributes fsutil sends: all but Apple's; none where the file system
/// keeps none.
fn xattrs(abs: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let names = match xattr::list(abs) {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(ENOTSUP) => return Ok(out),
        Err(e) => return Err(e),
    };
    for name in names {
        let Some(key) = name.to_str() else { continue };
        if key.starts_with("com.apple.") {
            continue;
        }
        if let Ok(Some(value)) = xattr::get(abs, &name) {
            out.insert(key.to_string(), value);
        }
    }
    Ok(out)
}

/// Linux's `ENOTSUP`: a file system without extended attributes.
const ENOTSUP: i32 = 95;

/// A `.dockerignore` pattern that matches the name `name` in the folder `rel` byte for
/// byte as BuildKit compares it: each byte that is not UTF-8 as `?`, wildcards escaped.
fn pattern_for(rel: &str, name: &[u8]) -> String {
    let mut out = String::new();
    for c in rel.chars() {
        push_escaped(&mut out, c);
    }
    if !rel.is_empty() {
        out.push('/');
    }
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for _ in chunk.invalid() {
            out.push('?');
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
        out.push('\\');
    }
    out.push(c);
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

// ----- the digest's walk: a context request read into entries -----

/// A walked context: its entries, files' ids still empty.
pub(super) struct Walked {
    pub key: String,
    /// The context folder relative to the root, normalized (`""` for the root itself).
    pub folder: String,
    /// The Dockerfile relative to the root.
    pub dockerfile: String,
    /// The ignore file that applies (or would, for the default one), relative to the root.
    pub ignore_file: String,
    /// Sorted by path.
    pub entries: Vec<ContextEntry>,
}

/// The context folder and the Dockerfile of a request, relative to the root.
pub(super) fn paths(request: &ContextRequest) -> (String, String) {
    let folder = join(&request.folder, "");
    let dockerfile = join(&folder, &request.dockerfile);
    (folder, dockerfile)
}

/// The entries of a walk as the digest records them (files' ids still empty).
pub fn context_entries(entries: Vec<Entry>) -> Vec<ContextEntry> {
    let mut out: Vec<ContextEntry> = entries
        .into_iter()
        .map(|e| ContextEntry {
            kind: match e.kind {
                Kind::Dir => EntryKind::Dir { mode: e.mode },
                Kind::File => EntryKind::File {
                    mode: e.mode,
                    id: String::new(),
                    hardlink: e.link,
                },
                Kind::Symlink => EntryKind::Symlink { target: e.link },
            },
            path: e.path,
            xattrs: e.xattrs.into_iter().collect(),
        })
        .collect();
    out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out
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
    let (excludes, ignore_file) = read_ignore(root, &folder, &request.dockerfile)?;
    let filter = Filter {
        excludes,
        refuse_escaping_links: true,
        ..Filter::default()
    };
    let place = Place {
        root,
        key,
        folder: &folder,
        ignore_file: &ignore_file,
    };
    let entries = walk_listing(&dir, listing, &filter).map_err(|r| place.error(r))?;
    let entries = context_entries(entries);
    check_dockerfile(root, key, &folder, &dockerfile, &entries)?;
    Ok(Walked {
        key: key.clone(),
        folder,
        dockerfile,
        ignore_file,
        entries,
    })
}

/// The ignore file BuildKit uses: `<Dockerfile>.dockerignore` when it exists, else the
/// context's `.dockerignore`, else none (its would-be path is still returned, for help
/// texts). As BuildKit reads it from the transferred context: a symlink is followed
/// inside the context (one leading out of it finds nothing there), and a directory is no
/// ignore file.
fn read_ignore(root: &Path, folder: &str, dockerfile: &str) -> Result<(Dockerignore, String)> {
    let general = join(folder, dockerignore::FILE_NAME);
    let specific = join(folder, &dockerignore::dockerfile_specific(dockerfile));
    for candidate in [specific, general.clone()] {
        let Some(path) = resolve_ignore_file(root, folder, &candidate) else {
            continue;
        };
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let ignore = Dockerignore::parse(&text, Path::new(&candidate))?;
                return Ok((ignore, candidate));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::IsADirectory
                        | std::io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(Error::io("cannot read", path, e)),
        }
    }
    Ok((Dockerignore::default(), general))
}

/// The file an ignore-file candidate (relative to the root) reads, its symlinks resolved
/// inside the context as BuildKit resolves them; `None` when there is none (missing, a
/// directory, a link loop).
fn resolve_ignore_file(root: &Path, folder: &str, candidate: &str) -> Option<PathBuf> {
    let Some(mut rel) = in_folder(folder, candidate).map(str::to_string) else {
        // Outside the context (a Dockerfile elsewhere): read as it is.
        return Some(root.join(candidate));
    };
    let base = root.join(folder);
    // Linux's own limit of links followed in one lookup.
    for _ in 0..40 {
        let abs = base.join(&rel);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(_) => return None,
        };
        if meta.is_dir() {
            return None;
        }
        if !meta.is_symlink() {
            return Some(abs);
        }
        let target = fs::read_link(&abs).ok()?;
        rel = resolve_inside(&rel, target.to_str()?);
        // A folder above the target that is itself a link is not followed here.
        if rel.is_empty() {
            return None;
        }
    }
    None
}

/// `path` (relative to the root) relative to the context `folder`, when it is inside.
fn in_folder<'a>(folder: &str, path: &'a str) -> Option<&'a str> {
    if folder.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(folder)?.strip_prefix('/')
    }
}

/// Checks that the Dockerfile is a file (or a link to one). When it is in the context the
/// walk has already looked at it.
fn check_dockerfile(
    root: &Path,
    key: &str,
    folder: &str,
    dockerfile: &str,
    entries: &[ContextEntry],
) -> Result<()> {
    if let Some(path) = in_folder(folder, dockerfile)
        && let Ok(i) = entries.binary_search_by(|e| e.path.as_str().cmp(path))
        && matches!(entries[i].kind, EntryKind::File { .. })
    {
        return Ok(());
    }
    let abs = root.join(dockerfile);
    match fs::metadata(&abs) {
        Ok(meta) if meta.is_file() => Ok(()),
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

/// Where a context is, to word its errors.
struct Place<'a> {
    root: &'a Path,
    key: &'a str,
    folder: &'a str,
    ignore_file: &'a str,
}

impl Place<'_> {
    fn error(&self, refusal: Refusal) -> Error {
        match refusal {
            Refusal::Refused {
                path,
                problem,
                fix,
                pattern,
            } => Error::usage_with_help(
                format!(
                    "image `{}`: `{}` {problem}",
                    self.key,
                    within(self.folder, &path)
                ),
                format!(
                    "{fix}, or list `{}` in {} to leave it out of the build context",
                    pattern.as_deref().unwrap_or(&path),
                    self.ignore_file
                ),
            ),
            Refusal::Unreadable { path, error } => unreadable(
                self.root,
                self.key,
                self.folder,
                self.ignore_file,
                if path == "." { "" } else { &path },
                error,
            ),
        }
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

    #[test]
    fn links_resolve_inside_the_folder() {
        assert_eq!(resolve_inside(".dockerignore", "ci/ignore"), "ci/ignore");
        assert_eq!(resolve_inside("a/b", "../c"), "c");
        assert_eq!(resolve_inside("a/b", "../../../c"), "c");
        assert_eq!(resolve_inside("a/b", "/x/y"), "x/y");
    }

    #[test]
    fn patterns_for_names_that_are_not_utf8() {
        assert_eq!(pattern_for("", b"caf\xe9"), "caf?");
        assert_eq!(pattern_for("d*", b"\xff[x]"), "d\\*/?\\[x\\]");
    }
}
