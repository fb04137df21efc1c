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
    /// Reused from the image under its inputs ref; `digest` is that image's manifest digest
    /// when the registry said.
    Reused {
        inputs_ref: &'a str,
        digest: Option<&'a str>,
    },
    /// Its ref is already what the child needs; `digest` is the manifest digest that ref
    /// pointed at when the plan was made, when the registry said.
    Kept { digest: Option<&'a str> },
}

/// Where the child's `FROM` points: the parent's result when the parent builds in this
/// run; otherwise the image the plan saw, by its manifest digest when the registry gave it
/// (`ref@sha256:…`): the image with the parent's inputs when it is reused (so the child
/// builds on it whether or not `stackplan reuse` has written the parent's tag yet), the
/// parent's ref when it is kept. A tag moved by another pipeline between plan and build
/// then cannot put the child on another parent under these inputs. Without a digest
/// (offline) a kept parent is read through its ref, as the `FROM` names it: nothing when
/// the `FROM` already names that ref.
pub fn input(
    from: &str,
    parent_name: &str,
    parent_ref: &str,
    parent: ParentState<'_>,
) -> Option<ParentInput> {
    let image = |reference: &str, digest: Option<&str>| {
        Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Image(match digest {
                Some(digest) => format!("{reference}@{digest}"),
                None => reference.to_string(),
            }),
        })
    };
    match parent {
        ParentState::Builds => Some(ParentInput {
            from: from.to_string(),
            source: ParentSource::Target {
                name: parent_name.to_string(),
                reference: parent_ref.to_string(),
            },
        }),
        ParentState::Reused { inputs_ref, digest } => image(inputs_ref, digest),
        ParentState::Kept {
            digest: Some(digest),
        } => image(parent_ref, Some(digest)),
        ParentState::Kept { digest: None } if !reference::is_familiar_of(from, parent_ref) => {
            image(parent_ref, None)
        }
        ParentState::Kept { digest: None } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn source(from: &str, state: ParentState<'_>) -> Option<ParentSource> {
        input(from, "base", "r.io/o/base:1-dev", state).map(|i| i.source)
    }

    #[test]
    fn a_parent_not_built_here_is_read_by_the_digest_the_plan_saw() {
        let from = "r.io/o/base:1-dev";
        assert_eq!(
            source(
                from,
                ParentState::Kept {
                    digest: Some(DIGEST)
                }
            ),
            Some(ParentSource::Image(format!("r.io/o/base:1-dev@{DIGEST}")))
        );
        assert_eq!(
            source(
                from,
                ParentState::Reused {
                    inputs_ref: "r.io/o/base:inputs-ab",
                    digest: Some(DIGEST)
                }
            ),
            Some(ParentSource::Image(format!(
                "r.io/o/base:inputs-ab@{DIGEST}"
            )))
        );
        // A `--registry` rewrite: the FROM names another place, the pin still holds.
        assert_eq!(
            source(
                "ghcr.io/o/base:1-dev",
                ParentState::Kept {
                    digest: Some(DIGEST)
                }
            ),
            Some(ParentSource::Image(format!("r.io/o/base:1-dev@{DIGEST}")))
        );
    }

    #[test]
    fn without_a_digest_a_kept_parent_is_read_as_before() {
        let kept = || ParentState::Kept { digest: None };
        assert_eq!(source("r.io/o/base:1-dev", kept()), None);
        assert_eq!(
            source("ghcr.io/o/base:1-dev", kept()),
            Some(ParentSource::Image("r.io/o/base:1-dev".into()))
        );
        assert_eq!(
            source(
                "r.io/o/base:1-dev",
                ParentState::Reused {
                    inputs_ref: "r.io/o/base:inputs-ab",
                    digest: None
                }
            ),
            Some(ParentSource::Image("r.io/o/base:inputs-ab".into()))
        );
        assert!(matches!(
            source("r.io/o/base:1-dev", ParentState::Builds),
            Some(ParentSource::Target { .. })
        ));
    }
}
