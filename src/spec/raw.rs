//! The spec as written: the serde shapes of `spec.yml` (every key the format has, with its
//! position kept where a finding must point at it), and the keys that are not in it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::InfoCmd;
use crate::diagnostic::{Diagnostic, Position};
use crate::spec::did_you_mean;

#[derive(Deserialize)]
pub(super) struct RawSpec {
    #[serde(default)]
    pub(super) root: Option<OneOrMany>,
    #[serde(default)]
    pub(super) images: BTreeMap<String, RawImage>,
    #[serde(default)]
    pub(super) tag: Option<RawTag>,
    #[serde(default)]
    pub(super) all_info_cmds: BTreeMap<String, InfoCmd>,
    #[serde(default)]
    pub(super) plans: BTreeMap<String, RawPlan>,
    #[serde(flatten)]
    pub(super) unknown: Unknown,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(Spanned<String>),
    Many(Vec<Spanned<String>>),
}

#[derive(Deserialize)]
pub(super) struct RawTag {
    pub(super) prefix: Spanned<String>,
    #[serde(flatten)]
    pub(super) unknown: Unknown,
}

#[derive(Deserialize)]
pub(super) struct RawPlan {
    pub(super) tag_prefix: Spanned<String>,
    #[serde(default)]
    pub(super) build_args: BTreeMap<String, String>,
    #[serde(flatten)]
    pub(super) unknown: Unknown,
}

#[derive(Deserialize)]
pub(super) struct RawImage {
    pub(super) image_name: Spanned<String>,
    #[serde(default)]
    pub(super) depend_on: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) info_cmds: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) integration_tests: Option<Spanned<LooseBool>>,
    #[serde(default)]
    pub(super) prune: Option<Spanned<LooseBool>>,
    #[serde(default)]
    pub(super) prepull: Option<Spanned<LooseBool>>,
    #[serde(default)]
    pub(super) dockerfile: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) platforms: Vec<String>,
    #[serde(default)]
    pub(super) skip_plans: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) plan_build_args: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) parent_arg: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) variants: BTreeMap<String, Option<RawVariant>>,
    #[serde(flatten)]
    pub(super) unknown: Unknown,
}

#[derive(Deserialize, Default)]
pub(super) struct RawVariant {
    #[serde(default)]
    pub(super) context: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) dockerfile: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) tag_prefix: Option<Spanned<String>>,
    #[serde(flatten)]
    pub(super) unknown: Unknown,
}

/// The keys of a map that the format does not have (serde's `flatten` hands them over; their
/// values are skipped), to warn about. Collected by the shapes themselves rather than by
/// wrapping the whole deserializer (`serde_ignored`), which cost 5 of the 28 ms a
/// 5,000-image spec took to parse.
pub(super) type Unknown = BTreeMap<String, serde::de::IgnoredAny>;

impl RawSpec {
    /// Every unknown key, as a dotted path (`images.base.prepul`).
    pub(super) fn unknown_keys(&self) -> Vec<String> {
        let within = |prefix: String, unknown: &Unknown| -> Vec<String> {
            unknown.keys().map(|k| format!("{prefix}{k}")).collect()
        };
        let mut out = within(String::new(), &self.unknown);
        if let Some(tag) = &self.tag {
            out.extend(within("tag.".into(), &tag.unknown));
        }
        for (name, plan) in &self.plans {
            out.extend(within(format!("plans.{name}."), &plan.unknown));
        }
        for (key, image) in &self.images {
            out.extend(within(format!("images.{key}."), &image.unknown));
            for (name, variant) in &image.variants {
                if let Some(variant) = variant {
                    out.extend(within(
                        format!("images.{key}.variants.{name}."),
                        &variant.unknown,
                    ));
                }
            }
        }
        out
    }
}

