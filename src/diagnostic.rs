//! Diagnostics: a message about the user's input, where it is, and how to fix it.
//!
//! The core produces [`Diagnostic`] values; it never prints. The binary renders them,
//! with a snippet of the offending line when the source text is known (annotate-snippets,
//! the renderer rustc uses, so the output looks like what Rust users already read).

use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is. Warnings become errors with `--strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A 1-based line and column in a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// One finding about the user's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// The file the finding is about.
    pub file: Option<PathBuf>,
    /// Where in `file`; `None` when the finding concerns the whole file or a missing one.
    pub position: Option<Position>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            position: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic; `source` is the text of `self.file`, if it could be read,
    /// and gives the snippet with a caret under the offending column.
    pub fn render(&self, source: Option<&str>, styled: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let path = self
            .file
            .as_ref()
            .map(|file| match self.position {
                Some(p) => format!("{}:{}:{}", file.display(), p.line, p.column),
                None => file.display().to_string(),
            })
            .unwrap_or_default();
        let title = level.clone().primary_title(self.message.as_str());
        let snippet = match (source, self.position, self.file.as_ref()) {
            (Some(source), Some(pos), Some(file)) => line_span(source, pos).map(|(line, span)| {
                Snippet::source(line)
                    .line_start(pos.line)
                    .path(file.to_string_lossy().into_owned())
                    .annotation(AnnotationKind::Primary.span(span))
            }),
            _ => None,
        };
        let header = if path.is_empty() {
            self.message.clone()
        } else {
            format!("{path}: {}", self.message)
        };
        let mut report = Vec::new();
        match snippet {
            Some(snippet) => report.push(title.element(snippet)),
            None => report.push(Group::with_title(level.primary_title(header.as_str()))),
        }
        if let Some(help) = &self.help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(&report)
    }
}

/// The text of line `pos.line` and the byte span of the token starting at `pos.column`.
fn line_span(source: &str, pos: Position) -> Option<(&str, std::ops::Range<usize>)> {
    let line = source.lines().nth(pos.line.checked_sub(1)?)?;
    let start = line
        .char_indices()
        .nth(pos.column.saturating_sub(1))
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let rest = &line[start..];
    let len = rest
        .find(|c: char| c.is_whitespace() || c == ',' || c == ']' || c == '}')
        .unwrap_or(rest.len())
        .max(1);
    Some((line, start..(start + len).min(line.len().max(start + 1))))
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: ")?;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(p) = self.position {
                write!(f, ":{}:{}", p.line, p.column)?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}
