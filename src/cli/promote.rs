//! `stackplan promote` and `stackplan publish`: move tags registry-side, all or nothing.

use std::path::PathBuf;

use clap::Args;

use super::{Printer, StackArgs};
use crate::error::Result;
use crate::flow::planning::{self, Digests};
use crate::flow::tag_moves::{self, Mode};
use crate::flow::test_records;
use crate::promote::{self, Move};
use crate::session::Session;

#[derive(Debug, Clone, Args)]
pub struct PromoteCmd {
    #[command(flatten)]
    pub stack: StackArgs,

    /// The tag every image has now (`{prefix}` stands for each target's tag prefix).
    #[arg(long, value_name = "TAG")]
    pub from: String,

    /// The tag to give it (`<prefix>-stable`, or `stable` from a `<prefix>-stable` source).
    #[arg(long, value_name = "TAG")]
    pub to: String,

    /// Promote only this plan's targets.
    #[arg(long = "plan", value_name = "NAME")]
    pub only_plan: Option<String>,

    /// Rewrite where every image_name lives: HOST or HOST/NAMESPACE.
    #[arg(long, value_name = "HOST[/NAMESPACE]")]
    pub registry: Option<String>,

    /// A registry reached over plain HTTP (repeatable); loopback registries always are.
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,

    /// The time this run may spend waiting to retry registry requests (throttled, or a
    /// gateway briefly down) before it gives up.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub registry_retry_budget: humantime::Duration,

    /// Also require each source's manifest page `DIR/<image>-<tag>.md` (stackplan manifests render).
    #[arg(long, value_name = "DIR")]
    pub require_manifests: Option<PathBuf>,

    /// Move nothing unless every source image has a passed test record for its current
    /// tests (`stackplan test-result`); otherwise name each image and what it lacks.
    #[arg(long)]
    pub require_tests: bool,

    /// List what would move (source digest → new tag) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Finish a promotion that stopped midway: tags that already point at their source's
    /// digest are left as they are.
    #[arg(long)]
    pub resume: bool,

    /// After promoting, give each image's manifest page in DIR (`<image>-<from tag>.md`) a copy
    /// for the new tag and add its row to DIR/Home.md.
    #[arg(long, value_name = "DIR")]
    pub pages: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PublishCmd {
    #[command(flatten)]
    pub plan: super::PlanArgs,

    /// The metadata file of `docker buildx bake --metadata-file` for a bake made with
    /// `stackplan bake --push-by-digest`, or of `stackplan build --push-by-digest
    /// --metadata-file`, with the same flags as this command.
    #[arg(long, value_name = "FILE")]
    pub metadata: PathBuf,

    /// List what would move and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Finish a publication that stopped midway.
    #[arg(long)]
    pub resume: bool,
}

/// Tags every built target's pushed digest (its branch tag and its inputs tag), once every
/// one of them has a digest.
pub fn publish(cmd: PublishCmd, printer: &mut Printer) -> Result<()> {
    let metadata = tag_moves::read_metadata(&cmd.metadata)?;
    let session = cmd.plan.session();
    let (plan, _) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let source = cmd.metadata.display().to_string();
    let moves = promote::published_moves(&plan, &metadata, &source)?;
    write_tags(moves, &session, Mode::of(cmd.dry_run, cmd.resume), printer)
}

pub fn promote(cmd: PromoteCmd, printer: &mut Printer) -> Result<()> {
    let stack = cmd.stack.request();
    let plan = planning::targets(&stack, cmd.registry.clone(), cmd.only_plan.clone(), printer)?;
    let moves = promote::moves(&plan, &cmd.from, &cmd.to)?;
    if let Some(dir) = &cmd.require_manifests {
        tag_moves::require_manifests(&moves, dir)?;
    }
    let session = super::args::session(&cmd.insecure_registry, cmd.registry_retry_budget);
    if cmd.require_tests {
        test_records::require_passed(&session, &plan, &moves, &stack, printer)?;
    }
    write_tags(
        moves.clone(),
        &session,
        Mode::of(cmd.dry_run, cmd.resume),
        printer,
    )?;
    match &cmd.pages {
        Some(dir) if !cmd.dry_run => tag_moves::copy_pages(&moves, dir, printer),
        _ => Ok(()),
    }
}

/// Writes the tags, all or nothing ([`tag_moves::write`]), and prints what moved: the
/// lines on stdout, then the tags that failed as the error, or a closing note.
pub fn write_tags(
    moves: Vec<Move>,
    session: &Session,
    mode: Mode,
    printer: &mut Printer,
) -> Result<()> {
    let report = tag_moves::write(session, moves, mode, printer)?;
    printer.product(&report.text(), None)?;
    report.check()?;
    printer.status(&report.summary());
    Ok(())
}
