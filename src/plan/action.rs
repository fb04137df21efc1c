//! How a target is satisfied: built, reused from an image with the same inputs (a
//! registry-side tag copy, no layer moves), or left alone because its tag already has
//! those inputs.
//!
//! `rebuild` (see [`crate::rebuild`]) says whether the change rules put a target in the
//! plan; the action says what it takes to satisfy it. Without registry facts (`--offline`)
//! or with unpinned inputs the change rules decide exactly as they always have: a target
//! that rebuilds is built, the others are left alone. This module is pure: it decides from
//! facts the registry adapter gathered.

use std::fmt;

use crate::inputs_digest::{Inputs, short};
use crate::rebuild::FullRebuild;
use crate::ref_facts::{RefFacts, RefState};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// No image with these inputs exists (or the registry was not asked): build it.
    Build,
    /// An image with these inputs exists under its inputs tag: write the target's tags
    /// from it registry-side.
    Reuse,
    /// Nothing to do: the target's tag already points at an image with these inputs, or
    /// the change rules leave it alone.
    #[default]
    None,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Build => "build",
            Action::Reuse => "reuse",
            Action::None => "none",
        })
    }
}

/// Why a target got its action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ActionReason {
    /// The registry was not asked: the change rules decide.
    #[default]
    ChangeRules,
    /// The inputs are unpinned: the change rules decide.
    Unpinned { why: String },
    /// `--full` or the commit message asked to build everything, reuse or not.
    FullRebuildAsked { why: String },
    /// The parent builds, so the child builds on the new parent.
    ParentBuilds { parent: String },
    /// No image with these inputs exists.
    NoImage { digest: String, inputs_ref: String },
    /// An image with these inputs exists.
    Reusable { digest: String, inputs_ref: String },
    /// The target's tag already points at the image with these inputs.
    Current { digest: String, reference: String },
}

impl fmt::Display for ActionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionReason::ChangeRules => {
                write!(
                    f,
                    "decided by the change rules (the registry was not asked)"
                )
            }
            ActionReason::Unpinned { why } => {
                write!(f, "inputs unpinned ({why}): decided by the change rules")
            }
            ActionReason::FullRebuildAsked { why } => {
                write!(
                    f,
                    "{why}: built even where an image with these inputs exists"
                )
            }
            ActionReason::ParentBuilds { parent } => {
                write!(f, "its parent {parent} builds")
            }
            ActionReason::NoImage { digest, inputs_ref } => {
                let tag = inputs_ref.rsplit_once(':').map_or("", |(_, t)| t);
                let tag = tag.get(..19).unwrap_or(tag);
                write!(
                    f,
                    "no image has inputs {} yet (no tag {tag}… in the registry)",
                    short(digest)
                )
            }
            ActionReason::Reusable { digest, inputs_ref } => {
                write!(f, "inputs {} already built as {inputs_ref}", short(digest))
            }
            ActionReason::Current { digest, reference } => {
                write!(f, "{reference} already has inputs {}", short(digest))
            }
        }
    }
}

impl ActionReason {
    /// A short machine-readable kind, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionReason::ChangeRules => "change_rules",
            ActionReason::Unpinned { .. } => "unpinned",
            ActionReason::FullRebuildAsked { .. } => "full_rebuild",
            ActionReason::ParentBuilds { .. } => "parent_builds",
            ActionReason::NoImage { .. } => "no_image",
            ActionReason::Reusable { .. } => "reusable",
            ActionReason::Current { .. } => "current",
        }
    }
}

/// What one target's decision is made from.
pub struct Facts<'a> {
    /// Whether the change rules put the target in the plan.
    pub rebuild: bool,
    pub inputs: &'a Inputs,
    /// `<image_name>:<prefix>-<branch>`.
    pub reference: &'a str,
    /// `<image_name>:inputs-<hex>` when the inputs are pinned.
    pub inputs_ref: Option<&'a str>,
    /// The parent target's name and action.
    pub parent: Option<(&'a str, Action)>,
    pub full_rebuild: Option<&'a FullRebuild>,
}

