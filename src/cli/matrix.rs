//! `stackplan matrix`: the GitHub Actions matrix of the plan's build and test jobs.

use std::path::PathBuf;

use clap::Args;

use super::{Finished, PlanArgs, Printer};
use crate::emit;
use crate::error::Result;
use crate::flow::planning::{self, Digests};
use crate::test_record::TestStatus;

#[derive(Debug, Clone, Args)]
pub struct MatrixCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// Also append `matrix=<json>`, `has_targets`, `has_builds` and `has_tests`
    /// (`true|false`) to this file [default: $GITHUB_OUTPUT when set]
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", help_heading = "Output")]
    pub github_output: Option<PathBuf>,
}

pub fn matrix(cmd: MatrixCmd, printer: &mut Printer) -> Result<Finished> {
    let session = cmd.plan.session();
    let (mut plan, root) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let images = &cmd.plan.stack.images;
    super::test_result::mark_retests(&session, &mut plan, &root, images, printer, |c| {
        format!(
            "tests: {} of {} retest(s) left out, their image passed these tests already ({} ms)",
            c.passed,
            c.asked,
            c.elapsed.as_millis()
        )
    })?;
    let images_dir = crate::change_set::normalize(images);
    let mut m = emit::matrix::matrix(&plan, &images_dir, |p| root.join(p).is_dir());
    let tested = plan
        .targets
        .iter()
        .filter(|t| t.tests == Some(TestStatus::Passed))
        .map(|t| t.name.clone())
        .collect();
    emit::matrix::leave_out(&mut m, &tested);
    let github_output = match &cmd.github_output {
        Some(p) if p.as_os_str().is_empty() => match std::env::var_os("GITHUB_OUTPUT") {
            Some(v) => Some(PathBuf::from(v)),
            None => {
                return Err(crate::Error::usage_with_help(
                    "--github-output without a FILE needs $GITHUB_OUTPUT",
                    "give the file: --github-output FILE",
                ));
            }
        },
        other => other.clone(),
    };
    if let Some(path) = github_output {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| crate::Error::io("cannot open", &path, e))?;
        f.write_all(emit::matrix::github_output(&m).as_bytes())
            .map_err(|e| crate::Error::io("cannot write", &path, e))?;
    }
    let mut text = emit::matrix::render(&m);
    text.push('\n');
    printer.product(&text, None)?;
    Ok(Finished::with(plan))
}
