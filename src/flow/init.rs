//! The init flow (`stackplan init`): the images folder read, a spec inferred from it
//! ([`crate::init`], pure) and written, never over an existing one unless asked, then
//! checked as `stackplan check` checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Reporter;
use super::planning::{self, StackRequest};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::init::{self, Folder, InitOptions};
use crate::spec::Spec;
use crate::stack::join;

/// Where the stack is, how its images are named, and whether to write.
#[derive(Clone, Debug, Default)]
pub struct InitRequest {
    pub stack: StackRequest,
    pub options: InitOptions,
    /// Return the spec's text instead of writing it.
    pub dry_run: bool,
    /// Overwrite an existing spec.
    pub force: bool,
}

/// What init made. A written spec is reported as soon as it is written, before the
/// stack's checks report their findings.
#[derive(Clone, Debug)]
pub enum Initialized {
    /// The spec's text, not written (`dry_run`).
    Text(String),
    /// The spec was written at `spec` (as the request names it) and checked.
    Written {
        spec: PathBuf,
        images: usize,
        roots: usize,
        variants: usize,
    },
}

impl std::fmt::Display for Initialized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Initialized::Text(text) => f.write_str(text),
            Initialized::Written {
                spec,
                images,
                roots,
                variants,
            } => {
                write!(
                    f,
                    "wrote {}: {images} images, {roots} root(s)",
                    spec.display()
                )?;
                if *variants > 0 {
                    write!(f, ", {variants} variant(s)")?;
                }
                f.write_str("; read its comments, then run `stackplan check`")
            }
        }
    }
}

pub fn init(request: &InitRequest, reporter: &mut dyn Reporter) -> Result<Initialized> {
    let root = planning::repo_root(&request.stack)?;
    let images_dir = crate::change_set::normalize(&request.stack.images);
    let spec_display = request
        .stack
        .spec
        .clone()
        .unwrap_or_else(|| join(&images_dir, "spec.yml").into());
    let spec_abs = root.join(&spec_display);
    if spec_abs.exists() && !request.force && !request.dry_run {
        return Err(Error::usage_with_help(
            format!(
                "{} exists: init does not overwrite it",
                spec_display.display()
            ),
            "pass --force to replace it, or --dry-run to print what init would write",
        ));
    }
    let dir = root.join(&images_dir);
    if !dir.is_dir() {
        return Err(Error::usage_with_help(
            format!("no images folder at {}", dir.display()),
            "run stackplan init at the root of the repository that holds images/, or pass -C DIR or --images DIR",
        ));
    }
    let folders = read_folders(&dir)?;
    if !folders.iter().any(|f| f.dockerfile.is_some()) {
        return Err(Error::usage_with_help(
            format!("no folder under {images_dir}/ has a Dockerfile"),
            "an image is a folder images/<name>/ with a Dockerfile in it",
        ));
    }
    let images = init::infer(&folders, &images_dir, &request.options)?;
    let text = init::render(&folders, &images, &request.options);
    // What init writes must be a spec: a flag with a bad value is caught here.
    Spec::parse(&text, &spec_display)?;
    if request.dry_run {
        return Ok(Initialized::Text(text));
    }
    write_atomic(&spec_abs, &text)?;
    let written = Initialized::Written {
        spec: spec_display,
        images: images.len(),
        roots: images.iter().filter(|i| i.depend_on.is_none()).count(),
        variants: images
            .iter()
            .map(|i| i.variants.values().filter(|p| **p == i.depend_on).count())
            .sum(),
    };
    reporter.status(&written.to_string());
    // The same checks as `stackplan check`: warnings now rather than later.
    planning::load(&request.stack, reporter)?;
    Ok(written)
}

/// The folders directly under the images folder, with their Dockerfiles and variants.
fn read_folders(dir: &Path) -> Result<Vec<Folder>> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io("cannot read", p, e));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("cannot read", dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for key in names {
        let folder = dir.join(&key);
        let dockerfile = folder.join("Dockerfile");
        let dockerfile = if dockerfile.is_file() {
            Some(read(&dockerfile)?)
        } else {
            None
        };
        let mut variants = BTreeMap::new();
        for entry in std::fs::read_dir(&folder).map_err(|e| Error::io("cannot read", &folder, e))? {
            let Ok(entry) = entry else { continue };
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let df = entry.path().join("Dockerfile");
            if !name.starts_with('.') && df.is_file() {
                variants.insert(name, read(&df)?);
            }
        }
        out.push(Folder {
            key,
            dockerfile,
            variants,
        });
    }
    Ok(out)
}
