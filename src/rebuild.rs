//! What rebuilds and why: the change set and the rules in, one decision per image out.
//!
//! An image rebuilds when a file in its folder changed, when a `BuildAll` path changed,
//! when a full rebuild is asked for, or when its parent rebuilds. Every decision carries
//! its reasons, so `stackplan plan` can say why. Registry facts (a missing branch tag) are
//! added later by [`crate::plan`], per target.

use std::collections::BTreeMap;
use std::fmt;

use crate::change_rules::{ChangeRules, RuleMatch};
use crate::change_set::ChangeSet;
use crate::graph::StackGraph;
use crate::spec::{Image, Spec};

/// Why everything rebuilds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FullRebuild {
    /// `--full` was given.
    Flag,
    /// The head commit message says "full rebuild".
    CommitMessage,
    /// The branch is one that always rebuilds everything (`main` by default).
    Branch(String),
}

impl fmt::Display for FullRebuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FullRebuild::Flag => write!(f, "--full was given"),
            FullRebuild::CommitMessage => {
                write!(f, "the head commit message asks for a full rebuild")
            }
            FullRebuild::Branch(b) => write!(f, "branch `{b}` always rebuilds everything"),
        }
    }
}

/// One reason for a rebuild.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// A file in the image's folder changed.
    Changed { path: String },
    /// A changed file matched a `BuildAll` entry.
    BuildAll { path: String, pattern: String },
    /// A full rebuild was asked for.
    Full { why: String },
    /// The parent target rebuilds.
    Parent { parent: String },
    /// The branch tag is not in the registry, so the image must be built to carry it.
    BranchTagMissing { reference: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Changed { path } => write!(f, "{path} changed"),
            Reason::BuildAll { path, pattern } => {
                write!(f, "{path} changed and matches BuildAll entry `{pattern}`")
            }
            Reason::Full { why } => write!(f, "full rebuild: {why}"),
            Reason::Parent { parent } => write!(f, "parent {parent} rebuilds"),
            Reason::BranchTagMissing { reference } => {
                write!(f, "{reference} is not in the registry yet")
            }
        }
    }
}

impl Reason {
    /// A short machine-readable kind, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Changed { .. } => "changed",
            Reason::BuildAll { .. } => "build_all",
            Reason::Full { .. } => "full_rebuild",
            Reason::Parent { .. } => "parent",
            Reason::BranchTagMissing { .. } => "branch_tag_missing",
        }
    }
}

/// What the change set means for the stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decisions {
    /// Reasons per image key, and per variant key (`<image>/<variant>`); an image or variant
    /// with no entry does not rebuild because of changes. Parent reasons are not here: they
    /// are per target (see [`crate::plan`]).
    pub reasons: BTreeMap<String, Vec<Reason>>,
    pub full_rebuild: Option<FullRebuild>,
    /// Changed files that matched `ChangeIgnore`, with the entry.
    pub ignored: Vec<(String, String)>,
    /// Changed files under `images/` that belong to no image and match no rule.
    pub unowned: Vec<String>,
}

/// Decides whether everything rebuilds: `--full`, then the commit message, then the branch.
pub fn full_rebuild(
    flag: bool,
    head_message: Option<&str>,
    branch: &str,
    full_rebuild_branches: &[String],
) -> Option<FullRebuild> {
    if flag {
        Some(FullRebuild::Flag)
    } else if head_message.is_some_and(|m| m.to_lowercase().contains("full rebuild")) {
        Some(FullRebuild::CommitMessage)
    } else if full_rebuild_branches.iter().any(|b| b == branch) {
        Some(FullRebuild::Branch(branch.to_string()))
    } else {
        None
    }
}

/// Applies the rules to the change set. `images_dir` is the images folder relative to the
/// repository root (`images`).
pub fn decide(
    spec: &Spec,
    graph: &StackGraph,
    rules: &ChangeRules,
    changes: &ChangeSet,
    images_dir: &str,
    full: Option<FullRebuild>,
) -> Decisions {
    let mut d = Decisions {
        full_rebuild: full.clone(),
        ..Decisions::default()
    };
    let mut build_all: Vec<Reason> = Vec::new();
    let prefix = if images_dir.is_empty() || images_dir == "." {
        String::new()
    } else {
        format!("{}/", images_dir.trim_end_matches('/'))
    };
    for file in &changes.files {
        let Some(inside) = file.strip_prefix(&prefix) else {
            continue; // outside images/: never rebuilds
        };
        match rules.classify(inside) {
            Some(RuleMatch::Ignore { pattern }) => d.ignored.push((file.clone(), pattern)),
            Some(RuleMatch::BuildAll { pattern }) => build_all.push(Reason::BuildAll {
                path: file.clone(),
                pattern,
            }),
            None => {
                let (key, rest) = inside.split_once('/').unwrap_or((inside, ""));
                if let Some(image) = spec.images.get(key).filter(|_| !rest.is_empty()) {
                    for owner in owners(image, rest) {
                        d.reasons
                            .entry(owner)
                            .or_default()
                            .push(Reason::Changed { path: file.clone() });
                    }
                } else {
                    d.unowned.push(file.clone());
                }
            }
        }
    }
    let everything: Vec<Reason> = match &full {
        Some(why) => vec![Reason::Full {
            why: why.to_string(),
        }],
        None => build_all,
    };
    if !everything.is_empty() {
        for key in graph.order() {
            let image = &spec.images[key];
            let variants = image.variants.values().map(|v| v.key(key));
            for k in std::iter::once(key.clone()).chain(variants) {
                d.reasons
                    .entry(k)
                    .or_default()
                    .extend(everything.iter().cloned());
            }
        }
    }
    d
}

