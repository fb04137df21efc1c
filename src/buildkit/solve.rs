//! One target → one solve request for the Dockerfile frontend (`dockerfile.v0`).
//!
//! The image folder and its Dockerfile's folder are read by BuildKit from the target's
//! session (`context`, `dockerfile`, see [`super::filesync`]). Build args, labels and platforms
//! are frontend attributes; cache imports go both in the request and in the `cache-imports`
//! attribute, as BuildKit's reference client does (the frontend's own solves read the
//! attribute). A child reaches a parent built in the same run either in-graph
//! ([`Chain::InGraph`]: [`super::gateway`] gives it the parent's result) or, when the
//! daemon's gateway cannot, through the registry or the engine's image store
//! ([`Chain::Exported`]: the parent is exported before the child starts, and when the
//! child's `FROM` names another place than the parent's ref — a `--registry` rewrite — a
//! named context `context:<FROM>` = `docker-image://<parent ref>` redirects it).

use std::collections::{BTreeMap, HashMap};

use bollard_buildkit_proto::moby::buildkit::v1::{CacheOptions, CacheOptionsEntry, SolveRequest};
use serde::Serialize;

use crate::plan::{CacheTo, ParentSource, Target};

/// Where a target's image goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// `image` exporter with `push=true`: to the registry, with its tags.
    Push,
    /// `image` exporter with `push-by-digest=true`: to the registry under its image name,
    /// by digest only, no tag written (`stackplan publish` moves the tags afterwards).
    PushByDigest,
    /// `moby` exporter: loaded into the Docker engine's image store.
    Engine,
    /// No exporter: built and cached only.
    None,
}

/// Everything one solve needs besides the folders.
#[derive(Clone, Debug)]
pub struct SolveSpec {
    pub target: String,
    pub frontend_attrs: BTreeMap<String, String>,
    pub exporter: Option<(String, BTreeMap<String, String>)>,
    pub cache_imports: Vec<(String, BTreeMap<String, String>)>,
    pub cache_exports: Vec<(String, BTreeMap<String, String>)>,
}

/// How a child reaches a parent built in the same run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// The parent's result, in the same graph ([`super::gateway`] adds it).
    InGraph,
    /// The parent's exported image (its ref in the registry or the engine's store).
    Exported,
}

