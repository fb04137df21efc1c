//! The session's `moby.filesync.v1.FileSync` service: BuildKit reads a target's folders
//! (`context`, and `dockerfile`, the Dockerfile's folder) from the client through it, as it
//! does from buildx, so a context of any size streams from disk.
//!
//! The protocol is fsutil's `DiffCopy`, with us as the sender: one `STAT` packet per entry
//! (parents before children, each folder's entries sorted by name), an empty `STAT` to end
//! the list, then for each `REQ <n>` (the n-th stat, a regular file) its bytes as `DATA <n>`
//! packets closed by an empty one; a `FIN` from BuildKit is answered with `FIN`. Which
//! entries go is BuildKit's choice, in the call's metadata: `dir-name`, `include-patterns`,
//! `exclude-patterns` (the frontend's reading of `.dockerignore`), `followpaths`. Stats
//! carry what buildx's client sends: Go's `FileMode` bits, the size, the modification time
//! in nanoseconds, a symlink's target, and uid/gid 0 (buildx resets them), so a `COPY`
//! gives the same layer as a bake of the same checkout.
//!
//! Not sent, as fsutil would: extended attributes, hard links as links (each path goes as
//! its own file), device numbers.
//!
//! Exclude patterns are read by [`crate::dockerignore`], the reader the inputs digest uses,
//! so what is hashed and what is sent follow the same rules. Include patterns (fsutil's
//! `include-patterns`, a path or a folder above it matching) use the small [`Patterns`]
//! matcher below.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::{Packet, Stat, packet::PacketType};
use bollard_buildkit_proto::moby::filesync::packet::file_sync_server::FileSync;
use globset::{GlobBuilder, GlobMatcher};

use crate::dockerignore::Dockerignore;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// How much of a file one `DATA` packet carries.
const CHUNK: usize = 128 * 1024;

/// Go's `os.FileMode` type bits, as fsutil puts them in `Stat.mode`.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
    /// Every type bit: a mode without any is a regular file.
    pub const TYPE: u32 = DIR | SYMLINK | NAMED_PIPE | SOCKET | DEVICE | CHAR_DEVICE | (1 << 19);
}

/// The folders one session serves, by the name BuildKit asks for.
pub type Dirs = BTreeMap<String, PathBuf>;

pub struct FileSyncService {
    dirs: Arc<Dirs>,
}

impl FileSyncService {
    pub fn new(dirs: Dirs) -> FileSyncService {
        FileSyncService {
            dirs: Arc::new(dirs),
        }
    }
}

/// The values of one metadata key (repeated), decoded as BuildKit encodes non-ASCII ones.
fn values(metadata: &tonic::metadata::MetadataMap, key: &str) -> Vec<String> {
    let encoded = metadata
        .get(format!("{key}-encoded"))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    metadata
        .get_all(key)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| if encoded { unescape(v) } else { v.to_string() })
        .collect()
}

/// Go's `url.QueryUnescape`.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;
    type TarStreamStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let metadata = request.metadata();
        let name = values(metadata, "dir-name").into_iter().next();
        let name = name.unwrap_or_default();
        let Some(root) = self.dirs.get(&name).cloned() else {
            return Err(Status::not_found(format!(
                "no access allowed to dir {name:?}"
            )));
        };
        let filter = Filter {
            includes: Patterns::new(&values(metadata, "include-patterns")),
            excludes: excludes(&values(metadata, "exclude-patterns"))?,
            follow: values(metadata, "followpaths"),
        };
        let incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(send(root, filter, incoming, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn tar_stream(
        &self,
        _: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented(
            "tar streams are not served; use DiffCopy",
        ))
    }
}

fn packet(ty: PacketType) -> Packet {
    Packet {
        r#type: ty as i32,
        ..Packet::default()
    }
}

