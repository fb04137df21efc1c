//! `stackplan manifests render`: arguments → [`crate::flow::manifests`] → a closing note.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Printer, StackArgs};
use crate::error::Result;
use crate::flow::manifests::{self, RenderRequest};
use crate::flow::planning;

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
    let request = RenderRequest {
        from: cmd.from,
        out: cmd.out,
    };
    let rendered = manifests::render(&stack, &request, printer)?;
    printer.status(&format!(
        "wrote {} page(s) and Home.md in {}",
        rendered.pages.len(),
        request.out.display()
    ));
    Ok(())
}
