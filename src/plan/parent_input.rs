//! How a child builds on its parent of the same run: the build args stackplan sets so
//! the child's `FROM` names the parent's ref, the `FROM` as BuildKit looks it up, and where
//! that `FROM` is pointed (the parent's result in the same build, or another ref).

use std::collections::BTreeMap;

use super::Target;
use crate::diagnostic::Diagnostic;
use crate::dockerfile::Dockerfile;
use crate::parent_from;
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
    /// The args stackplan sets (`BASE_TAG`, `BASE_IMAGE` when declared, and the argument
    /// that makes the `FROM` name the parent): above every other build arg, and left out of
    /// the inputs digest (the parent's digest stands in).
    pub args: BTreeMap<String, String>,
    /// The `FROM` that builds on the parent, as BuildKit looks it up.
    pub from: String,
    /// The argument that makes that `FROM` name the parent's ref of this run.
    pub arg: Option<String>,
}

/// The parent side of a child; `original_name` is the parent's spec `image_name` (before
/// `--registry`), `parent_arg` the spec's `parent_arg`.
pub fn chain(
    target: &str,
    parent: &Target,
    original_name: &str,
    dockerfile: Option<&Dockerfile>,
    parent_arg: Option<&str>,
    build_args: &BTreeMap<String, String>,
    warnings: &mut Vec<Diagnostic>,
) -> Chain {
    let (parent_name, parent_ref) = (&parent.name, parent.reference());
    let repositories = [
        reference::familiar_repository(parent_ref),
        reference::familiar_repository(original_name),
    ];
    let outcome = match dockerfile {
        Some(df) => parent_from::find(
            df,
            build_args,
            &parent_from::Parent {
                reference: parent_ref,
                tag: &parent.tag,
                repositories: &repositories,
                arg: parent_arg,
            },
        ),
        None => {
            let mut args = BTreeMap::new();
            args.insert("BASE_TAG".to_string(), parent.tag.clone());
            parent_from::Outcome {
                args,
                ..Default::default()
            }
        }
    };
    let (from, arg) = match outcome.named {
        Some(named) => (reference::familiar(&named.reference), named.arg),
        None => {
            if dockerfile.is_some() {
                warnings.push(Diagnostic::warning(format!(
                    "target `{target}`: no FROM of its Dockerfile resolves to {parent_ref}; BuildKit cannot chain it to `{parent_name}`"
                )));
            }
            (reference::familiar(parent_ref), None)
        }
    };
    Chain {
        args: outcome.args,
        from,
        arg,
    }
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
    } else if !reference::is_familiar_of(from, parent_ref) {
        Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Image(parent_ref.to_string()),
        })
    } else {
        None
    }
}
