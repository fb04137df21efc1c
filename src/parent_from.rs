//! Which `FROM` of a child builds on its parent, and which build args make it name the
//! parent's ref of this run.
//!
//! Stacks name that argument as they like: `BASE_TAG` in `FROM org/base:${BASE_TAG}`,
//! `BASE_IMAGE` in `FROM ${BASE_IMAGE}`, but also `FROM $BASE_IMG` with a placeholder
//! default, or `FROM registry/name:${PARENT_TAG}`. This module decides, from the Dockerfile
//! alone, which global `ARG` to set and to what: the whole ref for a `FROM` that is the
//! argument, the tag for `repo:$X`. The planner ([`crate::plan`]) sets those args; the
//! stack check ([`crate::stack`]) warns when no `FROM` can be made to name the parent.

use std::collections::BTreeMap;

use crate::dockerfile::Dockerfile;
use crate::reference;

/// The parent of this run, as a child's `FROM` must name it.
pub struct Parent<'a> {
    /// The parent's whole ref of this run (`ghcr.io/org/base:2026.3-main`).
    pub reference: &'a str,
    /// Its tag (`2026.3-main`).
    pub tag: &'a str,
    /// Repositories that name the parent (familiar form): its ref's and, under
    /// `--registry`, its spec `image_name`'s.
    pub repositories: &'a [&'a str],
    /// The spec's `parent_arg`: the argument to set, when detection cannot decide.
    pub arg: Option<&'a str>,
}

/// What the child's Dockerfile needs to build on its parent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The args stackplan sets: `BASE_TAG` always, `BASE_IMAGE` when declared, and the
    /// argument found here.
    pub args: BTreeMap<String, String>,
    /// The `FROM` that names the parent, if one does.
    pub named: Option<Named>,
    /// Arguments that could each name the parent, when detection could not pick one.
    pub ambiguous: Vec<String>,
}

/// The `FROM` that names the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// The `FROM` as resolved with [`Outcome::args`] (not in familiar form).
    pub reference: String,
    /// The argument stackplan sets that makes it name the parent; `None` when the `FROM`
    /// names the parent's repository by itself (a fixed tag).
    pub arg: Option<String>,
    /// Its line in the Dockerfile.
    pub line: usize,
}

