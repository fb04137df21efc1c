//! Where output goes: the product to stdout (or a file, whole), everything else to stderr.

use std::io::Write;
use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};

pub struct Printer {
    /// Whether stderr gets colour.
    styled_stderr: bool,
}

impl Default for Printer {
    fn default() -> Self {
        Self::new()
    }
}

impl Printer {
    pub fn new() -> Printer {
        let styled_stderr =
            anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
        Printer { styled_stderr }
    }

    /// The command's product: stdout, or written whole to `path`.
    /// On stdout it goes through anstream, which drops the styling when stdout is not a
    /// terminal (the text plan is styled).
    pub fn product(&mut self, text: &str, path: Option<&Path>) -> Result<()> {
        match path {
            Some(_) => self.product_with(path, |out| out.write_all(text.as_bytes())),
            None => {
                let mut out = anstream::stdout().lock();
                stdout_result(out.write_all(text.as_bytes()).and_then(|_| out.flush()))
            }
        }
    }

    /// Like [`Printer::product`] for an unstyled product, written by `write` as it is made
    /// (a large bake file is never held whole in memory). To a file, it is still written
    /// whole or not at all.
    pub fn product_with(
        &mut self,
        path: Option<&Path>,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        match path {
            Some(path) => {
                crate::fs::write_atomic_with(path, write)?;
                self.status(&format!("wrote {}", path.display()));
                Ok(())
            }
            None => {
                // An unstyled product (JSON): straight to stdout, not through anstream's
                // escape-stripping, which would read every byte of a large bake file.
                let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                stdout_result(write(&mut out).and_then(|_| out.flush()))
            }
        }
    }

    /// A one-line note on stderr.
    pub fn status(&mut self, message: &str) {
        let _ = writeln!(anstream::stderr(), "stackplan: {message}");
    }

    /// Lines on stderr as they are (a table, no `stackplan:` prefix).
    pub fn lines(&mut self, text: &str) {
        let _ = write!(anstream::stderr(), "{text}");
    }

    /// Warnings (or errors) on stderr, with snippets of files under `root`.
    pub fn diagnostics(&mut self, diagnostics: &[Diagnostic], root: &Path) {
        let mut err = anstream::stderr().lock();
        for d in diagnostics {
            let source = d
                .file
                .as_ref()
                .and_then(|f| std::fs::read_to_string(root.join(f)).ok());
            let _ = writeln!(err, "{}", d.render(source.as_deref(), self.styled_stderr));
        }
    }
}

impl crate::flow::Reporter for Printer {
    fn status(&mut self, line: &str) {
        Printer::status(self, line);
    }

    fn diagnostics(&mut self, diagnostics: &[Diagnostic], root: &Path) {
        Printer::diagnostics(self, diagnostics, root);
    }
}

/// Renders an error on stderr: what, where, how to fix.
pub fn print_error(error: &Error) {
    let styled = anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
    let mut err = anstream::stderr().lock();
    match error {
        Error::Invalid {
            diagnostics,
            sources,
        } => {
            for d in diagnostics {
                let source = d.file.as_ref().and_then(|f| {
                    sources
                        .iter()
                        .find(|(p, _)| p == f)
                        .map(|(_, s)| s.clone())
                        .or_else(|| std::fs::read_to_string(f).ok())
                });
                let _ = writeln!(err, "{}", d.render(source.as_deref(), styled));
            }
            let n = diagnostics.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(err, "stackplan: {n} error(s); nothing was written");
        }
        other => {
            let mut d = Diagnostic::error(other.to_string());
            if let Some(help) = other.help() {
                d = d.help(help);
            }
            let _ = writeln!(err, "{}", d.render(None, styled));
        }
    }
}

/// The outcome of writing to stdout: a closed pipe (`| head`) is the reader's choice, not a
/// failure.
fn stdout_result(written: std::io::Result<()>) -> Result<()> {
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write", "standard output", e)),
    }
}
