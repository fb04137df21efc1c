//! The docker-bake JSON file (`docker buildx bake -f bake.json`).
//!
//! Struct and field names follow buildx's bake format (`bake/bake.go`): a file is `group`
//! and `target` maps, and a target's keys are kebab-case (`cache-from`, `cache-to`, ...).
//! buildx reads bake JSON with HCL's JSON syntax, so `${` and `%{` in any string would be
//! interpolated: every string is escaped (`$${`, `%%{`) on the way out.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::pretty_json::{self, Collection};
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

#[derive(Serialize)]
struct Group<'a> {
    targets: Vec<&'a str>,
}

/// One target of the file, in buildx's keys.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct BakeTarget<'a> {
    context: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dockerfile: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dockerfile_inline: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    contexts: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Escaped::is_empty")]
    args: Escaped<'a, String>,
    #[serde(skip_serializing_if = "Escaped::is_empty")]
    labels: Escaped<'a, &'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cache_from: Vec<CacheSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cache_to: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    platforms: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    output: Vec<String>,
}

/// A plan's small map (build args, labels), its strings escaped as they are written, in the
/// plan's order (by name).
struct Escaped<'a, K>(Option<&'a litemap::LiteMap<K, String>>);

impl<K> Escaped<'_, K> {
    fn is_empty(&self) -> bool {
        self.0.is_none_or(|m| m.is_empty())
    }
}

impl<K: AsRef<str>> Serialize for Escaped<'_, K> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .into_iter()
                .flat_map(|m| m.iter())
                .map(|(k, v)| (esc(k.as_ref()), esc(v))),
        )
    }
}

/// A `cache-from` entry, `type=registry,ref=REF`, written without being made first.
struct CacheSource(String);

impl Serialize for CacheSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("type=registry,ref={}", esc(&self.0)))
    }
}

/// What a target of the file is made from.
enum Entry<'a> {
    Image(&'a Target),
    /// The `<target>-manifest` target of an image (`--manifests`).
    Manifest(&'a Target),
}

/// The file's `group` map, written before its targets.
#[derive(Serialize)]
struct Head<'a> {
    group: BTreeMap<String, Group<'a>>,
}

