//! The checks of a spec: every finding about the text alone, with its line and column,
//! turning the format as written ([`super::raw`]) into the validated [`Spec`].

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::{OneOrMany, RawSpec, loose_bool, pos};
use super::{Image, PlanSpec, Spec, Variant};
use crate::diagnostic::{Diagnostic, Position};
use crate::reference;

impl RawSpec {
    pub(super) fn validate(self, file: &Path, out: &mut Vec<Diagnostic>) -> Spec {
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

        // Sorted, as the map's keys are: membership is a binary search.
        let keys: Vec<String> = self.images.keys().cloned().collect();
        let info_names: Vec<String> = self.all_info_cmds.keys().cloned().collect();
        let plan_names: Vec<String> = plans.keys().cloned().collect();
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
                } else if keys.binary_search(parent).is_err() {
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
