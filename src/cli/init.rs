//! `stackplan init`: reads the images folder, infers a spec ([`crate::init`]) and writes it
//! (never over an existing one without `--force`).

use std::collections::BTreeMap;
use std::path::Path;

use clap::Args;

use super::StackArgs;
use super::output::Printer;
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::init::{self, Folder, InitOptions};
use crate::spec::Spec;
use crate::stack::join;

#[derive(Debug, Clone, Args)]
pub struct InitCmd {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Where the images are pushed, `REGISTRY/OWNER`: every image is named
    /// `<prefix>/<folder>` [default: how the Dockerfiles' FROM lines name them]
    #[arg(long, value_name = "REGISTRY/OWNER")]
    pub image_prefix: Option<String>,

    /// The spec's `tag.prefix`: every tag is `<prefix>-<branch>` [default: dev]
    #[arg(long, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,

    /// Print the spec instead of writing it.
    #[arg(long)]
    pub dry_run: bool,

    /// Overwrite an existing spec.
    #[arg(long)]
    pub force: bool,
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

pub fn run(cmd: InitCmd, printer: &mut Printer) -> Result<()> {
    let root = crate::flow::planning::repo_root(&cmd.stack.request())?;
    let images_dir = crate::change_set::normalize(&cmd.stack.images);
    let spec_display = cmd
        .stack
        .spec
        .clone()
        .unwrap_or_else(|| join(&images_dir, "spec.yml").into());
    let spec_abs = root.join(&spec_display);
    if spec_abs.exists() && !cmd.force && !cmd.dry_run {
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
    let opts = InitOptions {
        image_prefix: cmd.image_prefix.clone(),
        tag_prefix: cmd.tag_prefix.clone(),
    };
    let images = init::infer(&folders, &images_dir, &opts)?;
    let text = init::render(&folders, &images, &opts);
    // What init writes must be a spec: a flag with a bad value is caught here.
    Spec::parse(&text, &spec_display)?;
    if cmd.dry_run {
        return printer.product(&text, None);
    }
    write_atomic(&spec_abs, &text)?;
    let roots = images.iter().filter(|i| i.depend_on.is_none()).count();
    let variants: usize = images
        .iter()
        .map(|i| i.variants.values().filter(|p| **p == i.depend_on).count())
        .sum();
    printer.status(&format!(
        "wrote {}: {} images, {roots} root(s){}; read its comments, then run `stackplan check`",
        spec_display.display(),
        images.len(),
        if variants > 0 {
            format!(", {variants} variant(s)")
        } else {
            String::new()
        }
    ));
    // The same checks as `stackplan check`: warnings now rather than later.
    crate::flow::planning::load(&cmd.stack.request(), printer).map(|_| ())
}
