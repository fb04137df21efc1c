//! Adapter: reads each image's build context from a checkout, as BuildKit would receive
//! it, into [`ContextFiles`].
//!
//! The context is the folder as it is on disk (gitignored files included: buildx sends
//! them), less what its `.dockerignore` excludes ([`walk`]). A file's id is git's blob id,
//! hashed from disk ([`hash`]); when the contexts hold more than
//! [`ReadOptions::ask_git_above`] bytes, git's index is asked first and vouches for the
//! files whose committed blob is what is on disk ([`Git::clean_blobs`], one set of git
//! commands for all images). Asking git costs five processes whatever the size, so below
//! the threshold hashing is cheaper. Both ways give the same id for the same bytes, so a
//! context's digest depends neither on what is committed nor on the threshold.
//! Walking and hashing are spread over threads when there are many ([`crate::parallel`]).
//!
//! It does not decide what the digest is for, nor which images need one.

mod hash;

mod walk;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::context::{ContextFiles, EntryKind};
use crate::error::Result;
use crate::git::Git;
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

/// Where a file's id comes from.
enum Source {
    /// Given by the request (a Dockerfile the caller read).
    Known(String),
    Git(String),
    /// An index into the files hashed from disk.
    Disk(usize),
}

/// A file to hash from disk, and who asked for it (to say so if it cannot be read).
struct DiskFile {
    path: String,
    request: usize,
}

/// How contexts are read.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Ask git's index for the ids of committed files only when the contexts' files add up
    /// to more than this many bytes; below it every file is hashed from disk.
    pub ask_git_above: u64,
}

impl Default for ReadOptions {
    /// 32 MiB: about what two cores hash in the time git's five processes take to answer
    /// (measured on a 5,000-image stack of small files: hashing all of them is faster).
    fn default() -> Self {
        ReadOptions {
            ask_git_above: 32 << 20,
        }
    }
}

/// Reads the context of every request under `root` (a checkout, not necessarily a git
/// repository), keyed by image key, with the default [`ReadOptions`].
pub fn read_contexts(
    root: &Path,
    requests: &[ContextRequest],
) -> Result<BTreeMap<String, ContextFiles>> {
    read_contexts_with(root, requests, ReadOptions::default())
}

/// [`read_contexts`] with the given options.
pub fn read_contexts_with(
    root: &Path,
    requests: &[ContextRequest],
    options: ReadOptions,
) -> Result<BTreeMap<String, ContextFiles>> {
    digest_contexts(root, requests, walk_contexts(root, requests)?, options)
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
    options: ReadOptions,
) -> Result<BTreeMap<String, ContextFiles>> {
    debug_assert!(
        walked.len() == requests.len() && walked.iter().zip(requests).all(|(w, r)| w.key == r.key),
        "the requests walked, in order"
    );
    let bytes: u64 = walked.iter().map(|w| w.bytes).sum();
    let from_git = if bytes > options.ask_git_above {
        clean_blobs(root, requests)?
    } else {
        HashMap::new()
    };

    // Every file once, even when contexts share it.
    let mut sources: HashMap<String, Source> = HashMap::new();
    for (request, w) in requests.iter().zip(&walked) {
        if let Some(id) = &request.dockerfile_id {
            sources.insert(w.dockerfile.clone(), Source::Known(id.clone()));
        }
    }
    let mut disk: Vec<DiskFile> = Vec::new();
    let mut source_of = |path: String, request: usize, git_ok: bool| {
        sources.entry(path.clone()).or_insert_with(|| {
            match from_git.get(&path).filter(|_| git_ok) {
                Some(id) => Source::Git(id.clone()),
                None => {
                    disk.push(DiskFile { path, request });
                    Source::Disk(disk.len() - 1)
                }
            }
        });
    };
    for (i, w) in walked.iter().enumerate() {
        for entry in &w.entries {
            if matches!(entry.kind, EntryKind::File { .. }) {
                source_of(walk::within(&w.folder, &entry.path), i, true);
            }
        }
    }
    for (i, w) in walked.iter().enumerate() {
        // BuildKit reads the Dockerfile through a symlink; git's id is the link's then.
        source_of(w.dockerfile.clone(), i, !w.dockerfile_is_link);
    }

    let paths: Vec<PathBuf> = disk.iter().map(|f| root.join(&f.path)).collect();
    let hashed = hash::blob_ids(&paths);
    let mut disk_ids = Vec::with_capacity(hashed.len());
    for (file, result) in disk.iter().zip(hashed) {
        match result {
            Ok(id) => disk_ids.push(id),
            Err(e) => return Err(walked[file.request].unreadable(root, &file.path, e)),
        }
    }

    let id_of = |path: &str| match &sources[path] {
        Source::Known(id) => (id.clone(), false),
        Source::Git(id) => (id.clone(), true),
        Source::Disk(i) => (disk_ids[*i].clone(), false),
    };
    let mut contexts = BTreeMap::new();
    for (request, w) in requests.iter().zip(walked) {
        let mut files = ContextFiles {
            dockerfile_id: id_of(&w.dockerfile).0,
            ..ContextFiles::default()
        };
        files.entries = w.entries;
        for entry in &mut files.entries {
            if let EntryKind::File { id, .. } = &mut entry.kind {
                let (found, git) = id_of(&walk::within(&w.folder, &entry.path));
                *id = found;
                if git {
                    files.from_git += 1;
                } else {
                    files.from_disk += 1;
                }
            }
        }
        contexts.insert(request.key.clone(), files);
    }
    Ok(contexts)
}

/// The ids git vouches for under the requested folders and Dockerfiles; none outside git.
fn clean_blobs(root: &Path, requests: &[ContextRequest]) -> Result<HashMap<String, String>> {
    let Some(git) = Git::discover(root) else {
        return Ok(HashMap::new());
    };
    let paths: Vec<String> = requests
        .iter()
        .flat_map(|request| {
            let (folder, dockerfile) = walk::paths(request);
            [folder, dockerfile]
        })
        .collect();
    git.clean_blobs(root, &paths)
}
