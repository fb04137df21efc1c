//! The registry probe of a plan: which of its refs exist and what the external images are
//! pinned to, asked before planning and, for the inputs tags, once more after; and the
//! status line that says what the registry answered.

use super::Reporter;
use crate::error::Result;
use crate::plan::{self, PlanOptions};
use crate::ref_facts::{RefFacts, RefState};
use crate::registry::Registry;
use crate::session::Session;
use crate::stack::Stack;

/// What the registry said, in counts, for the run's status line: printed once the inputs
/// tags were asked about too, so that it counts the images found by their inputs (on a new
/// branch the only refs that exist).
pub(super) struct Probed {
    /// Branch, stable and cache refs: (present, asked).
    pub tags: (usize, usize),
    /// Inputs tags: (present, asked).
    pub inputs: (usize, usize),
    /// External base images: (pinned, asked).
    pub bases: (usize, usize),
    pub elapsed: std::time::Duration,
    pub tokens: u32,
}

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "registry: {} of {} refs exist ({} of {} inputs tags), {} of {} base images pinned ({} ms, {} token request(s); --offline skips this)",
            self.tags.0 + self.inputs.0,
            self.tags.1 + self.inputs.1,
            self.inputs.0,
            self.inputs.1,
            self.bases.0,
            self.bases.1,
            self.elapsed.as_millis(),
            self.tokens,
        )
    }
}

/// Asks the registries which of the plan's refs exist, and pins the external images.
pub(super) fn probe(
    session: &Session,
    stack: &Stack,
    options: &PlanOptions,
    reporter: &mut dyn Reporter,
) -> Result<(RefFacts, Probed)> {
    let refs = plan::registry_refs(stack, options)?;
    let started = std::time::Instant::now();
    let view = probe_refs(session, &refs.tags, &refs.bases)?;
    let registry = &*session.registry();
    let present = refs
        .tags
        .iter()
        .filter(|r| view.state(r) == RefState::Present)
        .count();
    let pinned = refs
        .bases
        .iter()
        .filter(|r| view.digest(r).is_some())
        .count();
    let probed = Probed {
        tags: (present, refs.tags.len()),
        inputs: (0, 0),
        bases: (pinned, refs.bases.len()),
        elapsed: started.elapsed(),
        tokens: registry.stats().tokens,
    };
    report_retries(registry, reporter);
    for (reference, why) in &view.failures {
        reporter.status(&format!(
            "warning: base image {reference} is not pinned: {why}"
        ));
    }
    Ok((view, probed))
}

/// Asks about `required` refs (a failure is an error) and `optional` ones (a failure is
/// recorded in the view).
pub(super) fn probe_refs(
    session: &Session,
    required: &[String],
    optional: &[String],
) -> Result<RefFacts> {
    if required.is_empty() && optional.is_empty() {
        return Ok(RefFacts {
            probed: true,
            ..RefFacts::default()
        });
    }
    session.block_on(session.registry().probe(required, optional))?
}

/// Says what the run retried, when it retried anything.
pub fn report_retries(registry: &Registry, reporter: &mut dyn Reporter) {
    let retries = registry.stats().retries;
    if retries.retries > 0 {
        reporter.status(&format!("registry: {retries}"));
    }
}
