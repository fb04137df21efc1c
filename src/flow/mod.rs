//! The flows a command runs, as library functions: each takes a plain request (no clap), a
//! [`Session`](crate::session::Session) where it talks to the network, and a [`Reporter`]
//! for what it has to say on the way (the build also reports its progress as events to a
//! [`BuildEvents`](crate::buildkit::event::BuildEvents) sink); it returns values the command
//! prints. So every command reads "arguments → flow → print", and a test can run a flow
//! in-process: [`planning`], [`build`], [`tag_moves`], [`test_records`], [`manifests`],
//! [`init`], [`doctor`].

pub mod build;
pub mod doctor;
pub mod init;
pub mod manifests;
pub mod planning;
pub mod tag_moves;
pub mod test_records;

use std::path::Path;

use crate::diagnostic::Diagnostic;

/// Where a flow's notes go while it runs: the command line renders them on stderr; a test
/// collects them.
pub trait Reporter {
    /// A one-line note (`registry: 3 of 4 refs exist …`).
    fn status(&mut self, line: &str);
    /// Findings about input files under `root` (warnings, or errors with `--strict`).
    fn diagnostics(&mut self, diagnostics: &[Diagnostic], root: &Path);
}

/// A reporter that keeps every note, for tests and for callers that print them later.
#[derive(Debug, Default)]
pub struct Notes {
    pub lines: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Reporter for Notes {
    fn status(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }

    fn diagnostics(&mut self, diagnostics: &[Diagnostic], _root: &Path) {
        self.diagnostics.extend_from_slice(diagnostics);
    }
}