/// One transfer: the stats, then the files BuildKit asks for, until it says `FIN`.
async fn send(
    root: PathBuf,
    filter: Filter,
    mut incoming: Streaming<Packet>,
    tx: mpsc::Sender<Result<Packet, Status>>,
) {
    let walked = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || walk(&root, &filter)).await
    };
    let entries = match walked {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => {
            let _ = tx
                .send(Ok(Packet {
                    data: e.into_bytes(),
                    ..packet(PacketType::PacketErr)
                }))
                .await;
            return;
        }
        Err(_) => return,
    };
    let mut files: HashMap<u32, PathBuf> = HashMap::new();
    for (i, stat) in entries.into_iter().enumerate() {
        if stat.mode & go_mode::TYPE == 0 {
            files.insert(i as u32, root.join(&stat.path));
        }
        let p = Packet {
            stat: Some(stat),
            ..packet(PacketType::PacketStat)
        };
        if tx.send(Ok(p)).await.is_err() {
            return;
        }
    }
    if tx.send(Ok(packet(PacketType::PacketStat))).await.is_err() {
        return;
    }
    while let Ok(Some(p)) = incoming.message().await {
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketReq) => {
                let Some(path) = files.remove(&p.id) else {
                    let _ = tx
                        .send(Ok(Packet {
                            data: format!("invalid file id {}", p.id).into_bytes(),
                            ..packet(PacketType::PacketErr)
                        }))
                        .await;
                    return;
                };
                if send_file(p.id, &path, &tx).await.is_err() {
                    return;
                }
            }
            Ok(PacketType::PacketFin) => {
                let _ = tx.send(Ok(packet(PacketType::PacketFin))).await;
                return;
            }
            Ok(PacketType::PacketErr) => return,
            _ => {}
        }
    }
}

/// A file's bytes as `DATA` packets, then the empty one that ends it. A file that cannot be
/// opened any more ends empty, as fsutil does.
async fn send_file(
    id: u32,
    path: &Path,
    tx: &mpsc::Sender<Result<Packet, Status>>,
) -> Result<(), ()> {
    if let Ok(mut file) = tokio::fs::File::open(path).await {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await.map_err(|_| ())?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            tx.send(Ok(Packet {
                id,
                data: buf,
                ..packet(PacketType::PacketData)
            }))
            .await
            .map_err(|_| ())?;
        }
    }
    tx.send(Ok(Packet {
        id,
        ..packet(PacketType::PacketData)
    }))
    .await
    .map_err(|_| ())
}

/// The exclude patterns BuildKit sent, read as a `.dockerignore`.
fn excludes(patterns: &[String]) -> Result<Dockerignore, Status> {
    Dockerignore::parse(&patterns.join("\n"), Path::new("exclude-patterns"))
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// What BuildKit asked for.
struct Filter {
    includes: Patterns,
    excludes: Dockerignore,
    follow: Vec<String>,
}

impl Filter {
    fn included(&self, path: &str) -> bool {
        if self.includes.is_empty() && self.follow.is_empty() {
            return true;
        }
        self.includes.matches(path)
            || self
                .follow
                .iter()
                .any(|f| clean(f) == path || path.starts_with(&format!("{}/", clean(f))))
    }

    /// Whether a folder may hold something that is sent.
    fn may_hold(&self, dir: &str) -> bool {
        if self.excludes.excludes(dir) && !self.excludes.may_reinclude_below(dir) {
            return false;
        }
        if self.includes.is_empty() && self.follow.is_empty() {
            return true;
        }
        let prefix = format!("{dir}/");
        self.includes.may_match_under(dir)
            || self.follow.iter().any(|f| {
                let f = clean(f);
                f.starts_with(&prefix) || f == dir
            })
    }

    fn kept(&self, path: &str) -> bool {
        self.included(path) && !self.excludes.excludes(path)
    }
}

/// `path` without a leading `/` or `./`, and without a trailing `/`.
fn clean(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

/// Walks `root` into stats, sorted as fsutil walks (each folder by name, parents first). A
/// folder is sent when it is kept itself or holds something kept.
fn walk(root: &Path, filter: &Filter) -> Result<Vec<Stat>, String> {
    let mut out = Vec::new();
    // Follow paths that are symlinks bring their target along (a Dockerfile that is a link).
    let mut filter_follow = filter.follow.clone();
    for f in &filter.follow {
        if let Ok(target) = std::fs::read_link(root.join(clean(f))) {
            let target = Path::new(&clean(f))
                .parent()
                .unwrap_or(Path::new(""))
                .join(target);
            filter_follow.push(target.to_string_lossy().into_owned());
        }
    }
    let filter = Filter {
        includes: filter.includes.clone(),
        excludes: filter.excludes.clone(),
        follow: filter_follow,
    };
    walk_dir(root, "", &filter, &mut out)?;
    Ok(out)
}

fn walk_dir(dir: &Path, rel: &str, filter: &Filter, out: &mut Vec<Stat>) -> Result<(), String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<_> = read.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let full = dir.join(&name);
        let meta = std::fs::symlink_metadata(&full)
            .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        if meta.is_dir() {
            let kept = filter.kept(&path);
            if !kept && !filter.may_hold(&path) {
                continue;
            }
            let at = out.len();
            out.push(stat(&path, &meta, &full));
            walk_dir(&full, &path, filter, out)?;
            if !kept && out.len() == at + 1 {
                out.pop();
            }
        } else if filter.kept(&path) {
            out.push(stat(&path, &meta, &full));
        }
    }
    Ok(())
}

