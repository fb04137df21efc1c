//! Blob ids of files read from disk, spread over threads when there are many: thousands of
//! small files are bound by system calls, not by one core's SHA-1.

use std::fs::File;
use std::io::Result;
use std::path::{Path, PathBuf};

use crate::context::blob_id_of;
use crate::parallel;

/// Below this many files per thread, starting threads costs more than it saves.
const FILES_PER_THREAD: usize = 64;

/// The blob id of each file, in order (symlinks are followed: only the Dockerfile can be
/// one here).
pub(super) fn blob_ids(paths: &[PathBuf]) -> Vec<Result<String>> {
    parallel::map(paths, FILES_PER_THREAD, |path| file_id(path))
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
