//! `stackplan init`: arguments → [`crate::flow::init`] → the spec printed (`--dry-run`) or
//! written.

use clap::Args;

use super::StackArgs;
use super::output::Printer;
use crate::error::Result;
use crate::flow::init::{InitRequest, Initialized, init};
use crate::init::InitOptions;

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

pub fn run(cmd: InitCmd, printer: &mut Printer) -> Result<()> {
    let request = InitRequest {
        stack: cmd.stack.request(),
        options: InitOptions {
            image_prefix: cmd.image_prefix,
            tag_prefix: cmd.tag_prefix,
        },
        dry_run: cmd.dry_run,
        force: cmd.force,
    };
    match init(&request, printer)? {
        Initialized::Text(text) => printer.product(&text, None),
        Initialized::Written { .. } => Ok(()),
    }
}
