//! What a build reports while it runs, and where it reports it: the build flow
//! ([`crate::flow::build`]) sends each [`Event`] to a [`BuildEvents`] sink. The command line's
//! sink is the progress renderer ([`super::progress::Progress`]); a test's sink records them.
//!
//! It owns the events' shapes only: what a sink does with them (draw bars, print lines or
//! JSON, keep them) is the sink's business.

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::schedule::Outcome;

/// One thing that happened in a build.
#[derive(Clone, Debug)]
pub enum Event {
    /// A note about the whole run (the daemon cannot chain targets in one graph, …).
    Note(String),
    /// `target`'s solve was sent to BuildKit.
    Started { target: String },
    /// One message of `target`'s BuildKit status stream: its steps (vertices) starting,
    /// finishing, cached or failed, and their log lines. A child chained to its parent's
    /// result reports the parent's steps too.
    Status {
        target: String,
        status: Box<StatusResponse>,
    },
    /// `target` finished: succeeded, failed (with BuildKit's message) or skipped because
    /// its parent failed.
    Finished { target: String, outcome: Outcome },
}

/// Where a build's events go. Called from the build's tasks, concurrently: a sink keeps
/// its own order.
pub trait BuildEvents: Send + Sync {
    fn event(&self, event: Event);
}
