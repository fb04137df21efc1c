//! `stackplan plan` and `stackplan graph`: the plan as a tree, JSON, markdown, DOT or Mermaid.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Finished, PlanArgs, Printer};
use crate::emit;
use crate::error::Result;
use crate::flow::planning::{self, Digests};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// A tree for people.
    Text,
    /// The JSON contract (docs/plan-json.md).
    Json,
    /// A markdown table (for $GITHUB_STEP_SUMMARY).
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct PlanCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    #[arg(long, value_enum, default_value_t = PlanFormat::Text, help_heading = "Output")]
    pub format: PlanFormat,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Args)]
pub struct GraphCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    #[arg(long, value_enum, default_value_t = GraphFormat::Dot, help_heading = "Output")]
    pub format: GraphFormat,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
}

pub fn plan(cmd: PlanCmd, printer: &mut Printer) -> Result<Finished> {
    // Only the JSON shows the digests of unpinned inputs.
    let digests = match cmd.format {
        PlanFormat::Json => Digests::All,
        PlanFormat::Text | PlanFormat::Markdown => Digests::Pinned,
    };
    let session = cmd.plan.session();
    let (mut plan, root) = planning::plan(&session, &cmd.plan.request(), digests, printer)?;
    // Online, the retests say what their test records say (`"tests"`).
    let images = &cmd.plan.stack.images;
    super::test_result::mark_retests(&session, &mut plan, &root, images, printer, |c| {
        format!(
            "tests: {} of {} retest(s) passed these tests already, {} failed ({} ms)",
            c.passed,
            c.asked,
            c.failed,
            c.elapsed.as_millis()
        )
    })?;
    match cmd.format {
        // Written as it is made: a large plan is never held whole as text.
        PlanFormat::Json => printer.product_with(cmd.output.as_deref(), |out| {
            emit::plan_json::write(&plan, out)
        }),
        PlanFormat::Text => printer.product(&emit::plan_text::render(&plan), cmd.output.as_deref()),
        PlanFormat::Markdown => {
            printer.product(&emit::plan_markdown::render(&plan), cmd.output.as_deref())
        }
    }?;
    Ok(Finished::with(plan))
}

pub fn graph(cmd: GraphCmd, printer: &mut Printer) -> Result<Finished> {
    let session = cmd.plan.session();
    let (plan, _) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let text = match cmd.format {
        GraphFormat::Dot => emit::graph::dot(&plan),
        GraphFormat::Mermaid => emit::graph::mermaid(&plan),
    };
    printer.product(&text, cmd.output.as_deref())?;
    Ok(Finished::with(plan))
}
