//! Adapter: reads each image's build context from a checkout, as BuildKit would receive
//! it, into [`ContextFiles`].
//!
//! The context is the folder as it is on disk (gitignored files included: buildx sends
//! them), less what its `.dockerignore` excludes, walked by [`walk`], the one walker of the
//! crate (the FileSync service of `stackplan build` sends what it yields). Every file's
//! id is git's blob id of its bytes, hashed from disk ([`hash`]): what BuildKit reads is
//! what is hashed, whatever git's index says (a working tree whose bytes differ from what
//! git would check out, after an `eol` rule changed or an edit git's stat cache missed,
//! is hashed as it is). Walking and hashing are spread over threads when there are many
//! ([`crate::parallel`]).
//!
//! It does not decide what the digest is for, nor which images need one.

mod hash;

pub mod walk;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::context::{ContextFiles, EntryKind};
use crate::error::Result;
use crate::parallel;

/// One image's context to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextRequest {
    /// The image key; the result is keyed by it.
    pub key: String,
    /// The context folder relative to the repository root, `/`-separated.
    pub folder: String,
    /// The Dockerfile, relative to `folder`.
    pub dockerfile: String,
    /// The Dockerfile's blob id when the caller has read it already (the stack parsed it):
    /// it is not read again.
    pub dockerfile_id: Option<String>,
}

/// Below this many contexts per thread, walking them on one thread is as fast.
const CONTEXTS_PER_THREAD: usize = 32;

/// Reads the context of every request under `root` (a checkout, not necessarily a git
/// repository), keyed by image key.
pub fn read_contexts(
    root: &Path,
    requests: &[ContextRequest],
) -> Result<BTreeMap<String, ContextFiles>> {
    digest_contexts(root, requests, walk_contexts(root, requests)?)
}

/// The context folders walked: every entry, no file read yet.
pub struct Walked(Vec<walk::Walked>);

/// Walks the context of every request (the first half of [`read_contexts`]: it needs no
/// Dockerfile id, so it can run while the stack is still being checked).
pub fn walk_contexts(root: &Path, requests: &[ContextRequest]) -> Result<Walked> {
    parallel::map(requests, CONTEXTS_PER_THREAD, |request| {
        walk::walk(root, request)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()
    .map(Walked)
}

/// The ids of the walked contexts' files, and the contexts keyed by image key (the second
/// half of [`read_contexts`]). `requests` are the ones walked, in the same order; their
/// Dockerfile ids may have been filled in since.
pub fn digest_contexts(
    root: &Path,
    requests: &[ContextRequest],
    Walked(walked): Walked,
) -> Result<BTreeMap<String, ContextFiles>> {
    debug_assert!(
        walked.len() == requests.len() && walked.iter().zip(requests).all(|(w, r)| w.key == r.key),
        "the requests walked, in order"
    );
    // Every file once, even when contexts share it: its index among those hashed, or
    // the id the request knows (a Dockerfile the caller read).
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut known: HashMap<String, String> = HashMap::new();
    for (request, w) in requests.iter().zip(&walked) {
        if let Some(id) = &request.dockerfile_id {
            known.insert(w.dockerfile.clone(), id.clone());
        }
    }
    let mut disk: Vec<(String, usize)> = Vec::new();
    let mut add = |path: String, request: usize| {
        if !known.contains_key(&path) && !index.contains_key(&path) {
            index.insert(path.clone(), disk.len());
            disk.push((path, request));
        }
    };
    for (i, w) in walked.iter().enumerate() {
        for entry in &w.entries {
            if matches!(entry.kind, EntryKind::File { .. }) {
                add(walk::within(&w.folder, &entry.path), i);
            }
        }
        // BuildKit reads the Dockerfile through a symlink: its bytes are hashed.
        add(w.dockerfile.clone(), i);
    }

    let paths: Vec<PathBuf> = disk.iter().map(|(path, _)| root.join(path)).collect();
    let hashed = hash::blob_ids(&paths);
    let mut disk_ids = Vec::with_capacity(hashed.len());
    for ((path, request), result) in disk.iter().zip(hashed) {
        match result {
            Ok(id) => disk_ids.push(id),
            Err(e) => return Err(walked[*request].unreadable(root, path, e)),
        }
    }

    let id_of = |path: &str| match known.get(path) {
        Some(id) => id.clone(),
        None => disk_ids[index[path]].clone(),
    };
    let mut contexts = BTreeMap::new();
    for (request, w) in requests.iter().zip(walked) {
        let mut files = ContextFiles {
            dockerfile_id: id_of(&w.dockerfile),
            ..ContextFiles::default()
        };
        files.entries = w.entries;
        for entry in &mut files.entries {
            if let EntryKind::File { id, .. } = &mut entry.kind {
                *id = id_of(&walk::within(&w.folder, &entry.path));
            }
        }
        contexts.insert(request.key.clone(), files);
    }
    Ok(contexts)
}
