//! Which tag moves where: promotion for every target of the stack, reuse for the targets
//! whose inputs were built already, publishing for the targets a build pushed by digest.
//!
//! `stackplan promote --from 2026.3-main --to 2026.3-stable` gives every image (every plan)
//! the source tag's manifest under the new tag, registry-side. This module only computes and
//! checks the moves; [`crate::registry`] carries them out. Tags may use `{prefix}` (the
//! target's tag prefix) so one command covers several plans: `--from '{prefix}-main'
//! --to '{prefix}-stable'`. A variant's `stable` is its own, `<variant prefix>-stable`, so
//! the default and its variants never write one tag.
//!
//! Everything here is pure; [`crate::flow::tag_moves`] writes the moves, all or nothing.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::tag;

/// One tag to write: `to` gets the manifest `from` has now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub target: String,
    pub image: String,
    /// `<image_name>:<from tag>`.
    pub from: String,
    /// `<image_name>:<to tag>`.
    pub to: String,
}

/// Expands `{prefix}` in a tag template.
fn expand(template: &str, prefix: &str) -> String {
    template.replace("{prefix}", prefix)
}

/// The moves for every target of `plan` (all of them, rebuilt or not).
pub fn moves(plan: &Plan, from: &str, to: &str) -> Result<Vec<Move>> {
    let mut out = Vec::new();
    let mut writers: BTreeMap<String, String> = BTreeMap::new();
    for t in &plan.targets {
        let from_tag = expand(from, &t.tag_prefix);
        let mut to_tag = expand(to, &t.tag_prefix);
        for (flag, value) in [("--from", &from_tag), ("--to", &to_tag)] {
            if !tag::is_valid_tag(value) {
                return Err(Error::usage_with_help(
                    format!("{flag} {value}: not a valid Docker tag"),
                    "a tag is letters, digits, `_`, `.` and `-`; `{prefix}` stands for each target's tag prefix",
                ));
            }
        }
        if from_tag == to_tag {
            return Err(Error::usage(format!(
                "refusing to promote {from_tag} onto itself"
            )));
        }
        if to_tag == tag::STABLE && from_tag != tag::prefix_stable(&t.tag_prefix) {
            return Err(Error::usage_with_help(
                format!(
                    "`--to stable` takes only a `<prefix>-stable` source, and `{from_tag}` is not `{}` for {}",
                    tag::prefix_stable(&t.tag_prefix),
                    t.name
                ),
                "promote to `<prefix>-stable` first, then `--from <prefix>-stable --to stable`",
            ));
        }
        // A variant's last promotion is its own: `<variant prefix>-stable`.
        if to_tag == tag::STABLE {
            to_tag = t.stable_tag.clone();
        }
        let from_ref = format!("{}:{from_tag}", t.image_name);
        let to_ref = format!("{}:{to_tag}", t.image_name);
        if let Some(other) = writers.insert(to_ref.clone(), t.name.clone()) {
            return Err(Error::usage_with_help(
                format!("targets {other} and {} would both write {to_ref}", t.name),
                "promote one plan at a time (--plan NAME), or use `{prefix}` in --from and --to",
            ));
        }
        out.push(Move {
            target: t.name.clone(),
            image: t.image.clone(),
            from: from_ref,
            to: to_ref,
        });
    }
    Ok(out)
}

/// The tags to write for every reused target (`stackplan reuse`, `build --push`): each of
/// its tags but the inputs tag, from the inputs tag.
pub fn reuse_moves(plan: &Plan) -> Vec<Move> {
    let mut out = Vec::new();
    for t in plan.to_reuse() {
        let Some(source) = t.inputs_reference() else {
            continue;
        };
        out.extend(t.tags.iter().filter(|r| **r != source).map(|to| Move {
            target: t.name.clone(),
            image: t.image.clone(),
            from: source.clone(),
            to: to.clone(),
        }));
    }
    out
}

