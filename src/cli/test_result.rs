//! `stackplan test-result TARGET --passed|--failed`: records that the target's current
//! image passed (or failed) its current tests, in the registry next to the image
//! ([`crate::flow::test_records`] says which image and which tests). `--log FILE` records
//! only the log's sha256 and size, never its text.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{PlanArgs, Printer};
use crate::error::Result;
use crate::flow::planning;
use crate::flow::test_records::{self, RecordRequest, RetestCounts};
use crate::plan::Plan;
use crate::session::Session;
use crate::test_record::Outcome;

#[derive(Debug, Clone, Args)]
pub struct TestResultCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// The target tested (`stackplan plan` lists them).
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The tests passed.
    #[arg(
        long,
        conflicts_with = "failed",
        required_unless_present = "failed",
        help_heading = "Result"
    )]
    pub passed: bool,

    /// The tests failed.
    #[arg(long, help_heading = "Result")]
    pub failed: bool,

    /// The CI run that tested it, for people (no credentials in it).
    #[arg(long, value_name = "URL", help_heading = "Result")]
    pub url: Option<String>,

    /// The test log: only its sha256 and size are recorded, never its text.
    #[arg(long, value_name = "FILE", help_heading = "Result")]
    pub log: Option<PathBuf>,
}

pub fn run(cmd: TestResultCmd, printer: &mut Printer) -> Result<()> {
    let request = RecordRequest {
        plan: cmd.plan.request(),
        target: cmd.target,
        outcome: if cmd.failed {
            Outcome::Failed
        } else {
            Outcome::Passed
        },
        url: cmd.url,
        log: cmd.log,
    };
    let session = cmd.plan.session();
    let recorded = test_records::record(&session, &request, printer)?;
    printer.product(
        &format!(
            "recorded {} for {} ({}), tests {}: {}@{} (listed by {})\n",
            recorded.outcome.as_str(),
            recorded.reference,
            recorded.image_digest,
            recorded.tests_digest,
            recorded.image_name,
            recorded.record_digest,
            recorded.listed_by(),
        ),
        None,
    )
}

/// Online, gives the plan's retests their test status and says on stderr, in `line`, what
/// the records said (`matrix` and `plan`); offline, or without retests, says nothing.
pub(super) fn mark_retests(
    session: &Session,
    plan: &mut Plan,
    root: &Path,
    images: &str,
    printer: &mut Printer,
    line: impl Fn(&RetestCounts) -> String,
) -> Result<()> {
    if !plan.registry_probed {
        return Ok(());
    }
    let images_dir = crate::change_set::normalize(images);
    let counts = test_records::mark_retests(session, plan, root, &images_dir, printer)?;
    if counts.asked > 0 {
        printer.status(&line(&counts));
        planning::report_retries(&session.registry(), printer);
    }
    Ok(())
}