/// Finds the `FROM` that builds on `parent` and the args that make it name the parent's
/// ref. `build_args` are the child's other build args (they decide what other variables
/// expand to).
pub fn find(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
    parent: &Parent<'_>,
) -> Outcome {
    let mut args = BTreeMap::new();
    args.insert("BASE_TAG".to_string(), parent.tag.to_string());
    if df.declares_global_arg("BASE_IMAGE") {
        args.insert("BASE_IMAGE".to_string(), parent.reference.to_string());
    }
    // The child's build args under the ones set here, looked up without a merged map.
    let all = |name: &str| {
        args.get(name)
            .or_else(|| build_args.get(name))
            .map(String::as_str)
    };
    // The cheap test first: most `FROM`s that name the parent's repository are valid.
    let names_parent = |r: &str| {
        parent
            .repositories
            .contains(&reference::familiar_repository(r))
            && reference::is_valid(r)
    };
    let bases = df.resolve_bases_with(all);

    // The conventional arguments, unless the spec names another one.
    if parent.arg.is_none_or(|a| args.contains_key(a)) {
        let conventional = bases.iter().filter(|b| !b.is_stage).find_map(|b| {
            let arg = b
                .uses
                .iter()
                .find(|u| args.contains_key(*u) && parent.arg.is_none_or(|a| a == *u))?;
            names_parent(&b.reference).then(|| Named {
                reference: b.reference.clone(),
                arg: Some(arg.clone()),
                line: b.line,
            })
        });
        if conventional.is_some() {
            return Outcome {
                args,
                named: conventional,
                ambiguous: Vec::new(),
            };
        }
    }

    // Any other global argument a `FROM` uses: the whole ref, else the tag.
    let mut candidates: Vec<(String, String, Named)> = Vec::new();
    for base in bases.iter().filter(|b| !b.is_stage) {
        for var in &base.uses {
            let wanted = match parent.arg {
                Some(a) => a == var,
                None => !args.contains_key(var),
            };
            if !wanted
                || !df.declares_global_arg(var)
                || candidates.iter().any(|(v, _, _)| v == var)
            {
                continue;
            }
            for value in [parent.reference, parent.tag] {
                let tried = |name: &str| if name == var { Some(value) } else { all(name) };
                let resolved = &df.resolve_bases_with(tried)[base.stage];
                if names_parent(&resolved.reference) {
                    candidates.push((
                        var.clone(),
                        value.to_string(),
                        Named {
                            reference: resolved.reference.clone(),
                            arg: Some(var.clone()),
                            line: base.line,
                        },
                    ));
                    break;
                }
            }
        }
    }
    if candidates.len() == 1 {
        let (var, value, named) = candidates.remove(0);
        args.insert(var, value);
        return Outcome {
            args,
            named: Some(named),
            ambiguous: Vec::new(),
        };
    }

    // A `FROM` that names the parent's repository with a tag of its own.
    let fixed = bases
        .iter()
        .filter(|b| !b.is_stage)
        .find(|b| names_parent(&b.reference))
        .map(|b| Named {
            reference: b.reference.clone(),
            arg: None,
            line: b.line,
        });
    Outcome {
        args,
        named: fixed,
        ambiguous: candidates.into_iter().map(|(v, _, _)| v).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(text: &str, arg: Option<&str>) -> Outcome {
        let df = Dockerfile::parse(text).unwrap();
        let repos = ["ghcr.io/org/base"];
        find(
            &df,
            &BTreeMap::new(),
            &Parent {
                reference: "ghcr.io/org/base:1-main",
                tag: "1-main",
                repositories: &repos,
                arg,
            },
        )
    }

    fn named(o: &Outcome) -> (&str, Option<&str>) {
        let n = o.named.as_ref().expect("a FROM names the parent");
        (n.reference.as_str(), n.arg.as_deref())
    }

    #[test]
    fn conventional_arguments_come_first() {
        let o = outcome(
            "ARG BASE_TAG=latest\nFROM ghcr.io/org/base:${BASE_TAG}\n",
            None,
        );
        assert_eq!(named(&o), ("ghcr.io/org/base:1-main", Some("BASE_TAG")));
        assert_eq!(o.args.keys().collect::<Vec<_>>(), ["BASE_TAG"]);
        let o = outcome("ARG BASE_IMAGE=x\nFROM $BASE_IMAGE\n", None);
        assert_eq!(named(&o), ("ghcr.io/org/base:1-main", Some("BASE_IMAGE")));
    }

    #[test]
    fn a_bare_argument_with_a_placeholder_default_gets_the_whole_ref() {
        let o = outcome("ARG BASE_IMG=@@PARENT@@\nFROM $BASE_IMG\nRUN true\n", None);
        assert_eq!(named(&o), ("ghcr.io/org/base:1-main", Some("BASE_IMG")));
        assert_eq!(o.args["BASE_IMG"], "ghcr.io/org/base:1-main");
        assert_eq!(o.args["BASE_TAG"], "1-main");
        let o = outcome("ARG PARENT\nFROM ${PARENT} AS final\n", None);
        assert_eq!(o.args["PARENT"], "ghcr.io/org/base:1-main");
    }

    #[test]
    fn a_tag_argument_gets_the_tag() {
        let o = outcome(
            "ARG REG=ghcr.io/org\nARG PARENT_TAG=latest\nFROM ${REG}/base:${PARENT_TAG}\n",
            None,
        );
        assert_eq!(named(&o), ("ghcr.io/org/base:1-main", Some("PARENT_TAG")));
        assert_eq!(o.args["PARENT_TAG"], "1-main");
        assert!(!o.args.contains_key("REG"));
    }

    #[test]
    fn two_candidates_need_the_spec_to_decide() {
        let text = "ARG TOOLS=x\nARG BASE_IMG=y\nFROM $TOOLS AS tools\nFROM $BASE_IMG\n";
        let o = outcome(text, None);
        assert_eq!(o.named, None);
        assert_eq!(o.ambiguous, ["TOOLS", "BASE_IMG"]);
        let o = outcome(text, Some("BASE_IMG"));
        assert_eq!(named(&o), ("ghcr.io/org/base:1-main", Some("BASE_IMG")));
        assert!(!o.args.contains_key("TOOLS"));
    }

    #[test]
    fn fixed_tags_and_unrelated_froms() {
        let o = outcome("FROM ghcr.io/org/base:2024\n", None);
        assert_eq!(named(&o), ("ghcr.io/org/base:2024", None));
        let o = outcome("FROM busybox\n", None);
        assert_eq!(o.named, None);
        // An argument declared after the FROM it would set is not a global one.
        let o = outcome("FROM $LATE\nARG LATE=x\n", None);
        assert_eq!(o.named, None);
    }
}
