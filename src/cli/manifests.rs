//! `stackplan manifests render`: turn the manifest targets' outputs into markdown pages.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{Printer, StackArgs};
use crate::error::{Error, Result};
use crate::flow::planning;
use crate::manifests::{self, CommandResult, Manifest};

#[derive(Debug, Clone, Args)]
pub struct ManifestsCmd {
    #[command(subcommand)]
    pub command: ManifestsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ManifestsCommand {
    /// Write one markdown page per image and tag, and update Home.md's table in place.
    Render(RenderCmd),
}

#[derive(Debug, Clone, Args)]
pub struct RenderCmd {
    #[command(flatten)]
    pub stack: StackArgs,

    /// What the manifest targets exported: <DIR>/<image>/<tag>/<NAME>.out and .status.
    #[arg(long, value_name = "DIR", default_value = "artifacts/manifests")]
    pub from: PathBuf,

    /// Where the pages and Home.md go (a wiki checkout, for example).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(cmd: ManifestsCmd, printer: &mut Printer) -> Result<()> {
    let ManifestsCommand::Render(cmd) = cmd.command;
    let stack = planning::load(&cmd.stack.request(), printer)?;
    let images = subdirs(&cmd.from)?;
    if images.is_empty() {
        return Err(Error::usage_with_help(
            format!("{} holds no manifests", cmd.from.display()),
            "build them first: `stackplan bake --manifests > bake.json && docker buildx bake -f bake.json`",
        ));
    }
    std::fs::create_dir_all(&cmd.out).map_err(|e| Error::io("cannot create", &cmd.out, e))?;
    let mut written = Vec::new();
    for image in images {
        let spec_image = stack.spec.images.get(&image);
        if spec_image.is_none() {
            printer.status(&format!(
                "warning: {image} is not an image of the spec; rendered with command names only"
            ));
        }
        for tag in subdirs(&cmd.from.join(&image))? {
            let dir = cmd.from.join(&image).join(&tag);
            let names: Vec<String> = match spec_image {
                Some(i) => i.info_cmds.clone(),
                None => outputs_in(&dir)?,
            };
            let commands = names
                .into_iter()
                .map(|name| {
                    let info = stack.spec.all_info_cmds.get(&name);
                    let output = std::fs::read_to_string(dir.join(format!("{name}.out"))).ok();
                    let status = std::fs::read_to_string(dir.join(format!("{name}.status")))
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    CommandResult {
                        description: info
                            .map(|i| i.description.clone())
                            .unwrap_or_else(|| name.clone()),
                        command: info.map(|i| i.command.clone()).unwrap_or_default(),
                        name,
                        output,
                        status,
                    }
                })
                .collect();
            let m = Manifest {
                image: image.clone(),
                tag: tag.clone(),
                commands,
            };
            crate::fs::write_atomic(
                &cmd.out.join(format!("{}.md", m.page_name())),
                &manifests::page(&m),
            )?;
            written.push((image.clone(), tag));
        }
    }
    let home_path = cmd.out.join("Home.md");
    let existing = std::fs::read_to_string(&home_path).ok();
    crate::fs::write_atomic(&home_path, &manifests::home(existing.as_deref(), &written))?;
    printer.status(&format!(
        "wrote {} page(s) and Home.md in {}",
        written.len(),
        cmd.out.display()
    ));
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))?;
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    out.sort();
    Ok(out)
}

/// Command names from the `<NAME>.out` files of a folder.
fn outputs_in(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))?;
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".out").map(str::to_string))
        .collect();
    out.sort();
    Ok(out)
}
