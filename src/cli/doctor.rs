//! `stackplan doctor`: what this machine has for stackplan's flows, each finding with its fix.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Finished, Printer};
use crate::error::Result;
use crate::flow::doctor::{self, Probe};
use crate::session::Session;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DoctorFormat {
    /// One line per check, with the fix under it.
    Text,
    /// `{"version", "ok", "checks": [{"name", "status", "detail", "fix"}]}` for scripts.
    Json,
}

/// Checks what stackplan's flows need on this machine, with the fix for each missing piece.
///
/// Exit status 0 when the default flow (`stackplan > bake.json && docker buildx bake -f
/// bake.json`) can run, 1 otherwise. What only another flow needs (a BuildKit address for
/// `stackplan build`, registry logins before `--push`) is a warning. Credentials are never
/// printed: only registry and helper names.
#[derive(Debug, Clone, Args)]
pub struct DoctorCmd {
    /// Repository root [default: the current directory]
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The images folder, relative to the repository root.
    #[arg(long, value_name = "DIR", default_value = "images")]
    pub images: String,

    /// The BuildKit daemon `stackplan build` would use [default: docker://, the engine's]
    #[arg(long, env = "BUILDKIT_HOST", value_name = "ADDR")]
    pub addr: Option<String>,

    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

pub fn doctor(cmd: DoctorCmd, printer: &mut Printer) -> Result<Finished> {
    let dir = match cmd.repo {
        Some(dir) => dir,
        None => std::env::current_dir()
            .map_err(|e| crate::Error::io("cannot read", "the current directory", e))?,
    };
    let probe = Probe {
        dir,
        images: cmd.images,
        buildkit_addr: cmd.addr.filter(|a| !a.is_empty()),
    };
    let report = doctor::run(&Session::default(), &probe)?;
    let text = match cmd.format {
        DoctorFormat::Text => report.render_text(),
        DoctorFormat::Json => report.render_json(),
    };
    printer.product(&text, None)?;
    let failed = report.failed();
    if failed.is_empty() {
        return Ok(Finished::default());
    }
    Err(crate::Error::Environment {
        message: format!(
            "{} of {} checks failed: {}",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        ),
        help: Some("each FAIL line says how to fix it".into()),
    })
}
