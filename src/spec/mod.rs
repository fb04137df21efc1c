//! `images/spec.yml`: parsing and validation of the stack description.
//!
//! This module owns the format users already have (`root`, `images`, `tag.prefix`,
//! `all_info_cmds`) and its extensions (`plans`, `dockerfile`, `platforms`, `skip_plans`,
//! `plan_build_args`). It checks everything that can be checked from the text alone and
//! reports every finding with its line and column. It does not look at the file system
//! (that is [`crate::stack`]) nor at the graph's shape beyond `depend_on` targets
//! (cycles are [`crate::graph`]'s).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Position};
use crate::error::{Error, Result};

/// A validated spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The file it was read from, for messages.
    pub file: PathBuf,
    /// Images the walk starts from: `root`, or every image without `depend_on`.
    pub roots: Vec<String>,
    pub images: BTreeMap<String, Image>,
    /// `tag.prefix`, e.g. `2026.3`.
    pub tag_prefix: String,
    pub all_info_cmds: BTreeMap<String, InfoCmd>,
    /// Tracks of the stack told apart by their tag prefix; empty when the spec has none.
    pub plans: BTreeMap<String, PlanSpec>,
}

/// One entry of `images:`; its key is the folder name under `images/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub key: String,
    /// Repository of the image, without tag: `ghcr.io/ucsd-ets/datascience-notebook`.
    pub image_name: String,
    pub depend_on: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub info_cmds: Vec<String>,
    pub integration_tests: bool,
    pub prune: bool,
    pub prepull: bool,
    /// Path of the Dockerfile inside the image folder.
    pub dockerfile: String,
    pub platforms: Vec<String>,
    pub skip_plans: Vec<String>,
    pub plan_build_args: BTreeMap<String, BTreeMap<String, String>>,
    /// The build arg that makes the child's `FROM` name its parent, when the Dockerfile
    /// alone cannot tell ([`crate::parent_from`]).
    pub parent_arg: Option<String>,
    /// Named variants of the image, each its own target on the image's parent.
    pub variants: BTreeMap<String, Variant>,
    /// Where the image's `image_name` stands in the spec, for messages about the image.
    pub position: Option<Position>,
    /// Where `depend_on` stands.
    pub depend_on_position: Option<Position>,
}

/// One entry of an image's `variants:`: another Dockerfile and context of the same image,
/// built on the same parent and told apart by a tag prefix (`cuda12-2026.3-main`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    /// The build context inside the image folder (`cuda12`, or `.` for the whole folder).
    pub context: String,
    /// The Dockerfile, relative to `context`.
    pub dockerfile: String,
    /// Build args above the image's own.
    pub build_args: BTreeMap<String, String>,
    /// Put before the tag prefix: `<variant prefix>-<prefix>-<branch>`.
    pub tag_prefix: String,
}

impl Variant {
    /// The key of the variant's Dockerfile, context and change reasons in
    /// [`crate::stack::Stack`] maps: `<image>/<variant>`.
    pub fn key(&self, image: &str) -> String {
        format!("{image}/{}", self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InfoCmd {
    pub description: String,
    pub command: String,
}

/// One entry of `plans:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanSpec {
    pub name: String,
    pub tag_prefix: String,
    pub build_args: BTreeMap<String, String>,
}

impl Spec {
    /// Parses and validates a spec. Warnings come back beside the spec; errors (all of
    /// them, not only the first) come back as [`Error::Invalid`].
    pub fn parse(text: &str, file: &Path) -> Result<(Spec, Vec<Diagnostic>)> {
        let raw: RawSpec = serde_saphyr::from_str(text).map_err(|err| {
            let position = err.location().map(|l| Position {
                line: l.line() as usize,
                column: l.column() as usize,
            });
            Error::Invalid {
                diagnostics: vec![
                    Diagnostic::error(format!("invalid YAML: {}", first_line(&err.to_string())))
                        .in_file(file)
                        .at(position)
                        .help("fix the YAML at that place; `stackplan check` validates the spec"),
                ],
                sources: vec![(file.to_path_buf(), text.to_string())],
            }
        })?;
        let mut diagnostics = unknown_key_warnings(&raw.unknown_keys(), file, text);
        let spec = raw.validate(file, &mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Error::Invalid {
                diagnostics,
                sources: vec![(file.to_path_buf(), text.to_string())],
            });
        }
        Ok((spec, diagnostics))
    }

    /// The plans an image is built in: every plan but its `skip_plans`, or `[None]` when the
    /// spec has no plans.
    pub fn plans_of(&self, image: &Image) -> Vec<Option<&PlanSpec>> {
        if self.plans.is_empty() {
            return vec![None];
        }
        self.plans
            .values()
            .filter(|plan| !image.skip_plans.contains(&plan.name))
            .map(Some)
            .collect()
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or(s);
    // serde-saphyr prefixes "error: line L column C: "; the position is shown separately.
    match line.find(": ") {
        Some(i) if line.starts_with("error: line ") => {
            let rest = &line[i + 2..];
            rest.find(": ").map(|j| &rest[j + 2..]).unwrap_or(rest)
        }
        _ => line,
    }
}

mod raw;
mod validate;

use raw::{RawSpec, unknown_key_warnings};

pub use validate::did_you_mean;

#[cfg(test)]
mod tests;