fn stat(path: &str, meta: &std::fs::Metadata, full: &Path) -> Stat {
    let raw = meta.mode();
    let mut mode = raw & 0o777;
    let ft = meta.file_type();
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        mode |= go_mode::DIR;
    } else if ft.is_symlink() {
        mode |= go_mode::SYMLINK;
    } else if ft.is_fifo() {
        mode |= go_mode::NAMED_PIPE;
    } else if ft.is_socket() {
        mode |= go_mode::SOCKET;
    } else if ft.is_block_device() {
        mode |= go_mode::DEVICE;
    } else if ft.is_char_device() {
        mode |= go_mode::DEVICE | go_mode::CHAR_DEVICE;
    }
    if raw & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if raw & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if raw & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    let _ = meta.permissions().mode();
    let linkname = if ft.is_symlink() {
        std::fs::read_link(full)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    Stat {
        path: path.to_string(),
        mode,
        uid: 0,
        gid: 0,
        size: if ft.is_dir() { 0 } else { meta.len() as i64 },
        mod_time: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        linkname,
        devmajor: 0,
        devminor: 0,
        xattrs: HashMap::new(),
    }
}

/// Include patterns, in order; `!` patterns are exceptions.
#[derive(Clone, Default)]
pub struct Patterns {
    patterns: Vec<(bool, String, GlobMatcher)>,
}

impl Patterns {
    pub fn new(patterns: &[String]) -> Patterns {
        let patterns = patterns
            .iter()
            .filter_map(|p| {
                let (exception, p) = match p.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, p.as_str()),
                };
                let p = clean(p.trim());
                if p.is_empty() {
                    return None;
                }
                let glob = GlobBuilder::new(&p)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .ok()?;
                Some((exception, p, glob.compile_matcher()))
            })
            .collect();
        Patterns { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (or a folder above it) matches, the last matching pattern deciding.
    pub fn matches(&self, path: &str) -> bool {
        let mut matched = false;
        for (exception, _, glob) in &self.patterns {
            if *exception != matched {
                continue;
            }
            if or_parent(glob, path) {
                matched = !exception;
            }
        }
        matched
    }

    /// Whether some pattern could match a path under `dir`.
    fn may_match_under(&self, dir: &str) -> bool {
        self.patterns.iter().any(|(exception, p, glob)| {
            !exception
                && (or_parent(glob, dir)
                    || p.contains(['*', '?', '['])
                    || p.starts_with(&format!("{dir}/")))
        })
    }
}

