//! `stackplan bake` (the default command): the plan as a docker-bake file.

use std::path::PathBuf;

use clap::Args;

use super::{Finished, PlanArgs, Printer};
use crate::emit;
use crate::error::Result;
use crate::flow::planning::{self, Digests};

#[derive(Debug, Clone, Args)]
pub struct BakeArgs {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// Push every target's tags to its registry as it finishes (`output: type=registry`).
    #[arg(long, help_heading = "Output", conflicts_with = "push_by_digest")]
    pub push: bool,

    /// Push by digest only and move no tag; publish the tags afterwards with `stackplan publish`.
    #[arg(long, help_heading = "Output")]
    pub push_by_digest: bool,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Add a `<target>-manifest` target per rebuilt image that runs its info_cmds on top of
    /// it and exports their outputs to <manifests-dir>/<image>/<tag>/.
    #[arg(long, help_heading = "Output")]
    pub manifests: bool,

    /// Where the manifest targets write (relative to the repository root).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "artifacts/manifests",
        help_heading = "Output"
    )]
    pub manifests_dir: String,
}

pub fn bake(args: BakeArgs, printer: &mut Printer) -> Result<Finished> {
    let session = args.plan.session();
    let (plan, _) = planning::plan(&session, &args.plan.request(), Digests::Pinned, printer)?;
    let output = if args.push {
        emit::bake::Output::Push
    } else if args.push_by_digest {
        emit::bake::Output::PushByDigest
    } else {
        emit::bake::Output::Default
    };
    let options = emit::bake::BakeOptions {
        output,
        manifests: args.manifests.then(|| args.manifests_dir.clone()),
    };
    let (build, reuse, _) = plan.action_counts();
    printer.status(&format!(
        "{build} of {} targets build (group `default`){}",
        plan.targets.len(),
        if reuse > 0 {
            format!("; {reuse} are reused from images with the same inputs: run `stackplan reuse` with the same flags to write their tags")
        } else {
            String::new()
        }
    ));
    printer.product_with(args.output.as_deref(), |out| {
        emit::bake::write(&plan, &options, out)
    })?;
    session.mark("bake json");
    Ok(Finished::with(plan))
}