/// The solve of `t`. `insecure(host)` says whether a registry is reached over plain HTTP.
pub fn spec(
    t: &Target,
    cache_to: CacheTo,
    export: Export,
    chain: Chain,
    insecure: impl Fn(&str) -> bool,
) -> SolveSpec {
    let mut attrs = BTreeMap::new();
    let filename = t
        .dockerfile
        .rsplit('/')
        .next()
        .unwrap_or(&t.dockerfile)
        .to_string();
    attrs.insert("filename".to_string(), filename);
    for (k, v) in &t.build_args {
        attrs.insert(format!("build-arg:{k}"), v.clone());
    }
    for (k, v) in &t.labels {
        attrs.insert(format!("label:{k}"), v.clone());
    }
    if !t.platforms.is_empty() {
        attrs.insert("platform".to_string(), t.platforms.join(","));
    }
    for (from, pinned) in &t.pinned_bases {
        attrs.insert(
            "context:".to_string() + from,
            format!("docker-image://{pinned}"),
        );
    }
    if let Some(input) = &t.parent_input {
        // A parent built in this run is either chained in-graph (by the gateway) or was
        // exported under its tag before this solve started.
        let parent_ref = match &input.source {
            ParentSource::Target { .. } if chain == Chain::InGraph => None,
            ParentSource::Target { reference, .. } | ParentSource::Image(reference) => {
                Some(reference)
            }
        };
        if let Some(parent_ref) = parent_ref
            && crate::reference::familiar(parent_ref) != input.from
        {
            attrs.insert(
                "context:".to_string() + &input.from,
                format!("docker-image://{parent_ref}"),
            );
        }
    }
    let cache_imports: Vec<(String, BTreeMap<String, String>)> = t
        .cache_from()
        .iter()
        .map(|r| {
            (
                "registry".to_string(),
                BTreeMap::from([("ref".to_string(), r.clone())]),
            )
        })
        .collect();
    if !cache_imports.is_empty() {
        let json: Vec<serde_json::Value> = cache_imports
            .iter()
            .map(|(ty, attrs)| serde_json::json!({"Type": ty, "Attrs": attrs}))
            .collect();
        attrs.insert(
            "cache-imports".to_string(),
            serde_json::Value::Array(json).to_string(),
        );
    }
    let cache_exports = match (cache_to, &t.cache_to_ref) {
        (CacheTo::Inline, _) => vec![("inline".to_string(), BTreeMap::new())],
        // As in the bake file: the cache image, and inline cache for the stable tags.
        (CacheTo::Registry, Some(r)) => vec![
            (
                "registry".to_string(),
                BTreeMap::from([
                    ("ref".to_string(), r.clone()),
                    ("mode".to_string(), "max".to_string()),
                ]),
            ),
            ("inline".to_string(), BTreeMap::new()),
        ],
        _ => Vec::new(),
    };
    let names = t.tags.join(",");
    let exporter = match export {
        Export::Push => {
            let mut a = BTreeMap::from([
                ("name".to_string(), names),
                ("push".to_string(), "true".to_string()),
            ]);
            if insecure(&crate::reference::registry_of(t.reference())) {
                a.insert("registry.insecure".to_string(), "true".to_string());
            }
            Some(("image".to_string(), a))
        }
        Export::PushByDigest => {
            // As the bake file's `--push-by-digest` output: one canonical name, no tag.
            let mut a = BTreeMap::from([
                ("name".to_string(), t.image_name.clone()),
                ("push".to_string(), "true".to_string()),
                ("push-by-digest".to_string(), "true".to_string()),
                ("name-canonical".to_string(), "true".to_string()),
            ]);
            if insecure(&crate::reference::registry_of(t.reference())) {
                a.insert("registry.insecure".to_string(), "true".to_string());
            }
            Some(("image".to_string(), a))
        }
        Export::Engine => Some((
            "moby".to_string(),
            BTreeMap::from([("name".to_string(), names)]),
        )),
        Export::None => None,
    };
    SolveSpec {
        target: t.name.clone(),
        frontend_attrs: attrs,
        exporter,
        cache_imports,
        cache_exports,
    }
}

fn hash(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The request itself. Its context and Dockerfile come from the session's FileSync (the
/// `context` and `dockerfile` local names), so it carries no frontend inputs; the gateway
/// route chains children to their parent's result through its own bridge call.
pub fn request(spec: &SolveSpec, build_ref: &str, session: &str) -> SolveRequest {
    let (exporter, exporter_attrs) = match &spec.exporter {
        Some((ty, attrs)) => (ty.clone(), hash(attrs)),
        None => (String::new(), HashMap::new()),
    };
    let entry = |(ty, attrs): &(String, BTreeMap<String, String>)| CacheOptionsEntry {
        r#type: ty.clone(),
        attrs: hash(attrs),
    };
    SolveRequest {
        r#ref: build_ref.to_string(),
        definition: None,
        // The single-exporter fields: every BuildKit since 0.8 reads them, newer ones map
        // them onto `exporters`.
        exporter_deprecated: exporter,
        exporter_attrs_deprecated: exporter_attrs,
        session: session.to_string(),
        frontend: "dockerfile.v0".to_string(),
        frontend_attrs: hash(&spec.frontend_attrs),
        cache: Some(CacheOptions {
            imports: spec.cache_imports.iter().map(entry).collect(),
            exports: spec.cache_exports.iter().map(entry).collect(),
            ..CacheOptions::default()
        }),
        frontend_inputs: HashMap::new(),
        ..SolveRequest::default()
    }
}

/// `stackplan build --dry-run`: what would be sent for one target, as JSON. `control` is
/// the control solve (exporter and cache), `frontend` the solve of the Dockerfile frontend
/// (through the gateway, or in the control solve itself when the daemon has no usable
/// gateway).
#[derive(Serialize)]
pub struct DryRun<'a> {
    pub target: &'a str,
    pub control: ControlView<'a>,
    pub frontend: FrontendView,
    /// The parent whose result this target is solved on.
    pub after: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ControlView<'a> {
    pub exporter: Option<ExporterView<'a>>,
    pub cache_imports: Vec<CacheView<'a>>,
    pub cache_exports: Vec<CacheView<'a>>,
}

