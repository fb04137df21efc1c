//! The docker-bake JSON file (`docker buildx bake -f bake.json`).
//!
//! Struct and field names follow buildx's bake format (`bake/bake.go`): a file is `group`
//! and `target` maps, and a target's keys are kebab-case (`cache-from`, `cache-to`, ...).
//! buildx reads bake JSON with HCL's JSON syntax, so `${` and `%{` in any string would be
//! interpolated: every string is escaped (`$${`, `%%{`) on the way out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{CacheTo, ParentSource, Plan, Target, group_name};

/// How the targets export their result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    /// No `output`: buildx's default (loaded into the engine with the docker driver).
    #[default]
    Default,
    /// `--push`: `type=registry`, tags pushed as each target finishes.
    Push,
    /// `--push-by-digest`: pushed by digest only, no tag moves until `stackplan publish`.
    PushByDigest,
}

#[derive(Clone, Debug, Default)]
pub struct BakeOptions {
    pub output: Output,
    /// With `--manifests`: the folder the `<target>-manifest` targets write to
    /// (`<dir>/<image>/<tag>/`).
    pub manifests: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BakeFile {
    pub group: BTreeMap<String, Group>,
    pub target: BTreeMap<String, BakeTarget>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Group {
    pub targets: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct BakeTarget {
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

/// Builds the bake file: one target per plan target; groups `default` (what builds: action
/// `build`), `all` (every target) and one per plan (what builds in that plan). Targets
/// reused from an image with the same inputs are not built: `stackplan reuse` writes their
/// tags registry-side.
pub fn bake_file(plan: &Plan, options: &BakeOptions) -> BakeFile {
    let mut target = BTreeMap::new();
    for t in &plan.targets {
        target.insert(t.name.clone(), bake_target(t, plan.cache_to, options));
    }
    let mut default: Vec<String> = plan.to_build().map(|t| t.name.clone()).collect();
    if let Some(dir) = &options.manifests {
        for t in plan.to_build().filter(|t| !t.info_cmds.is_empty()) {
            let name = manifest_target_name(&t.name);
            target.insert(name.clone(), manifest_target(t, dir));
            default.push(name);
        }
    }
    let mut group = BTreeMap::new();
    group.insert("default".to_string(), Group { targets: default });
    group.insert(
        "all".to_string(),
        Group {
            targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
        },
    );
    for p in &plan.plans {
        group.insert(
            group_name(p),
            Group {
                targets: plan
                    .to_build()
                    .filter(|t| t.plan.as_deref() == Some(p.as_str()))
                    .map(|t| t.name.clone())
                    .collect(),
            },
        );
    }
    BakeFile { group, target }
}

/// The bake file as pretty JSON with a final newline: the same plan gives the same bytes.
pub fn render(plan: &Plan, options: &BakeOptions) -> String {
    let mut s = serde_json::to_string_pretty(&bake_file(plan, options))
        .expect("a bake file is plain strings and maps");
    s.push('\n');
    s
}

/// The named contexts of a target, as bake and BuildKit take them: the parent's result
/// (`target:NAME`) or ref (`docker-image://REF`), and every external image pinned to the
/// digest its inputs were computed with (`docker-image://REF@DIGEST`).
pub fn contexts(t: &Target) -> BTreeMap<String, String> {
    let mut contexts: BTreeMap<String, String> = t
        .pinned_bases
        .iter()
        .map(|(from, pinned)| (from.clone(), format!("docker-image://{pinned}")))
        .collect();
    if let Some(input) = &t.parent_input {
        let value = match &input.source {
            ParentSource::Target { name, .. } => format!("target:{name}"),
            ParentSource::Image(reference) => format!("docker-image://{reference}"),
        };
        contexts.insert(input.from.clone(), value);
    }
    contexts
}

fn bake_target(t: &Target, cache_to: CacheTo, options: &BakeOptions) -> BakeTarget {
    let contexts = contexts(t);
    let cache_to = match cache_to {
        CacheTo::Inline => vec!["type=inline".to_string()],
        // The cache image, and inline cache in the pushed image: the stable tags a later
        // branch's first build imports from are images, not cache images (see
        // `plan::cache`), and carry cache only when it is inline.
        CacheTo::Registry => t
            .cache_to_ref
            .iter()
            .map(|r| format!("type=registry,ref={r},mode=max"))
            .chain(["type=inline".to_string()])
            .collect(),
        CacheTo::None => Vec::new(),
    };
    let output = match options.output {
        Output::Default => Vec::new(),
        Output::Push => vec!["type=registry".to_string()],
        Output::PushByDigest => vec![format!(
            "type=image,name={},push-by-digest=true,name-canonical=true,push=true",
            t.image_name
        )],
    };
    let tags = match options.output {
        // A digest push writes no tag; `stackplan publish` moves the tags afterwards.
        Output::PushByDigest => Vec::new(),
        _ => t.tags.clone(),
    };
    BakeTarget {
        context: esc(&t.context),
        dockerfile: Some(esc(&t.dockerfile)),
        dockerfile_inline: None,
        contexts: esc_map(&contexts),
        args: esc_map(&t.build_args),
        labels: esc_map(&t.labels),
        tags: esc_all(&tags),
        cache_from: t
            .cache_from
            .iter()
            .map(|r| esc(&format!("type=registry,ref={r}")))
            .collect(),
        cache_to: esc_all(&cache_to),
        platforms: esc_all(&t.platforms),
        output: esc_all(&output),
    }
}

/// The name of a target's manifest target.
pub fn manifest_target_name(target: &str) -> String {
    format!("{target}-manifest")
}

/// The named context a manifest target's Dockerfile builds `FROM`.
const MANIFEST_BASE: &str = "stackplan-image";
/// Where the commands' outputs are collected inside the image.
const MANIFEST_TMP: &str = "/tmp/stackplan-manifest";

/// A target that runs the image's `info_cmds` on top of it and exports their outputs and
/// exit statuses (`<NAME>.out`, `<NAME>.status`) to `<dir>/<image>/<tag>/`. A failing
/// command is recorded, not fatal, so one broken command still leaves the others' output.
fn manifest_target(t: &Target, dir: &str) -> BakeTarget {
    let mut script = format!("mkdir -p {MANIFEST_TMP} && cd {MANIFEST_TMP}");
    for (name, cmd) in &t.info_cmds {
        script.push_str(&format!(
            " && {{ ( {} ) > '{name}.out' 2>&1; echo $? > '{name}.status'; }}",
            cmd.command
        ));
    }
    let run =
        serde_json::to_string(&["/bin/sh", "-c", script.as_str()]).expect("strings serialize");
    let dockerfile = format!(
        "FROM {MANIFEST_BASE} AS image\nRUN {run}\nFROM scratch\nCOPY --from=image {MANIFEST_TMP}/ /\n"
    );
    let mut contexts = BTreeMap::new();
    contexts.insert(MANIFEST_BASE.to_string(), format!("target:{}", t.name));
    BakeTarget {
        context: esc(&t.context),
        dockerfile: None,
        dockerfile_inline: Some(esc(&dockerfile)),
        contexts,
        args: BTreeMap::new(),
        labels: BTreeMap::new(),
        tags: Vec::new(),
        cache_from: Vec::new(),
        cache_to: Vec::new(),
        platforms: Vec::new(),
        output: vec![esc(&format!(
            "type=local,dest={}",
            crate::stack::join(&crate::stack::join(dir, &t.image), &t.tag)
        ))],
    }
}

/// Escapes HCL template sequences so buildx keeps the string as written.
pub fn esc(s: &str) -> String {
    s.replace("${", "$${").replace("%{", "%%{")
}

fn esc_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| esc(s)).collect()
}

fn esc_map(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter().map(|(k, v)| (esc(k), esc(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_sequences_are_escaped() {
        assert_eq!(esc("a${B}c%{d}"), "a$${B}c%%{d}");
        assert_eq!(esc("$HOME"), "$HOME");
    }
}
