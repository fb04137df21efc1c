//! One target → one solve request for the Dockerfile frontend (`dockerfile.v0`).
//!
//! The image folder and its Dockerfile go as frontend inputs (`context`, `dockerfile`)
//! marshalled as LLB, so no file-sync session is needed. Build args, labels and platforms
//! are frontend attributes; cache imports go both in the request and in the `cache-imports`
//! attribute, as BuildKit's reference client does (the frontend's own solves read the
//! attribute). A child reaches its parent through the registry (or the engine's image
//! store): the parent is exported before the child starts, and when the child's `FROM`
//! names another place than the parent's ref (a `--registry` rewrite) a named context
//! `context:<FROM>` = `docker-image://<parent ref>` redirects it. Why not in-graph
//! (`input:<name>` with the parent's result)? Each target is its own solve, so a parent's
//! result exists only as an exported image; re-solving the parent's Dockerfile inside every
//! child's request would build it once per child.

use std::collections::{BTreeMap, HashMap};

use bollard_buildkit_proto::moby::buildkit::v1::{CacheOptions, CacheOptionsEntry, SolveRequest};
use bollard_buildkit_proto::pb::Definition;
use serde::Serialize;

use crate::plan::{CacheTo, ParentSource, Target};

/// Where a target's image goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// `image` exporter with `push=true`: to the registry, with its tags.
    Push,
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

/// The solve of `t`. `insecure(host)` says whether a registry is reached over plain HTTP.
pub fn spec(
    t: &Target,
    cache_to: CacheTo,
    export: Export,
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
    if let Some(input) = &t.parent_input {
        // A parent built in this run was exported under its tag before this solve started.
        let parent_ref = match &input.source {
            ParentSource::Target { reference, .. } | ParentSource::Image(reference) => reference,
        };
        if crate::reference::familiar(parent_ref) != input.from {
            attrs.insert(
                "context:".to_string() + &input.from,
                format!("docker-image://{parent_ref}"),
            );
        }
    }
    let cache_imports: Vec<(String, BTreeMap<String, String>)> = t
        .cache_from
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
        (CacheTo::Registry, Some(r)) => vec![(
            "registry".to_string(),
            BTreeMap::from([
                ("ref".to_string(), r.clone()),
                ("mode".to_string(), "max".to_string()),
            ]),
        )],
        _ => Vec::new(),
    };
    let names = t.tags.join(",");
    let exporter = match export {
        Export::Push => {
            let mut a = BTreeMap::from([
                ("name".to_string(), names),
                ("push".to_string(), "true".to_string()),
            ]);
            if insecure(&crate::reference::registry_of(&t.reference())) {
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

/// The request itself, with the folders marshalled as LLB.
pub fn request(
    spec: &SolveSpec,
    build_ref: &str,
    session: &str,
    context: Definition,
    dockerfile: Definition,
) -> SolveRequest {
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
        frontend_inputs: HashMap::from([
            ("context".to_string(), context),
            ("dockerfile".to_string(), dockerfile),
        ]),
        ..SolveRequest::default()
    }
}

/// `stackplan build --dry-run`: the requests as JSON (the LLB summarized).
#[derive(Serialize)]
pub struct DryRun<'a> {
    pub target: &'a str,
    pub frontend: &'static str,
    pub frontend_attrs: &'a BTreeMap<String, String>,
    pub frontend_inputs: BTreeMap<&'static str, InputView>,
    pub exporter: Option<ExporterView<'a>>,
    pub cache_imports: Vec<CacheView<'a>>,
    pub cache_exports: Vec<CacheView<'a>>,
    pub after: Option<&'a str>,
}

#[derive(Serialize)]
pub struct InputView {
    pub ops: usize,
    pub files: usize,
    pub bytes: u64,
    pub digest: String,
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
        after: Option<&'a str>,
        inputs: BTreeMap<&'static str, InputView>,
    ) -> Self {
        let view = |v: &'a [(String, BTreeMap<String, String>)]| {
            v.iter()
                .map(|(ty, attrs)| CacheView { ty, attrs })
                .collect()
        };
        DryRun {
            target: &spec.target,
            frontend: "dockerfile.v0",
            frontend_attrs: &spec.frontend_attrs,
            frontend_inputs: inputs,
            exporter: spec
                .exporter
                .as_ref()
                .map(|(ty, attrs)| ExporterView { ty, attrs }),
            cache_imports: view(&spec.cache_imports),
            cache_exports: view(&spec.cache_exports),
            after,
        }
    }
}