/// The tags to write for every target to build (`stackplan publish`): each of its tags,
/// from the digest `metadata` (buildx's `--metadata-file`, named `source` in the error)
/// says it was pushed as. Every target must have one: otherwise nothing moves.
pub fn published_moves(
    plan: &Plan,
    metadata: &serde_json::Value,
    source: &str,
) -> Result<Vec<Move>> {
    let mut moves = Vec::new();
    let mut missing = Vec::new();
    for t in plan.to_build() {
        match metadata[&t.name]["containerimage.digest"].as_str() {
            Some(digest) if digest.starts_with("sha256:") => {
                moves.extend(t.tags.iter().map(|to| Move {
                    target: t.name.clone(),
                    image: t.image.clone(),
                    from: format!("{}@{digest}", t.image_name),
                    to: to.clone(),
                }))
            }
            _ => missing.push(t.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Build {
            message: format!(
                "nothing was published; {} target(s) to build have no pushed digest in {source}: {}",
                missing.len(),
                missing.join(", ")
            ),
        });
    }
    Ok(moves)
}

/// The tag part of a ref.
pub fn tag_of(reference: &str) -> &str {
    reference
        .rsplit_once(':')
        .map(|(_, t)| t)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change_rules::ChangeRules;
    use crate::change_set::ChangeSet;
    use crate::context::Contexts;
    use crate::plan::PlanOptions;
    use crate::ref_facts::RefFacts;
    use crate::spec::Spec;
    use crate::stack::{DockerfileSource, Stack};

    /// An image with a variant, planned offline, rebuilt whole with `full`.
    fn plan_of(full: bool) -> Plan {
        let text = "tag: {prefix: '1'}\nimages:\n  img:\n    image_name: ghcr.io/o/img\n    variants: {cuda: {}}\n";
        let (spec, w) = Spec::parse(text, std::path::Path::new("images/spec.yml")).unwrap();
        let stack = Stack::assemble(spec, w, ChangeRules::without_file(), "images", |_, _| {
            DockerfileSource::Text("FROM busybox\n".into())
        })
        .unwrap();
        let opts = PlanOptions {
            branch: "main".into(),
            full_rebuild: full.then_some(crate::rebuild::FullRebuild::Flag),
            ..Default::default()
        };
        crate::plan::plan(
            &stack,
            &ChangeSet::default(),
            &Contexts::default(),
            &opts,
            &RefFacts::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_variant_is_promoted_to_its_own_stable_tag() {
        let plan = plan_of(false);
        let to: Vec<String> = moves(&plan, "{prefix}-stable", "stable")
            .unwrap()
            .into_iter()
            .map(|m| format!("{} -> {}", m.from, m.to))
            .collect();
        assert_eq!(
            to,
            [
                "ghcr.io/o/img:1-stable -> ghcr.io/o/img:stable",
                "ghcr.io/o/img:cuda-1-stable -> ghcr.io/o/img:cuda-stable",
            ]
        );
    }

    #[test]
    fn a_build_is_published_only_when_every_target_to_build_has_a_pushed_digest() {
        let plan = plan_of(true);
        let names: Vec<&str> = plan.to_build().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let digest = format!("sha256:{}", "a".repeat(64));
        let one = serde_json::json!({ names[0]: { "containerimage.digest": digest } });
        let err = published_moves(&plan, &one, "meta.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "nothing was published; 1 target(s) to build have no pushed digest in meta.json: {}",
                names[1]
            )
        );
        let both = serde_json::json!({
            names[0]: { "containerimage.digest": digest },
            names[1]: { "containerimage.digest": digest },
        });
        let moves = published_moves(&plan, &both, "meta.json").unwrap();
        let tags: usize = plan.to_build().map(|t| t.tags.len()).sum();
        assert_eq!(moves.len(), tags);
        assert!(
            moves
                .iter()
                .all(|m| m.from == format!("ghcr.io/o/img@{digest}")
                    && m.to.starts_with("ghcr.io/o/img:")),
            "{moves:?}"
        );
        // Nothing is reused offline: no tag moves for reuse.
        assert_eq!(reuse_moves(&plan), []);
    }

    #[test]
    fn the_tag_of_a_ref_is_after_its_last_colon() {
        assert_eq!(tag_of("localhost:5000/o/img:1-main"), "1-main");
        assert_eq!(tag_of("img"), "");
    }
}
