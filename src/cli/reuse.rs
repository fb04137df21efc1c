//! `stackplan reuse`: gives every target whose inputs were built already (action `reuse`)
//! its tags, registry-side, from the image under its inputs tag: a manifest copy, no
//! layer moves. All or nothing per run, like `promote`: every source is checked first, and
//! `--resume` finishes a run a registry interrupted.

use clap::Args;

use super::{PlanArgs, Printer};
use crate::error::Result;
use crate::flow::planning::{self, Digests};
use crate::flow::tag_moves::Mode;

#[derive(Debug, Clone, Args)]
pub struct ReuseCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// List what would be written (inputs tag → tag) and change nothing.
    #[arg(long, help_heading = "Output")]
    pub dry_run: bool,

    /// Finish a run that stopped midway: tags that already point at their image are left
    /// as they are.
    #[arg(long, help_heading = "Output")]
    pub resume: bool,
}

pub fn reuse(cmd: ReuseCmd, printer: &mut Printer) -> Result<()> {
    if cmd.plan.offline {
        return Err(crate::Error::usage_with_help(
            "stackplan reuse needs the registry: it cannot run with --offline",
            "drop --offline (and unset STACKPLAN_OFFLINE)",
        ));
    }
    let session = cmd.plan.session();
    let (plan, _) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let moves = crate::promote::reuse_moves(&plan);
    if moves.is_empty() {
        let (build, _, none) = plan.action_counts();
        printer.status(&format!(
            "nothing to reuse: {build} target(s) build, {none} are already tagged or left alone"
        ));
        return Ok(());
    }
    super::promote::write_tags(moves, &session, Mode::of(cmd.dry_run, cmd.resume), printer)
}
