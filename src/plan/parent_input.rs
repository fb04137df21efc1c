//! How a child builds on its parent of the same run: the build args stackplan sets so
//! the child's `FROM` names the parent's ref, the `FROM` as BuildKit looks it up, and where
//! that `FROM` is pointed (the parent's result in the same build, or another ref).

use std::collections::BTreeMap;

use super::Target;
use crate::diagnostic::Diagnostic;
use crate::dockerfile::Dockerfile;
use crate::reference;

/// Where a child's parent image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentInput {
    /// The child's `FROM` exactly as BuildKit looks it up (familiar form).
    pub from: String,
    pub source: ParentSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParentSource {
    /// The parent is built in the same run: chain to its result. `reference` is the ref the
    /// parent is exported under, for executors that chain through the registry.
    Target { name: String, reference: String },
    /// The parent is not built, but the `FROM` names another place (a `--registry`
    /// rewrite): redirect it to this ref.
    Image(String),
}

/// What a child needs to build on its parent.
pub struct Chain {
    /// The args stackplan sets (`BASE_TAG`, and `BASE_IMAGE` when declared): above every
    /// other build arg, and left out of the inputs digest (the parent's digest stands in).
    pub args: BTreeMap<String, String>,
    /// The `FROM` that builds on the parent, as BuildKit looks it up.
    pub from: String,
}

/// The parent side of a child; `original_ref` is the parent's ref under its spec
/// `image_name` (before `--registry`).
pub fn chain(
    target: &str,
    parent: &Target,
    original_ref: &str,
    dockerfile: Option<&Dockerfile>,
    build_args: &BTreeMap<String, String>,
    warnings: &mut Vec<Diagnostic>,
) -> Chain {
    let (parent_name, parent_ref) = (&parent.name, parent.reference());
    let parent_ref = parent_ref.as_str();
    let mut args = BTreeMap::new();
    args.insert("BASE_TAG".to_string(), parent.tag.clone());
    if dockerfile.is_some_and(|df| df.declares_global_arg("BASE_IMAGE")) {
        args.insert("BASE_IMAGE".to_string(), parent_ref.to_string());
    }
    let mut all = build_args.clone();
    all.extend(args.clone());
    let wanted = [
        reference::familiar_repository(parent_ref),
        reference::familiar_repository(original_ref),
    ];
    let from = dockerfile.and_then(|df| {
        df.resolve_bases(&all)
            .into_iter()
            .filter(|b| !b.is_stage)
            .map(|b| reference::familiar(&b.reference))
            .find(|r| wanted.contains(&reference::familiar_repository(r)))
    });
    let from = match from {
        Some(f) => f,
        None => {
            if dockerfile.is_some() {
                warnings.push(Diagnostic::warning(format!(
                    "target `{target}`: no FROM of its Dockerfile resolves to {parent_ref}; BuildKit cannot chain it to `{parent_name}`"
                )));
            }
            reference::familiar(parent_ref)
        }
    };
    Chain { args, from }
}

/// How the parent is satisfied in this run, as far as its children are concerned.
pub enum ParentState<'a> {
    /// Built in this run.
    Builds,
    /// Reused from the image under its inputs ref.
    Reused { inputs_ref: &'a str },
    /// Its ref is already what the child needs.
    Kept,
}

/// Where the child's `FROM` points: the parent's result when the parent builds in this
/// run, the image with the parent's inputs when it is reused (so the child builds on it
/// whether or not `stackplan reuse` has written the parent's tag yet), the parent's ref
/// when the `FROM` names another place, nothing otherwise.
pub fn input(
    from: &str,
    parent_name: &str,
    parent_ref: &str,
    parent: ParentState<'_>,
) -> Option<ParentInput> {
    if let ParentState::Reused { inputs_ref } = parent {
        return Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Image(inputs_ref.to_string()),
        });
    }
    if matches!(parent, ParentState::Builds) {
        Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Target {
                name: parent_name.to_string(),
                reference: parent_ref.to_string(),
            },
        })
    } else if from != reference::familiar(parent_ref) {
        Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Image(parent_ref.to_string()),
        })
    } else {
        None
    }
}
