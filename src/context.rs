//! A build context as BuildKit receives it: every entry under the context folder that
//! `.dockerignore` keeps, with what BuildKit's cache key (`cache/contenthash`) and `COPY`
//! keep of it: a file's bytes, its whole mode (permission bits, setuid, setgid, sticky),
//! the earlier path it is a hard link of, a directory's mode, a symlink's target, and every
//! entry's extended attributes. Not its modification time, owner or group (buildx resets
//! them to 0), which BuildKit's cache key leaves out too.
//!
//! This module only holds the data and its canonical digest; it opens nothing. The
//! adapter [`crate::context_reader`] fills it from the disk (the walker FileSync sends
//! from too), and [`crate::inputs_digest`] mixes its digest into each target's inputs
//! digest.

use sha2::{Digest, Sha256};

/// One entry of a context, its path relative to the context root (`/`-separated, no `.`
/// or `..` parts).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContextEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Extended attributes, sorted by name (fsutil sends them).
    pub xattrs: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// `mode` is `st_mode & 0o7777`.
    Dir {
        mode: u32,
    },
    /// `id` is the git blob object id of the bytes, SHA-1 (`sha1("blob <len>\0" + bytes)`,
    /// 40 lowercase hex digits), computed from disk. `mode` is `st_mode & 0o7777`;
    /// `hardlink` the earlier path of the context this file is a hard link of (fsutil
    /// sends it as one), or empty.
    File {
        mode: u32,
        id: String,
        hardlink: String,
    },
    Symlink {
        target: String,
    },
}

/// Every entry of one context, sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContextFiles {
    pub entries: Vec<ContextEntry>,
    /// The git blob id of the Dockerfile (wherever it lives, inside the context or not).
    pub dockerfile_id: String,
}

/// Every image's context, by image key.
pub type Contexts = std::collections::BTreeMap<String, ContextFiles>;

/// The version of the canonical encodings below; bump it when they change, so no digest
/// of an old encoding is ever taken for one of a new.
pub const ENCODING_VERSION: &str = "stackplan-inputs-v2";

/// Appends one length-prefixed field (`<len>:<bytes>,`) to a canonical encoding: no value
/// can be read as two fields or run into the next one.
pub fn field(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(value.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(value);
    out.push(b',');
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

impl ContextFiles {
    /// The digest of the context: sha256 over the canonical encoding of its sorted
    /// entries. Equal contexts give equal digests on every machine and clone.
    pub fn digest(&self) -> String {
        let mut out = Vec::with_capacity(64 + self.entries.len() * 80);
        field(&mut out, ENCODING_VERSION.as_bytes());
        field(&mut out, b"context");
        let mut sorted: Vec<&ContextEntry> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for e in sorted {
            match &e.kind {
                EntryKind::Dir { mode } => {
                    field(&mut out, b"dir");
                    field(&mut out, e.path.as_bytes());
                    field(&mut out, format!("{mode:o}").as_bytes());
                }
                EntryKind::File { mode, id, hardlink } => {
                    field(&mut out, b"file");
                    field(&mut out, e.path.as_bytes());
                    field(&mut out, format!("{mode:o}").as_bytes());
                    field(&mut out, id.as_bytes());
                    field(&mut out, hardlink.as_bytes());
                }
                EntryKind::Symlink { target } => {
                    field(&mut out, b"link");
                    field(&mut out, e.path.as_bytes());
                    field(&mut out, target.as_bytes());
                }
            }
            for (name, value) in &e.xattrs {
                field(&mut out, b"xattr");
                field(&mut out, name.as_bytes());
                field(&mut out, value);
            }
        }
        sha256(&out)
    }
}

/// The git blob object id (SHA-1) of `bytes`, as `git hash-object` computes it.
pub fn blob_id(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

/// [`blob_id`] of the `len` bytes `reader` gives, read in pieces so that a large file of a
/// context need not fit in memory. Fails when the reader gives more or fewer bytes (a file
/// that changed while it was read), never returning the id of other bytes.
pub fn blob_id_of(len: u64, mut reader: impl std::io::Read) -> std::io::Result<String> {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if total > len {
            break;
        }
        h.update(&buf[..n]);
    }
    if total != len {
        return Err(std::io::Error::other(format!(
            "read {total} bytes where {len} were expected: the file changed while it was read"
        )));
    }
    Ok(hex(&h.finalize()))
}

/// Lowercase hex, two digits a byte (a table, not `format!`: tens of thousands of digests
/// are written per plan of a large stack).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, id: &str) -> ContextEntry {
        ContextEntry {
            path: path.into(),
            kind: EntryKind::File {
                mode: 0o644,
                id: id.into(),
                hardlink: String::new(),
            },
            xattrs: Vec::new(),
        }
    }

    #[test]
    fn blob_ids_are_gits() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // `git hash-object /dev/null`
        assert_eq!(blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    }

    #[test]
    fn blob_ids_read_in_pieces_are_the_same() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for bytes in [&b""[..], b"hello\n", &big] {
            assert_eq!(
                blob_id_of(bytes.len() as u64, bytes).unwrap(),
                blob_id(bytes)
            );
        }
        assert!(blob_id_of(3, &b"ab"[..]).is_err());
        assert!(blob_id_of(1, &b"ab"[..]).is_err());
    }

    #[test]
    fn the_digest_ignores_entry_order_and_sees_every_field() {
        let a = ContextFiles {
            entries: vec![file("a", "1"), file("b", "2")],
            ..ContextFiles::default()
        };
        let b = ContextFiles {
            entries: vec![file("b", "2"), file("a", "1")],
            ..ContextFiles::default()
        };
        assert_eq!(a.digest(), b.digest());
        // Every mode bit counts: BuildKit's cache key and `COPY` keep the whole mode.
        for mode in [0o755, 0o600, 0o664, 0o4644, 0o2644, 0o1644] {
            let mut other = a.clone();
            other.entries[0].kind = EntryKind::File {
                mode,
                id: "1".into(),
                hardlink: String::new(),
            };
            assert_ne!(a.digest(), other.digest(), "{mode:o}");
        }
        let mut linked = a.clone();
        linked.entries[1].kind = EntryKind::File {
            mode: 0o644,
            id: "2".into(),
            hardlink: "a".into(),
        };
        assert_ne!(a.digest(), linked.digest());
        let mut xattr = a.clone();
        xattr.entries[0].xattrs = vec![("user.x".into(), b"1".to_vec())];
        assert_ne!(a.digest(), xattr.digest());
        let dir = |mode| ContextFiles {
            entries: vec![ContextEntry {
                path: "d".into(),
                kind: EntryKind::Dir { mode },
                xattrs: Vec::new(),
            }],
            ..ContextFiles::default()
        };
        assert_ne!(dir(0o755).digest(), dir(0o700).digest());
        let mut renamed = a.clone();
        renamed.entries[0].path = "c".into();
        assert_ne!(a.digest(), renamed.digest());
        let mut link = a.clone();
        link.entries[0].kind = EntryKind::Symlink { target: "1".into() };
        assert_ne!(a.digest(), link.digest());
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let one = ContextFiles {
            entries: vec![file("ab", "c")],
            ..ContextFiles::default()
        };
        let two = ContextFiles {
            entries: vec![file("a", "bc")],
            ..ContextFiles::default()
        };
        assert_ne!(one.digest(), two.digest());
    }
}
