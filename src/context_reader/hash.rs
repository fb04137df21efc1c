//! Blob ids of files read from disk, spread over threads when there are many: thousands of
//! small files are bound by system calls, not by one core's SHA-1.

use std::fs::File;
use std::io::Result;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::context::blob_id_of;

/// Below this many files per thread, starting threads costs more than it saves.
const FILES_PER_THREAD: usize = 64;

/// The blob id of each file, in order (symlinks are followed: only the Dockerfile can be
/// one here).
pub(super) fn blob_ids(paths: &[PathBuf]) -> Vec<Result<String>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(paths.len() / FILES_PER_THREAD).max(1);
    if threads == 1 {
        return paths.iter().map(PathBuf::as_path).map(file_id).collect();
    }
    // Each thread takes the next file: one large file does not hold up a whole share.
    let next = AtomicUsize::new(0);
    let mut ids: Vec<Option<Result<String>>> = (0..paths.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else {
                            return done;
                        };
                        done.push((i, file_id(path)));
                    }
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, id) in done {
                        ids[i] = Some(id);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    ids.into_iter()
        .map(|id| id.unwrap_or_else(|| Err(std::io::Error::other("the file was not hashed"))))
        .collect()
}

fn file_id(path: &Path) -> Result<String> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    blob_id_of(len, file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::blob_id;

    #[test]
    fn many_files_over_threads_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..300)
            .map(|i| {
                let p = dir.path().join(format!("f{i}"));
                std::fs::write(&p, format!("file {i}\n")).unwrap();
                p
            })
            .collect();
        let ids = blob_ids(&paths);
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(id.unwrap(), blob_id(format!("file {i}\n").as_bytes()));
        }
    }

    #[test]
    fn a_file_that_cannot_be_read_is_an_error_even_for_root() {
        // Reading a directory fails with EISDIR whatever the permissions.
        let dir = tempfile::tempdir().unwrap();
        let ids = blob_ids(&[dir.path().to_path_buf()]);
        assert!(ids[0].is_err());
    }
}