#[derive(Serialize)]
pub struct FrontendView {
    pub frontend: &'static str,
    pub frontend_attrs: BTreeMap<String, String>,
    pub frontend_inputs: BTreeMap<String, InputDryRun>,
    /// The folders the target's session serves (file sync), relative to the checkout.
    pub locals: BTreeMap<String, String>,
}

/// A frontend input: another target's result (known only at build time).
#[derive(Serialize)]
#[serde(untagged)]
pub enum InputDryRun {
    Result(String),
}

#[derive(Serialize)]
pub struct ExporterView<'a> {
    #[serde(rename = "type")]
    pub ty: &'a str,
    pub attrs: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct CacheView<'a> {
    #[serde(rename = "type")]
    pub ty: &'a str,
    pub attrs: &'a BTreeMap<String, String>,
}

impl<'a> DryRun<'a> {
    pub fn new(
        spec: &'a SolveSpec,
        frontend_attrs: BTreeMap<String, String>,
        frontend_inputs: BTreeMap<String, InputDryRun>,
        locals: BTreeMap<String, String>,
        after: Option<&'a str>,
    ) -> Self {
        let view = |v: &'a [(String, BTreeMap<String, String>)]| {
            v.iter()
                .map(|(ty, attrs)| CacheView { ty, attrs })
                .collect()
        };
        DryRun {
            target: &spec.target,
            control: ControlView {
                exporter: spec
                    .exporter
                    .as_ref()
                    .map(|(ty, attrs)| ExporterView { ty, attrs }),
                cache_imports: view(&spec.cache_imports),
                cache_exports: view(&spec.cache_exports),
            },
            frontend: FrontendView {
                frontend: "dockerfile.v0",
                frontend_attrs,
                frontend_inputs,
                locals,
            },
            after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change_rules::ChangeRules;
    use crate::change_set::ChangeSet;
    use crate::plan::{PlanOptions, plan};
    use crate::ref_facts::RefFacts;
    use crate::spec::Spec;
    use crate::stack::{DockerfileSource, Stack};
    use std::path::Path;

    fn stack_plan(registry: Option<&str>) -> crate::plan::Plan {
        stack_plan_caching(registry, CacheTo::Inline)
    }

    fn stack_plan_caching(registry: Option<&str>, cache_to: CacheTo) -> crate::plan::Plan {
        let text = "tag: {prefix: '1'}\nimages:\n  base: {image_name: ghcr.io/o/base, build_args: {A: x}}\n  kid: {image_name: ghcr.io/o/kid, depend_on: base, platforms: [linux/amd64]}\n";
        let (spec, w) = Spec::parse(text, Path::new("images/spec.yml")).unwrap();
        let stack = Stack::assemble(
            spec,
            w,
            ChangeRules::without_file(),
            "images",
            |folder, _| {
                DockerfileSource::Text(if folder == "base" {
                    "FROM busybox\n".into()
                } else {
                    "ARG BASE_TAG\nFROM ghcr.io/o/base:${BASE_TAG}\n".into()
                })
            },
        )
        .unwrap();
        let opts = PlanOptions {
            branch: "b".into(),
            registry: registry.map(str::to_string),
            full_rebuild: Some(crate::rebuild::FullRebuild::Flag),
            cache_to,
            ..PlanOptions::default()
        };
        plan(
            &stack,
            &ChangeSet::default(),
            &crate::context::Contexts::default(),
            &opts,
            &RefFacts::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_target_becomes_frontend_attributes_exporter_and_cache() {
        let p = stack_plan(None);
        let kid = p.target("kid").unwrap();
        let s = spec(kid, CacheTo::Inline, Export::Push, Chain::Exported, |_| {
            false
        });
        assert_eq!(s.frontend_attrs["filename"], "Dockerfile");
        assert_eq!(s.frontend_attrs["build-arg:BASE_TAG"], "1-b");
        assert!(
            !s.frontend_attrs.contains_key("build-arg:A"),
            "the parent's args are not inherited"
        );
        assert_eq!(s.frontend_attrs["platform"], "linux/amd64");
        assert_eq!(
            s.frontend_attrs["label:org.opencontainers.image.version"],
            "1-b"
        );
        // The FROM already names the parent's ref: no redirect needed.
        assert!(!s.frontend_attrs.keys().any(|k| k.starts_with("context:")));
        let imports: serde_json::Value =
            serde_json::from_str(&s.frontend_attrs["cache-imports"]).unwrap();
        assert_eq!(
            imports[0],
            serde_json::json!({"Type": "registry", "Attrs": {"ref": "ghcr.io/o/kid:1-b"}})
        );
        assert_eq!(s.cache_imports.len(), 3);
        assert_eq!(
            s.cache_exports,
            vec![("inline".to_string(), BTreeMap::new())]
        );
        let (ty, attrs) = s.exporter.clone().unwrap();
        assert_eq!(ty, "image");
        assert_eq!(attrs["name"], "ghcr.io/o/kid:1-b");
        assert_eq!(attrs["push"], "true");
        assert!(!attrs.contains_key("registry.insecure"));
    }

    #[test]
    fn a_registry_rewrite_redirects_the_from_and_loopback_is_insecure() {
        let p = stack_plan(Some("localhost:5000/ns"));
        let kid = p.target("kid").unwrap();
        let s = spec(kid, CacheTo::None, Export::Push, Chain::Exported, |h| {
            h == "localhost:5000"
        });
        assert_eq!(
            s.frontend_attrs["context:ghcr.io/o/base:1-b"],
            "docker-image://localhost:5000/ns/base:1-b"
        );
        assert_eq!(s.exporter.as_ref().unwrap().1["registry.insecure"], "true");
        assert!(s.cache_exports.is_empty());
        let by_digest = spec(
            kid,
            CacheTo::None,
            Export::PushByDigest,
            Chain::InGraph,
            |h| h == "localhost:5000",
        );
        let (ty, attrs) = by_digest.exporter.unwrap();
        assert_eq!(ty, "image");
        assert_eq!(attrs["name"], "localhost:5000/ns/kid", "no tag");
        assert_eq!(attrs["push-by-digest"], "true");
        assert_eq!(attrs["registry.insecure"], "true");
        // With a cache image, the pushed image carries inline cache too: a new branch's
        // first build imports from the stable tags, which are images.
        let p = stack_plan_caching(Some("localhost:5000/ns"), CacheTo::Registry);
        let kid = p.target("kid").unwrap();
        let registry = spec(
            kid,
            CacheTo::Registry,
            Export::Push,
            Chain::Exported,
            |_| false,
        );
        let exports: Vec<&str> = registry
            .cache_exports
            .iter()
            .map(|(ty, _)| ty.as_str())
            .collect();
        assert_eq!(exports, ["registry", "inline"]);
        assert_eq!(
            registry.cache_exports[0].1["ref"],
            "localhost:5000/ns/kid:buildcache-1-b"
        );
        let imports: Vec<&str> = registry
            .cache_imports
            .iter()
            .map(|(_, a)| a["ref"].as_str())
            .collect();
        assert!(
            imports.contains(&"localhost:5000/ns/kid:1-stable"),
            "{imports:?}"
        );
        let engine = spec(kid, CacheTo::None, Export::Engine, Chain::Exported, |_| {
            false
        });
        assert_eq!(engine.exporter.unwrap().0, "moby");
        assert!(
            spec(kid, CacheTo::None, Export::None, Chain::Exported, |_| false)
                .exporter
                .is_none()
        );
    }

    #[test]
    fn the_request_carries_session_and_cache() {
        let p = stack_plan(None);
        let s = spec(
            p.target("base").unwrap(),
            CacheTo::Inline,
            Export::Push,
            Chain::Exported,
            |_| false,
        );
        let r = request(&s, "ref1", "sess1");
        assert_eq!(r.frontend, "dockerfile.v0");
        assert_eq!((r.r#ref.as_str(), r.session.as_str()), ("ref1", "sess1"));
        assert_eq!(r.exporter_deprecated, "image");
        assert!(r.frontend_inputs.is_empty());
        let cache = r.cache.unwrap();
        assert_eq!(cache.imports[0].attrs["ref"], "ghcr.io/o/base:1-b");
        assert_eq!(cache.exports[0].r#type, "inline");
    }
}
