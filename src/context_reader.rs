//! TEMPORARY stand-in until the real adapter lands: hashes every file from disk.
use std::collections::BTreeMap;
use std::path::Path;

use crate::context::{ContextEntry, ContextFiles, EntryKind, blob_id};
use crate::error::{Error, Result};

pub struct ContextRequest {
    pub key: String,
    pub folder: String,
    pub dockerfile: String,
}

pub fn read_contexts(
    root: &Path,
    requests: &[ContextRequest],
) -> Result<BTreeMap<String, ContextFiles>> {
    let mut out = BTreeMap::new();
    for r in requests {
        let folder = root.join(&r.folder);
        let mut files = ContextFiles::default();
        walk(&folder, "", &mut files)?;
        let df = folder.join(&r.dockerfile);
        files.dockerfile_id =
            blob_id(&std::fs::read(&df).map_err(|e| Error::io("cannot read", &df, e))?);
        out.insert(r.key.clone(), files);
    }
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, files: &mut ContextFiles) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))? {
        let e = e.map_err(|e| Error::io("cannot read", dir, e))?;
        let path = format!("{prefix}{}", e.file_name().to_string_lossy());
        let meta = std::fs::symlink_metadata(e.path())
            .map_err(|err| Error::io("cannot read", e.path(), err))?;
        let kind = if meta.is_dir() {
            walk(&e.path(), &format!("{path}/"), files)?;
            EntryKind::Dir
        } else if meta.file_type().is_symlink() {
            EntryKind::Symlink {
                target: std::fs::read_link(e.path())
                    .map_err(|err| Error::io("cannot read", e.path(), err))?
                    .to_string_lossy()
                    .into(),
            }
        } else {
            files.from_disk += 1;
            EntryKind::File {
                executable: meta.permissions().mode() & 0o111 != 0,
                id: blob_id(
                    &std::fs::read(e.path())
                        .map_err(|err| Error::io("cannot read", e.path(), err))?,
                ),
            }
        };
        files.entries.push(ContextEntry { path, kind });
    }
    Ok(())
}