fn or_parent(glob: &GlobMatcher, path: &str) -> bool {
    if glob.is_match(path) {
        return true;
    }
    let mut at = path;
    while let Some((parent, _)) = at.rsplit_once('/') {
        if glob.is_match(parent) {
            return true;
        }
        at = parent;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for dir in ["data/big", "data/keep", "src", "zz"] {
            std::fs::create_dir_all(p.join(dir)).unwrap();
        }
        for file in [
            "Dockerfile",
            ".dockerignore",
            "data/big/a.bin",
            "data/keep/k.txt",
            "data/top.txt",
            "src/main.sh",
            "src/notes.md",
            "a-b",
        ] {
            std::fs::write(p.join(file), file).unwrap();
        }
        std::os::unix::fs::symlink("src/main.sh", p.join("link")).unwrap();
        d
    }

    fn paths(root: &Path, inc: &[&str], exc: &[&str], follow: &[&str]) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let filter = Filter {
            includes: Patterns::new(&s(inc)),
            excludes: excludes(&s(exc)).unwrap(),
            follow: s(follow),
        };
        walk(root, &filter)
            .unwrap()
            .into_iter()
            .map(|s| s.path)
            .collect()
    }

    #[test]
    fn everything_in_fsutil_order_with_go_modes() {
        let d = tree();
        let all = paths(d.path(), &[], &[], &[]);
        assert_eq!(
            all,
            [
                ".dockerignore",
                "Dockerfile",
                "a-b",
                "data",
                "data/big",
                "data/big/a.bin",
                "data/keep",
                "data/keep/k.txt",
                "data/top.txt",
                "link",
                "src",
                "src/main.sh",
                "src/notes.md",
                "zz"
            ]
        );
        let filter = Filter {
            includes: Patterns::default(),
            excludes: Dockerignore::default(),
            follow: vec![],
        };
        let stats = walk(d.path(), &filter).unwrap();
        let by = |p: &str| stats.iter().find(|s| s.path == p).unwrap().clone();
        assert_eq!(by("data").mode & go_mode::DIR, go_mode::DIR);
        assert_eq!(by("link").mode & go_mode::SYMLINK, go_mode::SYMLINK);
        assert_eq!(by("link").linkname, "src/main.sh");
        assert_eq!(by("Dockerfile").mode & go_mode::TYPE, 0);
        assert_eq!(by("Dockerfile").size, 10);
        assert_eq!((by("Dockerfile").uid, by("Dockerfile").gid), (0, 0));
        assert!(by("Dockerfile").mod_time > 1_600_000_000_000_000_000);
    }

    #[test]
    fn excludes_with_exceptions_and_folders() {
        let d = tree();
        // `*.md` is the top folder's only, as in Docker (`*` does not cross `/`).
        assert_eq!(
            paths(d.path(), &[], &["data", "!data/keep", "*.md"], &[]),
            [
                ".dockerignore",
                "Dockerfile",
                "a-b",
                "data",
                "data/keep",
                "data/keep/k.txt",
                "link",
                "src",
                "src/main.sh",
                "src/notes.md",
                "zz"
            ]
        );
        assert_eq!(
            paths(d.path(), &[], &["**/*.bin", "**/*.md", "zz", "link"], &[]),
            [
                ".dockerignore",
                "Dockerfile",
                "a-b",
                "data",
                "data/big",
                "data/keep",
                "data/keep/k.txt",
                "data/top.txt",
                "src",
                "src/main.sh"
            ]
        );
    }

    #[test]
    fn includes_and_follow_paths_bring_their_parents() {
        let d = tree();
        assert_eq!(
            paths(d.path(), &[], &[], &[".dockerignore"]),
            [".dockerignore"]
        );
        assert_eq!(
            paths(
                d.path(),
                &[],
                &[],
                &["Dockerfile", "Dockerfile.dockerignore"]
            ),
            ["Dockerfile"]
        );
        assert_eq!(
            paths(d.path(), &["data/keep"], &[], &[]),
            ["data", "data/keep", "data/keep/k.txt"]
        );
        assert_eq!(
            paths(d.path(), &[], &[], &["link"]),
            ["link", "src", "src/main.sh"]
        );
    }

    #[test]
    fn encoded_metadata_is_decoded() {
        assert_eq!(unescape("caf%C3%A9+x"), "café x");
        assert_eq!(unescape("100%"), "100%");
    }
}
