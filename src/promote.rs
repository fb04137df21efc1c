//! Promotion: which tag moves where, for every target of the stack.
//!
//! `stackplan promote --from 2026.3-main --to 2026.3-stable` gives every image (every plan)
//! the source tag's manifest under the new tag, registry-side. This module only computes and
//! checks the moves; [`crate::registry`] carries them out. Tags may use `{prefix}` (the
//! target's tag prefix) so one command covers several plans: `--from '{prefix}-main'
//! --to '{prefix}-stable'`. A variant's `stable` is its own, `<variant prefix>-stable`, so
//! the default and its variants never write one tag.

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

    #[test]
    fn a_variant_is_promoted_to_its_own_stable_tag() {
        let text = "tag: {prefix: '1'}\nimages:\n  img:\n    image_name: ghcr.io/o/img\n    variants: {cuda: {}}\n";
        let (spec, w) = Spec::parse(text, std::path::Path::new("images/spec.yml")).unwrap();
        let stack = Stack::assemble(spec, w, ChangeRules::without_file(), "images", |_, _| {
            DockerfileSource::Text("FROM busybox\n".into())
        })
        .unwrap();
        let opts = PlanOptions {
            branch: "main".into(),
            ..Default::default()
        };
        let plan = crate::plan::plan(
            &stack,
            &ChangeSet::default(),
            &Contexts::default(),
            &opts,
            &RefFacts::default(),
        )
        .unwrap();
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
}
