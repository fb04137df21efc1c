//! LLB, BuildKit's build graph, for the one thing stackplan sends as LLB: a folder of files
//! given to the Dockerfile frontend as an input (`FrontendInputs` `context` and
//! `dockerfile`), so a solve needs no file-sync session.
//!
//! The words follow BuildKit's Go client (`client/llb`): a *state* is built from *ops*, an
//! op is addressed by the digest of its serialized bytes, and *marshal* turns the graph into
//! a [`Definition`]: every op's bytes, the last one a terminal op whose input is the result.
//!
//! Why not `buildkit-llb` (the 2020 Rust builder)? It is built on prost 0.6 and tonic 0.1:
//! its types cannot meet the tonic/prost 0.14 client of `bollard-buildkit-proto`, and its
//! `Definition` would have to be re-encoded anyway. The ops needed here are three kinds of
//! `FileAction` on scratch, a few dozen lines over the maintained proto types.

use std::collections::BTreeMap;
use std::path::Path;

use bollard_buildkit_proto::pb::{self, Definition, FileAction, FileOp, Input, Op, OpMetadata};
use prost::Message;
use sha2::{Digest, Sha256};

/// The most file data one folder may carry inline. A solve request is one gRPC message and
/// servers commonly accept 4 MiB; this leaves room for the rest of the request.
pub const MAX_INLINE_BYTES: u64 = 3 * 1024 * 1024;

/// One entry of a folder, in walk order (parents before children).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// `sha256:<hex>` of serialized bytes: how LLB addresses an op.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in hash {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("sha256:{hex}")
}

/// A state made of files on scratch, marshalled: one `FileOp` whose actions create the
/// entries one after another, then the terminal op. `name` shows in BuildKit's progress.
pub fn marshal_files(entries: &[Entry], name: &str) -> Definition {
    let actions: Vec<FileAction> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| FileAction {
            // The first action starts from scratch (-1); each next one from the previous
            // action's result (with no op inputs, action i's result is index i).
            input: i as i64 - 1,
            secondary_input: -1,
            output: if i + 1 == entries.len() { 0 } else { -1 },
            action: Some(match entry {
                Entry::Dir { path, mode } => pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                    path: format!("/{path}"),
                    mode: *mode as i32,
                    make_parents: true,
                    owner: None,
                    timestamp: -1,
                }),
                Entry::File { path, mode, data } => {
                    pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                        path: format!("/{path}"),
                        mode: *mode as i32,
                        data: data.clone(),
                        owner: None,
                        timestamp: -1,
                    })
                }
                Entry::Symlink { path, target } => {
                    pb::file_action::Action::Symlink(pb::FileActionSymlink {
                        oldpath: target.clone(),
                        newpath: format!("/{path}"),
                        owner: None,
                        timestamp: -1,
                    })
                }
            }),
        })
        .collect();
    let mut def = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut inputs = Vec::new();
    if !actions.is_empty() {
        let file_op = Op {
            inputs: Vec::new(),
            op: Some(pb::op::Op::File(FileOp { actions })),
            platform: None,
            constraints: None,
        };
        let bytes = file_op.encode_to_vec();
        let d = digest(&bytes);
        let mut description = BTreeMap::new();
        description.insert("llb.customname".to_string(), name.to_string());
        metadata.insert(
            d.clone(),
            OpMetadata {
                description,
                ..OpMetadata::default()
            },
        );
        def.push(bytes);
        inputs.push(Input {
            digest: d,
            index: 0,
        });
    }
    // The terminal op: no body, its one input is the result.
    let terminal = Op {
        inputs,
        op: None,
        platform: None,
        constraints: None,
    };
    def.push(terminal.encode_to_vec());
    Definition {
        def,
        metadata,
        source: None,
    }
}

/// Why a folder cannot be sent inline.
#[derive(Debug)]
pub enum ReadError {
    Io(std::path::PathBuf, std::io::Error),
    TooLarge { bytes: u64 },
}

