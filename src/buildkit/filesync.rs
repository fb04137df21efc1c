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
//! Extended attributes go too, and a file whose inode was sent already goes as a hard link
//! to its first path (`linkname`, size 0), as fsutil sends them.
//!
//! The entries are the ones [`crate::context_reader::walk`] yields, the walker the inputs
//! digest reads, with the patterns read by [`crate::dockerignore`], its one matcher
//! (include patterns too): what is hashed is what is sent. This module only turns entries
//! into `Stat`s ([`stats`]) and speaks the protocol.

use std::collections::{BTreeMap, HashMap};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::{Packet, Stat, packet::PacketType};
use bollard_buildkit_proto::moby::filesync::packet::file_sync_server::FileSync;

use crate::context_reader::walk::{self, Entry, Filter, Kind};
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
            includes: patterns(&values(metadata, "include-patterns"), "include-patterns")?,
            excludes: patterns(&values(metadata, "exclude-patterns"), "exclude-patterns")?,
            follow: values(metadata, "followpaths"),
            refuse_escaping_links: false,
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
        tokio::task::spawn_blocking(move || stats(&root, &filter)).await
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

/// Patterns BuildKit sent (`name` says which), read as a `.dockerignore`.
fn patterns(patterns: &[String], name: &str) -> Result<Dockerignore, Status> {
    Dockerignore::parse(&patterns.join("\n"), Path::new(name))
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The stats of `root` walked with `filter`, in fsutil's order (each folder by name,
/// parents first): the walker's entries as fsutil's `Stat`s.
pub fn stats(root: &Path, filter: &Filter) -> Result<Vec<Stat>, String> {
    walk::walk_folder(root, filter)
        .map(|entries| entries.iter().map(stat).collect())
        .map_err(|e| e.to_string())
}

/// One entry as fsutil's `Stat`: Go's `FileMode` bits, uid and gid 0 (buildx resets
/// them).
pub fn stat(entry: &Entry) -> Stat {
    let mut mode = entry.mode & 0o777;
    match entry.kind {
        Kind::Dir => mode |= go_mode::DIR,
        Kind::Symlink => mode |= go_mode::SYMLINK,
        Kind::File => {}
    }
    if entry.mode & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if entry.mode & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if entry.mode & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    Stat {
        path: entry.path.clone(),
        mode,
        uid: 0,
        gid: 0,
        size: entry.size as i64,
        mod_time: entry.mtime_ns,
        linkname: entry.link.clone(),
        devmajor: 0,
        devminor: 0,
        xattrs: entry
            .xattrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The mode bits of a `Stat` back as `st_mode & 0o7777`: for the tests that FileSync sends
/// what the walker read.
#[cfg(test)]
pub fn unix_mode(stat: &Stat) -> u32 {
    let mut mode = stat.mode & 0o777;
    if stat.mode & go_mode::SETUID != 0 {
        mode |= 0o4000;
    }
    if stat.mode & go_mode::SETGID != 0 {
        mode |= 0o2000;
    }
    if stat.mode & go_mode::STICKY != 0 {
        mode |= 0o1000;
    }
    mode
}

/// Whether a `Stat` is a directory, a symlink, or a file: for the same tests.
#[cfg(test)]
pub fn kind(stat: &Stat) -> Kind {
    if stat.mode & go_mode::DIR != 0 {
        Kind::Dir
    } else if stat.mode & go_mode::SYMLINK != 0 {
        Kind::Symlink
    } else {
        Kind::File
    }
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
            includes: patterns(&s(inc), "include-patterns").unwrap(),
            excludes: patterns(&s(exc), "exclude-patterns").unwrap(),
            follow: s(follow),
            refuse_escaping_links: false,
        };
        stats(root, &filter)
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
        let stats = stats(d.path(), &Filter::default()).unwrap();
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

    /// Issue 22 case 1: FileSync sends the whole mode, hard links as links to their first
    /// path (size 0), and extended attributes, as fsutil does.
    #[test]
    fn modes_hard_links_and_xattrs_are_sent() {
        use std::os::unix::fs::PermissionsExt;
        let d = tree();
        let p = d.path();
        let chmod = |path: &str, mode| {
            std::fs::set_permissions(p.join(path), std::fs::Permissions::from_mode(mode)).unwrap()
        };
        chmod("src/main.sh", 0o4750);
        chmod("data", 0o1700);
        std::fs::hard_link(p.join("a-b"), p.join("zz/hard")).unwrap();
        let xattr_set = xattr::set(p.join("Dockerfile"), "user.k", b"v").is_ok();
        let stats = stats(p, &Filter::default()).unwrap();
        let by = |path: &str| stats.iter().find(|s| s.path == path).unwrap().clone();
        assert_eq!(by("src/main.sh").mode, 0o750 | go_mode::SETUID);
        assert_eq!(by("data").mode, 0o700 | go_mode::DIR | go_mode::STICKY);
        assert_eq!(unix_mode(&by("src/main.sh")), 0o4750);
        assert_eq!(by("a-b").linkname, "");
        assert_eq!(by("zz/hard").linkname, "a-b");
        assert_eq!(by("zz/hard").size, 0);
        if xattr_set {
            assert_eq!(
                by("Dockerfile").xattrs.get("user.k").map(Vec::as_slice),
                Some(&b"v"[..])
            );
        }
    }

    #[test]
    fn encoded_metadata_is_decoded() {
        assert_eq!(unescape("caf%C3%A9+x"), "café x");
        assert_eq!(unescape("100%"), "100%");
    }
}
