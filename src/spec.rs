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
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Position};
use crate::error::{Error, Result};
use crate::reference;

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
        let mut ignored = Vec::new();
        let raw: RawSpec = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_ignored::deserialize(de, |path| ignored.push(path.to_string()))
        })
        .map_err(|err| {
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
        let mut diagnostics = unknown_key_warnings(&ignored, file, text);
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

// ---- the format as written ------------------------------------------------------------

#[derive(Deserialize)]
struct RawSpec {
    #[serde(default)]
    root: Option<OneOrMany>,
    #[serde(default)]
    images: BTreeMap<String, RawImage>,
    #[serde(default)]
    tag: Option<RawTag>,
    #[serde(default)]
    all_info_cmds: BTreeMap<String, InfoCmd>,
    #[serde(default)]
    plans: BTreeMap<String, RawPlan>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Spanned<String>),
    Many(Vec<Spanned<String>>),
}

#[derive(Deserialize)]
struct RawTag {
    prefix: Spanned<String>,
}

#[derive(Deserialize)]
struct RawPlan {
    tag_prefix: Spanned<String>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawImage {
    image_name: Spanned<String>,
    #[serde(default)]
    depend_on: Option<Spanned<String>>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    #[serde(default)]
    info_cmds: Vec<Spanned<String>>,
    #[serde(default)]
    integration_tests: Option<Spanned<LooseBool>>,
    #[serde(default)]
    prune: Option<Spanned<LooseBool>>,
    #[serde(default)]
    prepull: Option<Spanned<LooseBool>>,
    #[serde(default)]
    dockerfile: Option<Spanned<String>>,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    skip_plans: Vec<Spanned<String>>,
    #[serde(default)]
    plan_build_args: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    parent_arg: Option<Spanned<String>>,
    #[serde(default)]
    variants: BTreeMap<String, Option<RawVariant>>,
}

#[derive(Deserialize, Default)]
struct RawVariant {
    #[serde(default)]
    context: Option<Spanned<String>>,
    #[serde(default)]
    dockerfile: Option<Spanned<String>>,
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    #[serde(default)]
    tag_prefix: Option<Spanned<String>>,
}

/// A boolean as the stack's original tooling read it: any YAML scalar. A real boolean is
/// itself; anything else (`integration_tests: TORCH_AUD_VER` is in the real history) was
/// read as false by the Python tooling — except YAML 1.1's `yes`/`on`, which PyYAML reads
/// as true — and is kept that way, with a warning.
#[derive(Debug, Clone, PartialEq)]
enum LooseBool {
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
fn loose_bool(
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

fn pos<T>(s: &Spanned<T>) -> Option<Position> {
    let line = s.referenced.line() as usize;
    (line > 0).then(|| Position {
        line,
        column: s.referenced.column() as usize,
    })
}

impl RawSpec {
    fn validate(self, file: &Path, out: &mut Vec<Diagnostic>) -> Spec {
        let err = |out: &mut Vec<Diagnostic>, at: Option<Position>, msg: String, help: String| {
            out.push(Diagnostic::error(msg).in_file(file).at(at).help(help));
        };
        if self.images.is_empty() {
            err(
                out,
                None,
                "the spec lists no images".into(),
                "add an `images:` map with one entry per folder under images/".into(),
            );
        }

        let tag_prefix = match &self.tag {
            Some(tag) => {
                let prefix = tag.prefix.value.trim().to_string();
                check_tag_part(&prefix, "tag.prefix", pos(&tag.prefix), file, out);
                prefix
            }
            None => {
                err(
                    out,
                    None,
                    "missing `tag.prefix`".into(),
                    "add `tag: {prefix: \"2026.3\"}`: every tag is <prefix>-<branch>".into(),
                );
                String::new()
            }
        };

        let mut plans = BTreeMap::new();
        for (name, raw) in self.plans {
            if !is_plan_name(&name) {
                err(
                    out,
                    pos(&raw.tag_prefix),
                    format!("plan name `{name}` is not a simple name"),
                    "use letters, digits, `_`, `-` and `.` only".into(),
                );
            }
            let prefix = raw.tag_prefix.value.trim().to_string();
            check_tag_part(
                &prefix,
                &format!("plans.{name}.tag_prefix"),
                pos(&raw.tag_prefix),
                file,
                out,
            );
            plans.insert(
                name.clone(),
                PlanSpec {
                    name,
                    tag_prefix: prefix,
                    build_args: raw.build_args,
                },
            );
        }
        let mut seen_prefix: BTreeMap<&str, &str> = BTreeMap::new();
        for plan in plans.values() {
            if let Some(other) = seen_prefix.insert(&plan.tag_prefix, &plan.name) {
                out.push(
                    Diagnostic::error(format!(
                        "plans `{other}` and `{}` share the tag prefix `{}`",
                        plan.name, plan.tag_prefix
                    ))
                    .in_file(file)
                    .help("plans are told apart by their tag prefix: give each its own"),
                );
            }
        }

        let keys: Vec<String> = self.images.keys().cloned().collect();
        let mut images = BTreeMap::new();
        for (key, raw) in self.images {
            let at = pos(&raw.image_name);
            if let Some(problem) = folder_name_problem(&key) {
                err(
                    out,
                    at,
                    format!("image key `{key}` {problem}"),
                    "an image key is the name of its folder directly under images/".into(),
                );
            }
            let image_name = raw.image_name.value.trim().to_string();
            if let Err(problem) = reference::check_repository(&image_name) {
                err(
                    out,
                    at,
                    format!("image `{key}`: invalid image_name `{image_name}`: {problem}"),
                    "image_name is a repository without tag, like `ghcr.io/org/name`".into(),
                );
            }
            let depend_on_position = raw.depend_on.as_ref().and_then(pos);
            let depend_on = raw.depend_on.map(|d| d.value.trim().to_string());
            if let Some(parent) = &depend_on {
                if parent == &key {
                    err(
                        out,
                        depend_on_position,
                        format!("image `{key}` depends on itself"),
                        "remove `depend_on` or name its parent image".into(),
                    );
                } else if !keys.contains(parent) {
                    err(
                        out,
                        depend_on_position,
                        format!(
                            "image `{key}`: depend_on names `{parent}`, which is not an image of this spec"
                        ),
                        did_you_mean(parent, &keys)
                            .map(|k| format!("did you mean `{k}`?"))
                            .unwrap_or_else(|| format!("known images: {}", keys.join(", "))),
                    );
                }
            }
            let info_names: Vec<String> = self.all_info_cmds.keys().cloned().collect();
            let mut info_cmds = Vec::new();
            for cmd in raw.info_cmds {
                if !self.all_info_cmds.contains_key(&cmd.value) {
                    err(
                        out,
                        pos(&cmd),
                        format!(
                            "image `{key}`: info_cmds entry `{}` is not defined in all_info_cmds",
                            cmd.value
                        ),
                        did_you_mean(&cmd.value, &info_names)
                            .map(|k| format!("did you mean `{k}`?"))
                            .unwrap_or_else(|| {
                                format!(
                                    "add `{}: {{description: ..., command: ...}}` under all_info_cmds",
                                    cmd.value
                                )
                            }),
                    );
                }
                info_cmds.push(cmd.value);
            }
            let dockerfile = match raw.dockerfile {
                Some(d) => {
                    let value = d.value.trim().to_string();
                    if let Some(problem) = relative_path_problem(&value) {
                        err(
                            out,
                            pos(&d),
                            format!("image `{key}`: dockerfile `{value}` {problem}"),
                            "give a path inside the image folder, like `Dockerfile.gpu`".into(),
                        );
                    }
                    value
                }
                None => "Dockerfile".to_string(),
            };
            let plan_names: Vec<String> = plans.keys().cloned().collect();
            let mut skip_plans = Vec::new();
            for skip in raw.skip_plans {
                if !plans.contains_key(&skip.value) {
                    err(
                        out,
                        pos(&skip),
                        format!(
                            "image `{key}`: skip_plans names `{}`, which is not a plan",
                            skip.value
                        ),
                        did_you_mean(&skip.value, &plan_names)
                            .map(|k| format!("did you mean `{k}`?"))
                            .unwrap_or_else(|| plan_list_help(&plan_names)),
                    );
                }
                skip_plans.push(skip.value);
            }
            for plan in raw.plan_build_args.keys() {
                if !plans.contains_key(plan) {
                    err(
                        out,
                        at,
                        format!(
                            "image `{key}`: plan_build_args names `{plan}`, which is not a plan"
                        ),
                        did_you_mean(plan, &plan_names)
                            .map(|k| format!("did you mean `{k}`?"))
                            .unwrap_or_else(|| plan_list_help(&plan_names)),
                    );
                }
            }
            if !plans.is_empty() && skip_plans.len() == plans.len() {
                err(
                    out,
                    at,
                    format!("image `{key}` skips every plan, so it is never built"),
                    "remove one plan from its skip_plans, or remove the image".into(),
                );
            }
            let parent_arg = raw.parent_arg.map(|a| {
                let name = a.value.trim().to_string();
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    err(
                        out,
                        pos(&a),
                        format!("image `{key}`: parent_arg `{name}` is not a build arg name"),
                        "name the global `ARG` of its Dockerfile that its parent's ref goes in, like `BASE_IMG`".into(),
                    );
                } else if depend_on.is_none() {
                    out.push(
                        Diagnostic::warning(format!(
                            "image `{key}` has a parent_arg but no depend_on: it is not used"
                        ))
                        .in_file(file)
                        .at(pos(&a))
                        .help("add `depend_on: <parent>`, or remove `parent_arg` (`--strict` makes this an error)"),
                    );
                }
                name
            });
            let mut variants = BTreeMap::new();
            for (name, raw_variant) in raw.variants {
                let raw_variant = raw_variant.unwrap_or_default();
                if !is_plan_name(&name) || name.starts_with('.') {
                    err(
                        out,
                        at,
                        format!("image `{key}`: variant name `{name}` is not a simple name"),
                        "use letters, digits, `_`, `-` and `.` only, like `cuda12`".into(),
                    );
                }
                let context = match raw_variant.context {
                    Some(c) => {
                        let value = c.value.trim().trim_end_matches('/').to_string();
                        let value = if value.is_empty() {
                            ".".to_string()
                        } else {
                            value
                        };
                        if let Some(problem) = relative_path_problem(&value) {
                            err(
                                out,
                                pos(&c),
                                format!("image `{key}`, variant `{name}`: context `{value}` {problem}"),
                                "give a folder inside the image folder, like `cuda12/` (or `.` for the image folder)".into(),
                            );
                        }
                        value
                    }
                    None => name.clone(),
                };
                let dockerfile = match raw_variant.dockerfile {
                    Some(d) => {
                        let value = d.value.trim().to_string();
                        // Relative to the context, and inside the image folder.
                        let in_image = format!("{context}/{value}");
                        if let Some(problem) = relative_path_problem(&value)
                            .filter(|_| value.starts_with('/'))
                            .or_else(|| relative_path_problem(&in_image))
                        {
                            err(
                                out,
                                pos(&d),
                                format!(
                                    "image `{key}`, variant `{name}`: dockerfile `{value}` {problem}"
                                ),
                                "give a path inside the variant's context, like `Dockerfile`"
                                    .into(),
                            );
                        }
                        value
                    }
                    None => "Dockerfile".to_string(),
                };
                let tag_prefix = match raw_variant.tag_prefix {
                    Some(t) => {
                        let value = t.value.trim().to_string();
                        check_tag_part(
                            &value,
                            &format!("images.{key}.variants.{name}.tag_prefix"),
                            pos(&t),
                            file,
                            out,
                        );
                        value
                    }
                    None => name.clone(),
                };
                variants.insert(
                    name.clone(),
                    Variant {
                        name,
                        context,
                        dockerfile,
                        build_args: raw_variant.build_args,
                        tag_prefix,
                    },
                );
            }
            let integration_tests =
                loose_bool(&raw.integration_tests, "integration_tests", &key, file, out);
            let prune = loose_bool(&raw.prune, "prune", &key, file, out);
            let prepull = loose_bool(&raw.prepull, "prepull", &key, file, out);
            images.insert(
                key.clone(),
                Image {
                    key,
                    image_name,
                    depend_on,
                    build_args: raw.build_args,
                    info_cmds,
                    integration_tests,
                    prune,
                    prepull,
                    dockerfile,
                    platforms: raw.platforms,
                    skip_plans,
                    plan_build_args: raw.plan_build_args,
                    parent_arg,
                    variants,
                    position: at,
                    depend_on_position,
                },
            );
        }

        // A child must be built in every plan it is built in with its parent.
        for image in images.values() {
            let Some(parent) = image.depend_on.as_ref().and_then(|p| images.get(p)) else {
                continue;
            };
            for skipped in &parent.skip_plans {
                if !image.skip_plans.contains(skipped) {
                    err(
                        out,
                        image.depend_on_position.or(image.position),
                        format!(
                            "image `{}` is built in plan `{skipped}`, but its parent `{}` skips that plan",
                            image.key, parent.key
                        ),
                        format!("add `{skipped}` to the skip_plans of `{}`", image.key),
                    );
                }
            }
        }

        let roots = match self.root {
            None => images
                .values()
                .filter(|i| i.depend_on.is_none())
                .map(|i| i.key.clone())
                .collect(),
            Some(root) => {
                let listed = match root {
                    OneOrMany::One(one) => vec![one],
                    OneOrMany::Many(many) => many,
                };
                let mut roots = Vec::new();
                for r in listed {
                    match images.get(&r.value) {
                        None => err(
                            out,
                            pos(&r),
                            format!("root `{}` is not an image of this spec", r.value),
                            did_you_mean(&r.value, &keys)
                                .map(|k| format!("did you mean `{k}`?"))
                                .unwrap_or_else(|| format!("known images: {}", keys.join(", "))),
                        ),
                        Some(image) if image.depend_on.is_some() => err(
                            out,
                            pos(&r),
                            format!(
                                "root `{}` has depend_on `{}`; a root has no parent",
                                r.value,
                                image.depend_on.as_deref().unwrap_or_default()
                            ),
                            "remove it from `root`, or remove its depend_on".into(),
                        ),
                        Some(_) => roots.push(r.value),
                    }
                }
                for image in images.values() {
                    if image.depend_on.is_none() && !roots.contains(&image.key) {
                        out.push(
                            Diagnostic::warning(format!(
                                "image `{}` has no depend_on and is not listed in `root`; it is planned as a root",
                                image.key
                            ))
                            .in_file(file)
                            .at(image.position)
                            .help("list it under `root`, or give it a depend_on"),
                        );
                        roots.push(image.key.clone());
                    }
                }
                roots.sort();
                roots.dedup();
                roots
            }
        };

        Spec {
            file: file.to_path_buf(),
            roots,
            images,
            tag_prefix,
            all_info_cmds: self.all_info_cmds,
            plans,
        }
    }
}

fn plan_list_help(plans: &[String]) -> String {
    if plans.is_empty() {
        "the spec defines no plans; add a `plans:` map or remove this entry".into()
    } else {
        format!("known plans: {}", plans.join(", "))
    }
}

fn check_tag_part(
    value: &str,
    what: &str,
    at: Option<Position>,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let problem = if value.is_empty() {
        Some("is empty".to_string())
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        Some("may hold only letters, digits, `_`, `.` and `-`".to_string())
    } else if value.starts_with(['.', '-']) {
        Some("must start with a letter, digit or `_`".to_string())
    } else if value.len() > 100 {
        Some("is longer than 100 characters, leaving no room for the branch".to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::error(format!("{what} `{value}` {problem}"))
                .in_file(file)
                .at(at)
                .help("a tag prefix becomes the start of a Docker tag, like `2026.3`"),
        );
    }
}

fn is_plan_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Why `key` cannot be a folder directly under `images/`, if it cannot.
fn folder_name_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("is empty")
    } else if key == "." || key == ".." {
        Some("is not a folder name")
    } else if key.contains(['/', '\\']) {
        Some("contains a path separator")
    } else {
        None
    }
}

/// Why `path` is not a relative path that stays inside its folder, if it is not.
pub fn relative_path_problem(path: &str) -> Option<&'static str> {
    let p = Path::new(path);
    if path.is_empty() {
        return Some("is empty");
    }
    if p.is_absolute() || path.starts_with('/') {
        return Some("is absolute");
    }
    let mut depth: i32 = 0;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("escapes the image folder");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

/// The closest of `candidates` to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}

// ---- unknown keys ---------------------------------------------------------------------

const TOP_KEYS: &[&str] = &["root", "images", "tag", "all_info_cmds", "plans"];
const IMAGE_KEYS: &[&str] = &[
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
const VARIANT_KEYS: &[&str] = &["context", "dockerfile", "build_args", "tag_prefix"];
const TAG_KEYS: &[&str] = &["prefix"];
const PLAN_KEYS: &[&str] = &["tag_prefix", "build_args"];

/// Turns the paths serde skipped into warnings naming the closest known key.
fn unknown_key_warnings(ignored: &[String], file: &Path, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for path in ignored {
        if path.contains("__serde_saphyr_private") {
            continue; // serde-saphyr's span wrapper, not a user key
        }
        // serde_ignored writes `?` for the inside of an Option (`variants.cuda12.?.key`).
        let parts: Vec<&str> = path.split('.').filter(|p| *p != "?").collect();
        let path = parts.join(".");
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
    out
}

/// Finds the line of a nested block-style key by walking its path through the text.
/// Best effort: flow-style maps (`{a: 1}`) are not followed.
fn find_key(text: &str, path: &[&str]) -> Option<Position> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Spec, Vec<Diagnostic>)> {
        Spec::parse(text, Path::new("images/spec.yml"))
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Err(Error::Invalid { diagnostics, .. }) => {
                diagnostics.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected errors, got {other:?}"),
        }
    }

    const BASIC: &str = r#"
root: datascience-notebook
images:
  datascience-notebook:
    image_name: ghcr.io/ucsd-ets/datascience-notebook
    build_args: {PYTHON_VERSION: python-3.11.8, PY_VER_SHORT: "3.11"}
    info_cmds: [PY_VER, PIP_LIST]
  scipy-ml-notebook:
    image_name: ghcr.io/ucsd-ets/scipy-ml-notebook
    depend_on: datascience-notebook
    integration_tests: false
    prune: false
    prepull: true
tag:
  prefix: "2026.3"
all_info_cmds:
  PY_VER: {description: Python Version, command: python --version}
  PIP_LIST: {description: pip Packages, command: pip list}
"#;

    #[test]
    fn non_boolean_flags_are_read_as_the_old_tooling_did() {
        let text = BASIC
            .replace(
                "integration_tests: false",
                "integration_tests: TORCH_AUD_VER",
            )
            .replace("prepull: true", "prepull: yes")
            .replace("prune: false", "prune: 1");
        let (spec, warnings) = parse(&text).unwrap();
        let child = spec
            .images
            .values()
            .find(|i| i.depend_on.is_some())
            .unwrap();
        assert!(!child.integration_tests && !child.prune && child.prepull);
        // `yes` is YAML 1.1's true, which serde-saphyr reads as PyYAML did: no warning.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let w = warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(w.contains("`integration_tests` of image"), "{w}");
        assert!(
            w.contains("is `TORCH_AUD_VER`, not a boolean: read as false"),
            "{w}"
        );
        assert!(
            w.contains("`prune` of image `scipy-ml-notebook` is `1`"),
            "{w}"
        );
        assert!(w.contains(":11:"), "{w}");
    }

    #[test]
    fn parses_the_format_stacks_use_today() {
        let (spec, warnings) = parse(BASIC).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(spec.roots, ["datascience-notebook"]);
        assert_eq!(spec.tag_prefix, "2026.3");
        let child = &spec.images["scipy-ml-notebook"];
        assert_eq!(child.depend_on.as_deref(), Some("datascience-notebook"));
        assert!(child.prepull && !child.prune && !child.integration_tests);
        assert_eq!(child.dockerfile, "Dockerfile");
        let root = &spec.images["datascience-notebook"];
        assert_eq!(root.build_args["PY_VER_SHORT"], "3.11");
        assert_eq!(root.info_cmds, ["PY_VER", "PIP_LIST"]);
    }

    #[test]
    fn unquoted_numbers_keep_their_spelling() {
        let text = BASIC
            .replace("\"2026.3\"", "2026.10")
            .replace("\"3.11\"", "3.10");
        let (spec, _) = parse(&text).unwrap();
        assert_eq!(spec.tag_prefix, "2026.10");
        assert_eq!(
            spec.images["datascience-notebook"].build_args["PY_VER_SHORT"],
            "3.10"
        );
    }

    #[test]
    fn root_defaults_to_images_without_parent_and_accepts_a_list() {
        let text = BASIC.replace("root: datascience-notebook\n", "");
        assert_eq!(parse(&text).unwrap().0.roots, ["datascience-notebook"]);
        let text = BASIC.replace("root: datascience-notebook", "root: [datascience-notebook]");
        assert_eq!(parse(&text).unwrap().0.roots, ["datascience-notebook"]);
    }

    #[test]
    fn unknown_keys_warn_with_the_closest_known_key_and_line() {
        let text = BASIC.replace("    prepull: true", "    prepul: true");
        let (_, warnings) = parse(&text).unwrap();
        assert_eq!(warnings.len(), 1);
        let w = warnings[0].to_string();
        assert!(w.contains("images.scipy-ml-notebook.prepul"), "{w}");
        assert!(w.contains("did you mean `prepull`"), "{w}");
        assert!(w.contains("spec.yml:13:5"), "{w}");
    }

    #[test]
    fn yaml_syntax_errors_have_line_and_column() {
        let errs = errors("tag: {prefix: '1'}\nimages:\n  a: {image_name: x\n  b: c\n");
        assert!(errs[0].contains("images/spec.yml:4:"), "{errs:?}");
        let errs = errors("images:\n  a: [1, 2]\n");
        assert!(
            errs[0].contains("images/spec.yml:2:6: invalid YAML"),
            "{errs:?}"
        );
    }

    #[test]
    fn depend_on_must_name_an_image() {
        let text = BASIC.replace(
            "depend_on: datascience-notebook",
            "depend_on: datascience-notebok",
        );
        let errs = errors(&text);
        assert!(
            errs[0].contains("depend_on names `datascience-notebok`"),
            "{errs:?}"
        );
        assert!(
            errs[0].contains("did you mean `datascience-notebook`"),
            "{errs:?}"
        );
        assert!(errs[0].contains("spec.yml:10:16"), "{errs:?}");
    }

    #[test]
    fn info_cmds_must_be_defined() {
        let text = BASIC.replace("[PY_VER, PIP_LIST]", "[PY_VER, PIP_LSIT]");
        let errs = errors(&text);
        assert!(
            errs[0].contains("`PIP_LSIT` is not defined in all_info_cmds"),
            "{errs:?}"
        );
        assert!(errs[0].contains("did you mean `PIP_LIST`"), "{errs:?}");
    }

    #[test]
    fn image_name_must_be_a_repository() {
        for bad in ["ghcr.io/UCSD/x", "ghcr.io/ucsd-ets/x:tag", "''", "a//b"] {
            let text = BASIC.replace("ghcr.io/ucsd-ets/scipy-ml-notebook", bad);
            let errs = errors(&text);
            assert!(errs[0].contains("invalid image_name"), "{bad}: {errs:?}");
        }
    }

    #[test]
    fn dockerfile_must_stay_in_the_image_folder() {
        let text = BASIC.replace(
            "    prepull: true",
            "    prepull: true\n    dockerfile: ../x/Dockerfile",
        );
        assert!(errors(&text)[0].contains("escapes the image folder"));
        let text = BASIC.replace(
            "    prepull: true",
            "    prepull: true\n    dockerfile: /etc/passwd",
        );
        assert!(errors(&text)[0].contains("is absolute"));
    }

    const PLANS: &str = r#"
plans:
  py311: {tag_prefix: "2026.3", build_args: {PYTHON_VERSION: python-3.11.8}}
  py39:  {tag_prefix: "2026.3-py39", build_args: {PYTHON_VERSION: python-3.9.5}}
"#;

    #[test]
    fn plans_and_skip_plans() {
        let text = format!("{BASIC}{PLANS}").replace(
            "    prepull: true",
            "    prepull: true\n    skip_plans: [py39]\n    plan_build_args: {py311: {TORCH: '2'}}",
        );
        let (spec, _) = parse(&text).unwrap();
        assert_eq!(spec.plans["py39"].tag_prefix, "2026.3-py39");
        let child = &spec.images["scipy-ml-notebook"];
        let plans: Vec<_> = spec
            .plans_of(child)
            .into_iter()
            .map(|p| p.unwrap().name.clone())
            .collect();
        assert_eq!(plans, ["py311"]);
    }

    #[test]
    fn skip_plans_must_name_a_plan() {
        let text = format!("{BASIC}{PLANS}").replace(
            "    prepull: true",
            "    prepull: true\n    skip_plans: [py38]",
        );
        let errs = errors(&text);
        assert!(
            errs[0].contains("skip_plans names `py38`, which is not a plan"),
            "{errs:?}"
        );
        assert!(errs[0].contains("did you mean `py39`"), "{errs:?}");
    }

    #[test]
    fn a_child_cannot_be_built_in_a_plan_its_parent_skips() {
        let text = format!("{BASIC}{PLANS}").replace(
            "    info_cmds: [PY_VER, PIP_LIST]",
            "    info_cmds: [PY_VER, PIP_LIST]\n    skip_plans: [py39]",
        );
        let errs = errors(&text);
        assert!(
            errs[0].contains("its parent `datascience-notebook` skips that plan"),
            "{errs:?}"
        );
    }

    #[test]
    fn every_error_is_reported_not_only_the_first() {
        let text = BASIC
            .replace("depend_on: datascience-notebook", "depend_on: nope")
            .replace("[PY_VER, PIP_LIST]", "[NOPE]");
        assert_eq!(errors(&text).len(), 2);
    }

    #[test]
    fn missing_tag_prefix_is_an_error() {
        let text = BASIC.replace("tag:\n  prefix: \"2026.3\"\n", "");
        assert!(errors(&text)[0].contains("missing `tag.prefix`"));
    }

    #[test]
    fn path_problems() {
        assert_eq!(
            relative_path_problem("a/../../b"),
            Some("escapes the image folder")
        );
        assert_eq!(relative_path_problem("a/../b"), None);
        assert_eq!(relative_path_problem("docker/Dockerfile.gpu"), None);
    }
}
