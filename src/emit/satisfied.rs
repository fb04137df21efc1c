//! How the readable plans (text, markdown) say a target that is not built is satisfied,
//! and how they word the change rules' reasons once the parents' actions are known.
//!
//! The change rules speak of *rebuilding*; once the registry was asked, a parent they put
//! in the plan may be reused or kept instead. The readable plans lead with what will
//! happen (reuse of which image, kept at which digest), then say why the change rules put
//! the target in the plan, in words true of its parent's action.

use std::collections::HashMap;

use crate::inputs_digest::short;
use crate::plan::action::{Action, ActionReason};
use crate::plan::{Plan, Target};
use crate::rebuild::Reason;

/// Each target's action, by name: what a child's parent reason is worded from.
pub struct Actions<'a>(HashMap<&'a str, Action>);

impl<'a> Actions<'a> {
    pub fn of(plan: &'a Plan) -> Self {
        Actions(
            plan.targets
                .iter()
                .map(|t| (t.name.as_str(), t.action))
                .collect(),
        )
    }

    /// A reason in words: a parent the change rules put in the plan but that is not built
    /// is said to be reused or kept, never to rebuild.
    pub fn reason(&self, reason: &Reason) -> String {
        match reason {
            Reason::Parent { parent } => match self.0.get(parent.as_str()) {
                Some(Action::Reuse) => {
                    format!("parent {parent} is in the plan (reused, not rebuilt)")
                }
                Some(Action::None) => {
                    format!("parent {parent} is in the plan (kept, not rebuilt)")
                }
                _ => reason.to_string(),
            },
            _ => reason.to_string(),
        }
    }
}

/// How a target that is not built is satisfied, when the plan knows more than the change
/// rules: `("reused", "from REF@DIGEST: …")` or `("kept", "at REF@DIGEST: …")`. `None` for
/// a target that builds, and for one the change rules alone leave alone with no image
/// digest known (offline): there is nothing to add to "nothing it is built from changed".
pub fn satisfied(t: &Target) -> Option<(&'static str, String)> {
    let at = |reference: &str| match &t.image_digest {
        Some(digest) => format!("{reference}@{digest}"),
        None => reference.to_string(),
    };
    match (t.action, &t.action_reason) {
        (Action::Build, _) => None,
        (Action::Reuse, ActionReason::Reusable { digest, inputs_ref }) => Some((
            "reused",
            format!(
                "from {}: its inputs {} were built before",
                at(inputs_ref),
                short(digest)
            ),
        )),
        (Action::Reuse, why) => Some(("reused", why.to_string())),
        (Action::None, ActionReason::Current { digest, reference }) => Some((
            "kept",
            format!(
                "at {}: it already has inputs {}",
                at(reference),
                short(digest)
            ),
        )),
        (Action::None, ActionReason::ChangeRules) if t.image_digest.is_none() => None,
        (Action::None, why) => Some(("kept", format!("at {}: {why}", at(t.reference())))),
    }
}