/// Decides one target.
pub fn decide(facts: &Facts<'_>, ref_facts: &RefFacts) -> (Action, ActionReason) {
    let by_rules = |reason| {
        let action = if facts.rebuild {
            Action::Build
        } else {
            Action::None
        };
        (action, reason)
    };
    if !ref_facts.probed {
        return by_rules(ActionReason::ChangeRules);
    }
    if !facts.inputs.pinned {
        return by_rules(ActionReason::Unpinned {
            why: facts.inputs.unpinned.join("; "),
        });
    }
    // A pinned digest whose inputs tag was not asked about: as before content addressing.
    let Some(inputs_ref) = facts
        .inputs_ref
        .filter(|r| ref_facts.state(r) != RefState::Unknown)
    else {
        return by_rules(ActionReason::ChangeRules);
    };
    if let Some(why @ (FullRebuild::Flag | FullRebuild::CommitMessage)) = facts.full_rebuild {
        return (
            Action::Build,
            ActionReason::FullRebuildAsked {
                why: format!("full rebuild: {why}"),
            },
        );
    }
    if let Some((parent, Action::Build)) = facts.parent {
        return (
            Action::Build,
            ActionReason::ParentBuilds {
                parent: parent.to_string(),
            },
        );
    }
    let digest = facts.inputs.digest.clone();
    match ref_facts.digest(inputs_ref) {
        None => (
            Action::Build,
            ActionReason::NoImage {
                digest,
                inputs_ref: inputs_ref.to_string(),
            },
        ),
        Some(image) if ref_facts.digest(facts.reference) == Some(image) => (
            Action::None,
            ActionReason::Current {
                digest,
                reference: facts.reference.to_string(),
            },
        ),
        Some(_) => (
            Action::Reuse,
            ActionReason::Reusable {
                digest,
                inputs_ref: inputs_ref.to_string(),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: &str = "r.io/a:1-dev";
    const INPUTS: &str = "r.io/a:inputs-00";

    fn pinned() -> Inputs {
        Inputs {
            digest: "sha256:00".into(),
            pinned: true,
            ..Inputs::default()
        }
    }

    fn view(entries: &[(&str, Option<&str>)]) -> RefFacts {
        let mut v = RefFacts {
            probed: true,
            ..RefFacts::default()
        };
        for (r, d) in entries {
            match d {
                Some(d) => {
                    v.states.insert(r.to_string(), RefState::Present);
                    v.digests.insert(r.to_string(), d.to_string());
                }
                None => {
                    v.states.insert(r.to_string(), RefState::Missing);
                }
            }
        }
        v
    }

    fn run(rebuild: bool, inputs: &Inputs, parent: Option<Action>, v: &RefFacts) -> Action {
        decide(
            &Facts {
                rebuild,
                inputs,
                reference: REF,
                inputs_ref: inputs.pinned.then_some(INPUTS),
                parent: parent.map(|a| ("p", a)),
                full_rebuild: None,
            },
            v,
        )
        .0
    }

    #[test]
    fn offline_the_change_rules_decide() {
        let offline = RefFacts::default();
        assert_eq!(run(true, &pinned(), None, &offline), Action::Build);
        assert_eq!(run(false, &pinned(), None, &offline), Action::None);
    }

    #[test]
    fn online_the_inputs_decide() {
        let inputs = pinned();
        let none = view(&[(INPUTS, Some("sha256:m")), (REF, Some("sha256:m"))]);
        let reuse = view(&[(INPUTS, Some("sha256:m")), (REF, None)]);
        let build = view(&[(INPUTS, None), (REF, Some("sha256:m"))]);
        assert_eq!(run(true, &inputs, None, &none), Action::None);
        assert_eq!(run(true, &inputs, None, &reuse), Action::Reuse);
        assert_eq!(run(false, &inputs, None, &build), Action::Build);
        assert_eq!(
            run(true, &inputs, Some(Action::Build), &reuse),
            Action::Build
        );
        assert_eq!(
            run(true, &inputs, Some(Action::Reuse), &reuse),
            Action::Reuse
        );
    }

    #[test]
    fn unpinned_inputs_follow_the_change_rules_online() {
        let unpinned = Inputs {
            digest: "sha256:00".into(),
            pinned: false,
            unpinned: vec!["x is not resolved".into()],
            ..Inputs::default()
        };
        let v = view(&[(REF, Some("sha256:m"))]);
        let (action, reason) = decide(
            &Facts {
                rebuild: false,
                inputs: &unpinned,
                reference: REF,
                inputs_ref: None,
                parent: None,
                full_rebuild: None,
            },
            &v,
        );
        assert_eq!(action, Action::None);
        assert_eq!(reason.kind(), "unpinned");
    }

    #[test]
    fn an_explicit_full_rebuild_builds_but_the_branch_rule_reuses() {
        let inputs = pinned();
        let v = view(&[(INPUTS, Some("sha256:m")), (REF, None)]);
        let with = |full: FullRebuild| {
            decide(
                &Facts {
                    rebuild: true,
                    inputs: &inputs,
                    reference: REF,
                    inputs_ref: Some(INPUTS),
                    parent: None,
                    full_rebuild: Some(&full),
                },
                &v,
            )
            .0
        };
        assert_eq!(with(FullRebuild::Flag), Action::Build);
        assert_eq!(with(FullRebuild::Branch("main".into())), Action::Reuse);
    }
}