/// Which of an image's targets a changed file (`path` inside the image folder) changes: a
/// file under a variant's own folder changes that variant only; any other file changes the
/// default and every variant whose context holds it (a context of `.` holds them all).
fn owners(image: &Image, path: &str) -> Vec<String> {
    let under = |folder: &str| {
        folder != "."
            && path
                .strip_prefix(folder)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let own: Vec<String> = image
        .variants
        .values()
        .filter(|v| under(&v.context))
        .map(|v| v.key(&image.key))
        .collect();
    if !own.is_empty() {
        return own;
    }
    std::iter::once(image.key.clone())
        .chain(
            image
                .variants
                .values()
                .filter(|v| v.context == ".")
                .map(|v| v.key(&image.key)),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture() -> (Spec, StackGraph, ChangeRules) {
        let text = "tag: {prefix: '1'}\nimages:\n  base: {image_name: r.io/base}\n  a: {image_name: r.io/a, depend_on: base}\n  b: {image_name: r.io/b, depend_on: base}\n";
        let spec = Spec::parse(text, Path::new("spec.yml")).unwrap().0;
        let graph = StackGraph::new(&spec).unwrap();
        let rules = ChangeRules::parse(
            r#"{"ChangeIgnore": ["*.md"], "BuildAll": ["tests_common", "spec.yml"]}"#,
            Path::new("c.json"),
        )
        .unwrap()
        .0;
        (spec, graph, rules)
    }

    fn run(files: &[&str], full: Option<FullRebuild>) -> Decisions {
        let (spec, graph, rules) = fixture();
        decide(
            &spec,
            &graph,
            &rules,
            &ChangeSet::from_paths(files),
            "images",
            full,
        )
    }

    #[test]
    fn a_file_in_an_image_folder_rebuilds_that_image() {
        let d = run(&["images/a/Dockerfile", "README.md", "src/main.rs"], None);
        assert_eq!(d.reasons.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(d.reasons["a"][0].to_string(), "images/a/Dockerfile changed");
    }

    #[test]
    fn ignored_and_unowned_paths_rebuild_nothing() {
        let d = run(
            &["images/a/README.md", "images/other/x", "images/notes.txt"],
            None,
        );
        assert!(d.reasons.is_empty());
        assert_eq!(
            d.ignored,
            [("images/a/README.md".to_string(), "*.md".to_string())]
        );
        assert_eq!(d.unowned, ["images/notes.txt", "images/other/x"]);
    }

    #[test]
    fn build_all_rebuilds_everything_with_the_rule_as_reason() {
        let d = run(&["images/tests_common/t.py"], None);
        assert_eq!(d.reasons.len(), 3);
        assert_eq!(
            d.reasons["b"][0].to_string(),
            "images/tests_common/t.py changed and matches BuildAll entry `tests_common`"
        );
    }

    #[test]
    fn a_variant_folder_changes_that_variant_only() {
        let text = "tag: {prefix: '1'}\nimages:\n  base: {image_name: r.io/base}\n  a:\n    image_name: r.io/a\n    depend_on: base\n    variants:\n      cuda12: {}\n      cuda13: {}\n      whole: {context: ., dockerfile: whole/Dockerfile}\n";
        let spec = Spec::parse(text, Path::new("spec.yml")).unwrap().0;
        let graph = StackGraph::new(&spec).unwrap();
        let decide_for = |files: &[&str]| {
            let d = decide(
                &spec,
                &graph,
                &ChangeRules::without_file(),
                &ChangeSet::from_paths(files),
                "images",
                None,
            );
            d.reasons.keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(decide_for(&["images/a/cuda12/Dockerfile"]), ["a/cuda12"]);
        assert_eq!(decide_for(&["images/a/Dockerfile"]), ["a", "a/whole"]);
        assert_eq!(decide_for(&["images/a/cuda120/x"]), ["a", "a/whole"]);
        let all = run_full(&spec, &graph);
        assert_eq!(all, ["a", "a/cuda12", "a/cuda13", "a/whole", "base"]);
    }

    fn run_full(spec: &Spec, graph: &StackGraph) -> Vec<String> {
        decide(
            spec,
            graph,
            &ChangeRules::without_file(),
            &ChangeSet::default(),
            "images",
            Some(FullRebuild::Flag),
        )
        .reasons
        .into_keys()
        .collect()
    }

    #[test]
    fn full_rebuild_sources() {
        assert_eq!(full_rebuild(true, None, "x", &[]), Some(FullRebuild::Flag));
        assert_eq!(
            full_rebuild(false, Some("Do a FULL REBUILD"), "x", &[]),
            Some(FullRebuild::CommitMessage)
        );
        assert_eq!(
            full_rebuild(false, None, "main", &["main".into()]),
            Some(FullRebuild::Branch("main".into()))
        );
        assert_eq!(
            full_rebuild(false, Some("fix"), "dev", &["main".into()]),
            None
        );
        let d = run(&[], Some(FullRebuild::Flag));
        assert_eq!(d.reasons.len(), 3);
    }
}