/// Writes the bake file for `plan` to `out` (pretty-printed, newline-terminated). Its
/// targets are made from the plan as they are written, borrowing the plan's strings, over
/// the cores ([`pretty_json`]): a stack of thousands of images never holds a second copy
/// of its plan nor the whole text in memory.
pub fn write(
    plan: &Plan,
    options: &BakeOptions,
    out: &mut (impl std::io::Write + ?Sized),
) -> std::io::Result<()> {
    let mut entries: Vec<(Cow<'_, str>, Entry<'_>)> = plan
        .targets
        .iter()
        .map(|t| (Cow::Borrowed(t.name.as_str()), Entry::Image(t)))
        .collect();
    if options.manifests.is_some() {
        entries.extend(
            plan.to_build()
                .filter(|t| !t.info_cmds.is_empty())
                .map(|t| {
                    (
                        Cow::Owned(manifest_target_name(&t.name)),
                        Entry::Manifest(t),
                    )
                }),
        );
    }

    // `default` builds what must be built (and its manifests); `all` names every target;
    // one group per plan.
    let manifests: Vec<String> = entries
        .iter()
        .filter_map(|(name, e)| match e {
            Entry::Manifest(_) => Some(name.to_string()),
            Entry::Image(_) => None,
        })
        .collect();
    let mut default: Vec<&str> = plan.to_build().map(|t| t.name.as_str()).collect();
    default.extend(manifests.iter().map(String::as_str));
    let mut group: BTreeMap<String, Group<'_>> = BTreeMap::new();
    group.insert("default".into(), Group { targets: default });
    group.insert(
        "all".into(),
        Group {
            targets: plan.targets.iter().map(|t| t.name.as_str()).collect(),
        },
    );
    for p in &plan.plans {
        let targets = plan
            .to_build()
            .filter(|t| t.plan.as_deref() == Some(p.as_str()))
            .map(|t| t.name.as_str())
            .collect();
        group.insert(group_name(p), Group { targets });
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    pretty_json::write_with_collection(
        out,
        &Head { group },
        "target",
        Collection::Object,
        &entries,
        |(name, entry), out| {
            let target = match entry {
                Entry::Image(t) => bake_target(t, plan.cache_to, options),
                Entry::Manifest(t) => {
                    manifest_target(t, options.manifests.as_deref().unwrap_or_default())
                }
            };
            out.entry(name, &target)
        },
    )?;
    out.write_all(b"\n")
}

/// The bake file for `plan` as text.
pub fn render(plan: &Plan, options: &BakeOptions) -> String {
    let mut out = Vec::with_capacity(plan.targets.len() * 1024);
    write(plan, options, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A target's named contexts: the pinned external images (`docker-image://REF@DIGEST`) and
/// its parent (`target:` when built in the same run, else its image).
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

fn bake_target<'a>(t: &'a Target, cache_to: CacheTo, options: &BakeOptions) -> BakeTarget<'a> {
    let contexts = contexts(t)
        .into_iter()
        .map(|(k, v)| {
            (
                Cow::Owned(esc(&k).into_owned()),
                Cow::Owned(esc(&v).into_owned()),
            )
        })
        .collect();
    let cache_to = match cache_to {
        CacheTo::Inline => vec![Cow::Borrowed("type=inline")],
        // The cache image, and inline cache in the pushed image: the stable tags a later
        // branch's first build imports from are images, not cache images (see
        // `plan::cache`), and carry cache only when it is inline.
        CacheTo::Registry => t
            .cache_to_ref
            .iter()
            .map(|r| Cow::Owned(esc(&format!("type=registry,ref={r},mode=max")).into_owned()))
            .chain([Cow::Borrowed("type=inline")])
            .collect(),
        CacheTo::None => Vec::new(),
    };
    let output = match options.output {
        Output::Default => Vec::new(),
        Output::Push => vec!["type=registry".to_string()],
        Output::PushByDigest => vec![
            esc(&format!(
                "type=image,name={},push-by-digest=true,name-canonical=true,push=true",
                t.image_name
            ))
            .into_owned(),
        ],
    };
    let tags = match options.output {
        Output::PushByDigest => Vec::new(),
        _ => t.tags.iter().map(|s| esc(s)).collect(),
    };
    BakeTarget {
        context: esc(&t.context),
        dockerfile: Some(esc(&t.dockerfile)),
        dockerfile_inline: None,
        contexts,
        args: Escaped(Some(&t.build_args)),
        labels: Escaped(Some(&t.labels)),
        tags,
        cache_from: t.cache_from().into_iter().map(CacheSource).collect(),
        cache_to,
        platforms: t.platforms.iter().map(|s| esc(s)).collect(),
        output,
    }
}

/// The name of an image target's manifest target.
pub fn manifest_target_name(target: &str) -> String {
    format!("{target}-manifest")
}

/// The named context the manifest Dockerfile builds `FROM`.
const MANIFEST_BASE: &str = "stackplan-image";
/// Where the commands' outputs are collected inside the manifest build.
const MANIFEST_TMP: &str = "/tmp/stackplan-manifest";

/// A target that runs the image's `info_cmds` on top of it and exports one
/// `<name>.out` + `<name>.status` pair per command to `<dir>/<image>/<tag>/`.
fn manifest_target<'a>(t: &'a Target, dir: &str) -> BakeTarget<'a> {
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
    contexts.insert(
        Cow::Borrowed(MANIFEST_BASE),
        Cow::Owned(format!("target:{}", t.name)),
    );
    BakeTarget {
        context: esc(&t.context),
        dockerfile: None,
        dockerfile_inline: Some(esc(&dockerfile).into_owned()),
        contexts,
        args: Escaped(None),
        labels: Escaped(None),
        tags: Vec::new(),
        cache_from: Vec::new(),
        cache_to: Vec::new(),
        platforms: Vec::new(),
        output: vec![
            esc(&format!(
                "type=local,dest={}",
                crate::stack::join(&crate::stack::join(dir, &t.image), &t.tag)
            ))
            .into_owned(),
        ],
    }
}

/// Escapes HCL's interpolation (`${`) and directive (`%{`) sequences.
pub fn esc(s: &str) -> Cow<'_, str> {
    // `{` first: a one-byte search, and most strings have none.
    if s.as_bytes().contains(&b'{') && (s.contains("${") || s.contains("%{")) {
        Cow::Owned(s.replace("${", "$${").replace("%{", "%%{"))
    } else {
        Cow::Borrowed(s)
    }
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
