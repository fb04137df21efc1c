//! Adapter: reads a stack from a checkout (spec.yml, change_ignore.json, Dockerfiles) and
//! writes outputs whole.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::change_rules::ChangeRules;
use crate::error::{Error, Result};
use crate::parallel;
use crate::spec::Spec;
use crate::stack::{DockerfileSource, Stack, join};

/// Where the stack is in a checkout.
#[derive(Clone, Debug)]
pub struct StackLocation {
    /// The repository root; every path in the outputs is relative to it.
    pub root: PathBuf,
    /// The images folder relative to `root` (`images`).
    pub images_dir: String,
    /// The spec file; default `<images_dir>/spec.yml`.
    pub spec: Option<PathBuf>,
}

impl StackLocation {
    pub fn spec_path(&self) -> PathBuf {
        self.spec
            .clone()
            .unwrap_or_else(|| PathBuf::from(join(&self.images_dir, "spec.yml")))
    }
}

/// Below this many Dockerfiles per thread, one thread reads them as fast.
const DOCKERFILES_PER_THREAD: usize = 64;

/// Reads and checks the stack.
pub fn load_stack(location: &StackLocation) -> Result<Stack> {
    assemble_stack(location, read_spec(location)?)
}

/// The spec and the change rules, parsed: what [`assemble_stack`] checks against the
/// Dockerfiles. Their image list is known before any Dockerfile is read.
pub struct SpecFiles {
    pub spec: Spec,
    warnings: Vec<crate::diagnostic::Diagnostic>,
    rules: ChangeRules,
    spec_display: PathBuf,
    rules_display: PathBuf,
}

/// Reads the spec and the change rules.
pub fn read_spec(location: &StackLocation) -> Result<SpecFiles> {
    let spec_display = location.spec_path();
    let spec_abs = location.root.join(&spec_display);
    let spec_text = std::fs::read_to_string(&spec_abs).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage_with_help(
                format!("no spec at {}", spec_abs.display()),
                "run stackplan at the root of a repository with images/spec.yml, or pass -C DIR, --images DIR or --spec FILE",
            )
        } else {
            Error::io("cannot read", &spec_abs, e)
        }
    })?;
    let (spec, mut warnings) = Spec::parse(&spec_text, &spec_display)?;

    let rules_display = PathBuf::from(join(&location.images_dir, "change_ignore.json"));
    let rules_abs = location.root.join(&rules_display);
    let rules = match std::fs::read_to_string(&rules_abs) {
        Ok(text) => {
            let (rules, w) = ChangeRules::parse(&text, &rules_display)?;
            warnings.extend(w);
            rules
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ChangeRules::without_file(),
        Err(e) => return Err(Error::io("cannot read", rules_abs, e)),
    };
    Ok(SpecFiles {
        spec,
        warnings,
        rules,
        spec_display,
        rules_display,
    })
}

/// Reads every Dockerfile of the spec and checks the stack.
pub fn assemble_stack(location: &StackLocation, files: SpecFiles) -> Result<Stack> {
    let SpecFiles {
        spec,
        warnings,
        rules,
        spec_display,
        rules_display,
    } = files;

    // Every Dockerfile, read and parsed over all cores before the stack is checked; once,
    // however many images and variants use it (a variant may build the image's own).
    let mut wanted: Vec<(String, String)> = spec
        .images
        .values()
        .flat_map(|image| {
            let variants = image
                .variants
                .values()
                .map(|v| (join(&image.key, &v.context), v.dockerfile.clone()));
            std::iter::once((image.key.clone(), image.dockerfile.clone())).chain(variants)
        })
        .collect();
    wanted.sort_unstable();
    // How many more than one use each shared file (most images use their own).
    let mut shared: HashMap<(String, String), usize> = HashMap::new();
    for pair in wanted.windows(2).filter(|pair| pair[0] == pair[1]) {
        *shared.entry(pair[0].clone()).or_default() += 1;
    }
    wanted.dedup();
    let read = parallel::map(&wanted, DOCKERFILES_PER_THREAD, |(folder, dockerfile)| {
        let folder = location.root.join(join(&location.images_dir, folder));
        match read_small_text(&folder.join(dockerfile)) {
            Ok(text) => DockerfileSource::parsed(text),
            Err(_) if !folder.is_dir() => DockerfileSource::NoFolder,
            Err(_) => DockerfileSource::Missing,
        }
    });
    let mut sources: HashMap<(String, String), DockerfileSource> =
        wanted.into_iter().zip(read).collect();
    let stack = Stack::assemble(
        spec,
        warnings,
        rules,
        &location.images_dir,
        |folder, dockerfile| {
            // A copy to each user of a shared file but the last, which takes it.
            let file = (folder.to_string(), dockerfile.to_string());
            match shared.get_mut(&file) {
                Some(more) if *more > 0 => {
                    *more -= 1;
                    sources.get(&file).cloned()
                }
                _ => sources.remove(&file),
            }
            .unwrap_or(DockerfileSource::Missing)
        },
    );
    stack.map_err(|e| with_sources(e, &location.root, &[spec_display, rules_display]))
}

/// A small text file (a Dockerfile), read without first asking its size as
/// `fs::read_to_string` does: a system call saved per file, thousands on a large stack.
fn read_small_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(4096);
    // Through `Take`, `read_to_end` is the generic one (read until a read returns
    // nothing), not `File`'s, which asks the size and the position first.
    (&mut file).take(u64::MAX).read_to_end(&mut bytes)?;
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// Adds the texts of `files` to an `Invalid` error so its snippets can be shown.
fn with_sources(error: Error, root: &Path, files: &[PathBuf]) -> Error {
    match error {
        Error::Invalid {
            diagnostics,
            mut sources,
        } => {
            for f in files {
                if !sources.iter().any(|(p, _)| p == f)
                    && let Ok(text) = std::fs::read_to_string(root.join(f))
                {
                    sources.push((f.clone(), text));
                }
            }
            Error::Invalid {
                diagnostics,
                sources,
            }
        }
        other => other,
    }
}

/// Writes `contents` to `path` whole: to a temporary file beside it, then renamed, so a
/// reader never sees half a file and a failure leaves the old file in place.
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(contents.as_bytes()))
}

/// Like [`write_atomic`], with the contents written by `write` as they are made.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("cannot write in", dir, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp);
    write(&mut out)
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write", path, e))?;
    let tmp = out
        .into_inner()
        .map_err(|e| Error::io("cannot write", path, e.into_error()))?;
    tmp.persist(path)
        .map_err(|e| Error::io("cannot write", path, e.error))?;
    Ok(())
}
