//! The library's error type. Every variant says what is wrong, where, and how to fix it;
//! [`Error::exit_code`] is the one place that maps an error to the process exit code.

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
        help: Option<String>,
    },

    /// The input (spec, change_ignore.json, Dockerfiles) has errors; every one found is listed.
    #[error("{}", render_plain(diagnostics))]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        /// Source texts keyed by file, so the renderer can show snippets.
        sources: Vec<(PathBuf, String)>,
    },

    /// A command-line value is wrong (a flag's format, an unknown plan, a bad branch name).
    #[error("{message}")]
    Usage {
        message: String,
        help: Option<String>,
    },

    /// git failed or the repository is not in a state we can plan from.
    #[error("git {command}: {message}")]
    Git {
        command: String,
        message: String,
        help: Option<String>,
    },

    /// A registry could not be reached or refused us.
    #[error("registry {registry}: {message}")]
    Registry {
        registry: String,
        message: String,
        help: Option<String>,
    },

    /// The build engine failed (or some targets failed to build).
    #[error("{message}")]
    Build { message: String },

    /// The machine lacks something a flow needs (`stackplan doctor` found it).
    #[error("{message}")]
    Environment {
        message: String,
        help: Option<String>,
    },
}

fn render_plain(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
            help: None,
        }
    }

    /// An I/O error the user can fix, and how (e.g. a file of a build context that cannot
    /// be read: fix its permissions, or leave it out with `.dockerignore`).
    pub fn io_with_help(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
        help: impl Into<String>,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
            help: Some(help.into()),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: None,
        }
    }

    pub fn usage_with_help(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: Some(help.into()),
        }
    }

    /// 2 for bad input or usage (the user must change something), 1 for a failure of the
    /// environment or the build (a registry, the engine, a failed target).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid { .. } | Error::Usage { .. } | Error::Git { .. } => 2,
            Error::Io { .. }
            | Error::Registry { .. }
            | Error::Build { .. }
            | Error::Environment { .. } => 1,
        }
    }

    /// The help line, if the error carries one.
    pub fn help(&self) -> Option<&str> {
        match self {
            Error::Io { help, .. }
            | Error::Usage { help, .. }
            | Error::Git { help, .. }
            | Error::Registry { help, .. }
            | Error::Environment { help, .. } => help.as_deref(),
            _ => None,
        }
    }
}

/// The innermost message of an error chain (reqwest hides the useful part in sources).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut messages = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        messages.push(s.to_string());
        cur = s.source();
    }
    messages.dedup();
    messages.join(": ")
}