/// Reads a folder into entries (sorted, parents first), refusing more than
/// [`MAX_INLINE_BYTES`] of file data.
pub fn read_folder(root: &Path) -> Result<Vec<Entry>, ReadError> {
    let mut out = Vec::new();
    let mut total = 0u64;
    walk(root, root, &mut out, &mut total)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>, total: &mut u64) -> Result<(), ReadError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |p: &Path, e| ReadError::Io(p.to_path_buf(), e);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| io(&path, e))?;
            out.push(Entry::Symlink {
                path: rel,
                target: target.to_string_lossy().into_owned(),
            });
        } else if meta.is_dir() {
            out.push(Entry::Dir { path: rel, mode });
            walk(root, &path, out, total)?;
        } else if meta.is_file() {
            *total += meta.len();
            if *total > MAX_INLINE_BYTES {
                return Err(ReadError::TooLarge { bytes: *total });
            }
            let data = std::fs::read(&path).map_err(|e| io(&path, e))?;
            out.push(Entry::File {
                path: rel,
                mode,
                data,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(def: &Definition) -> Vec<Op> {
        def.def
            .iter()
            .map(|b| Op::decode(b.as_slice()).unwrap())
            .collect()
    }

    #[test]
    fn files_become_a_chain_of_file_actions_on_scratch() {
        let entries = vec![
            Entry::Dir {
                path: "scripts".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "Dockerfile".into(),
                mode: 0o644,
                data: b"FROM x\n".to_vec(),
            },
            Entry::File {
                path: "scripts/run".into(),
                mode: 0o755,
                data: b"#!/bin/sh\n".to_vec(),
            },
            Entry::Symlink {
                path: "latest".into(),
                target: "scripts/run".into(),
            },
        ];
        let def = marshal_files(&entries, "context base");
        let ops = decode(&def);
        assert_eq!(ops.len(), 2, "a file op and the terminal op");
        // Every op is addressed by the digest of its bytes.
        let file_digest = digest(&def.def[0]);
        assert_eq!(
            ops[1].inputs,
            vec![Input {
                digest: file_digest.clone(),
                index: 0
            }]
        );
        assert!(ops[1].op.is_none());
        assert_eq!(
            def.metadata[&file_digest].description["llb.customname"],
            "context base"
        );
        let Some(pb::op::Op::File(file)) = &ops[0].op else {
            panic!("not a file op")
        };
        let inputs: Vec<i64> = file.actions.iter().map(|a| a.input).collect();
        let outputs: Vec<i64> = file.actions.iter().map(|a| a.output).collect();
        assert_eq!(inputs, [-1, 0, 1, 2]);
        assert_eq!(outputs, [-1, -1, -1, 0]);
        match &file.actions[2].action {
            Some(pb::file_action::Action::Mkfile(f)) => {
                assert_eq!(f.path, "/scripts/run");
                assert_eq!(f.mode, 0o755);
                assert_eq!(f.data, b"#!/bin/sh\n");
            }
            other => panic!("{other:?}"),
        }
        match &file.actions[3].action {
            Some(pb::file_action::Action::Symlink(s)) => {
                assert_eq!(
                    (s.oldpath.as_str(), s.newpath.as_str()),
                    ("scripts/run", "/latest")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn marshalling_is_deterministic() {
        let entries = vec![Entry::File {
            path: "a".into(),
            mode: 0o644,
            data: b"x".to_vec(),
        }];
        assert_eq!(marshal_files(&entries, "n"), marshal_files(&entries, "n"));
        let other = vec![Entry::File {
            path: "a".into(),
            mode: 0o644,
            data: b"y".to_vec(),
        }];
        assert_ne!(
            marshal_files(&entries, "n").def[0],
            marshal_files(&other, "n").def[0]
        );
    }

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        assert_eq!(
            digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn reading_a_folder_walks_parents_first_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/x.sh"), "echo").unwrap();
        std::fs::set_permissions(
            dir.path().join("b/x.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(dir.path().join("a"), "1").unwrap();
        let entries = read_folder(dir.path()).unwrap();
        let paths: Vec<&str> = entries
            .iter()
            .map(|e| match e {
                Entry::Dir { path, .. }
                | Entry::File { path, .. }
                | Entry::Symlink { path, .. } => path.as_str(),
            })
            .collect();
        assert_eq!(paths, ["a", "b", "b/x.sh"]);
        assert!(matches!(&entries[2], Entry::File { mode: 0o755, .. }));
        std::fs::write(
            dir.path().join("big"),
            vec![0u8; (MAX_INLINE_BYTES + 1) as usize],
        )
        .unwrap();
        assert!(matches!(
            read_folder(dir.path()),
            Err(ReadError::TooLarge { .. })
        ));
    }
}