/// A boolean as the stack's original tooling read it: any YAML scalar. A real boolean is
/// itself; anything else (`integration_tests: TORCH_AUD_VER` is in the real history) was
/// read as false by the Python tooling — except YAML 1.1's `yes`/`on`, which PyYAML reads
/// as true — and is kept that way, with a warning.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LooseBool {
    Bool(bool),
    Other(String),
}

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = LooseBool;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E>(self, v: bool) -> Result<LooseBool, E> {
                Ok(LooseBool::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<LooseBool, E> {
                Ok(LooseBool::Other(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<LooseBool, E> {
                Ok(LooseBool::Other(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LooseBool, E> {
                Ok(LooseBool::Other(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LooseBool, E> {
                Ok(LooseBool::Other(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<LooseBool, E> {
                Ok(LooseBool::Other("null".into()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The value of a loose boolean key, with a warning when it is not a boolean.
pub(super) fn loose_bool(
    value: &Option<Spanned<LooseBool>>,
    name: &str,
    image: &str,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let Some(spanned) = value else {
        return false;
    };
    match &spanned.value {
        LooseBool::Bool(b) => *b,
        LooseBool::Other(text) => {
            let read = matches!(text.as_str(), "yes" | "Yes" | "YES" | "on" | "On" | "ON");
            out.push(
                Diagnostic::warning(format!(
                    "`{name}` of image `{image}` is `{text}`, not a boolean: read as {read}, as the original tooling did"
                ))
                .in_file(file)
                .at(pos(spanned))
                .help(format!(
                    "write `{name}: {read}` (or true/false as meant); `--strict` makes this an error"
                )),
            );
            read
        }
    }
}

pub(super) fn pos<T>(s: &Spanned<T>) -> Option<Position> {
    let line = s.referenced.line() as usize;
    (line > 0).then(|| Position {
        line,
        column: s.referenced.column() as usize,
    })
}

pub(super) const TOP_KEYS: &[&str] = &["root", "images", "tag", "all_info_cmds", "plans"];
pub(super) const IMAGE_KEYS: &[&str] = &[
    "image_name",
    "depend_on",
    "build_args",
    "info_cmds",
    "integration_tests",
    "prune",
    "prepull",
    "dockerfile",
    "platforms",
    "skip_plans",
    "plan_build_args",
    "parent_arg",
    "variants",
];
pub(super) const VARIANT_KEYS: &[&str] = &["context", "dockerfile", "build_args", "tag_prefix"];
pub(super) const TAG_KEYS: &[&str] = &["prefix"];
pub(super) const PLAN_KEYS: &[&str] = &["tag_prefix", "build_args"];

/// Turns the unknown keys into warnings naming the closest known key, in the order of the
/// text.
pub(super) fn unknown_key_warnings(unknown: &[String], file: &Path, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for path in unknown {
        let parts: Vec<&str> = path.split('.').collect();
        let (known, key): (&[&str], &str) = match parts.as_slice() {
            [key] => (TOP_KEYS, key),
            ["images", _, key] => (IMAGE_KEYS, key),
            ["tag", key] => (TAG_KEYS, key),
            ["plans", _, key] => (PLAN_KEYS, key),
            ["images", _, "variants", _, key] => (VARIANT_KEYS, key),
            _ => (&[], parts.last().copied().unwrap_or_default()),
        };
        let candidates: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        let help = match did_you_mean(key, &candidates) {
            Some(k) => format!("did you mean `{k}`? (`--strict` makes this an error)"),
            None if known.is_empty() => "remove it (`--strict` makes this an error)".to_string(),
            None => format!(
                "known keys here: {} (`--strict` makes this an error)",
                known.join(", ")
            ),
        };
        out.push(
            Diagnostic::warning(format!("unknown key `{path}` is ignored"))
                .in_file(file)
                .at(find_key(text, &parts))
                .help(help),
        );
    }
    // The text's order (the shapes hand their keys over by map, not by line); a key whose
    // line is not found goes last.
    out.sort_by_key(|d| d.position.map_or((usize::MAX, 0), |p| (p.line, p.column)));
    out
}

/// Finds the line of a nested block-style key by walking its path through the text.
/// Best effort: flow-style maps (`{a: 1}`) are not followed.
pub(super) fn find_key(text: &str, path: &[&str]) -> Option<Position> {
    let mut min_indent = 0usize;
    let mut found = None;
    let mut lines = text.lines().enumerate();
    for part in path {
        found = None;
        for (n, line) in lines.by_ref() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if found.is_none() && indent < min_indent {
                return None;
            }
            let bare = trimmed.trim_start_matches(['"', '\'']);
            if indent >= min_indent
                && bare.starts_with(part)
                && bare[part.len()..]
                    .trim_start_matches(['"', '\''])
                    .starts_with(':')
            {
                found = Some(Position {
                    line: n + 1,
                    column: indent + 1,
                });
                min_indent = indent + 1;
                break;
            }
        }
        found?;
    }
    found
}
