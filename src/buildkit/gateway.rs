//! A target solved through BuildKit's gateway (`moby.buildkit.v1.frontend.LLBBridge`), the
//! way BuildKit's own `client.Build` and buildx run a build, so a child is solved on its
//! parent's *result* inside BuildKit.
//!
//! Each target is one `Control.Solve` in gateway mode: no frontend and no definition, only
//! the session, the exporter and the cache. While it waits, the client (we) calls
//! `LLBBridge.Solve` with the `dockerfile.v0` frontend for that build (the build's ref goes
//! in the `buildkit-controlapi-buildid` gRPC metadata of every bridge call), gets the
//! result back as a *definition* — BuildKit evaluates it lazily —, has BuildKit build it (a
//! second bridge solve, of that definition, with `evaluate`), and `Return`s it; the control
//! solve then exports it. The moment a parent's definition is known its children can be
//! sent: each receives it as a frontend input, as buildx resolves a `target:` context —
//! `context:<FROM>` = `input:<name>`, the definition under `<name>` in `FrontendInputs`, the
//! parent's image config in `input-metadata:<name>` — so parent and child are one graph,
//! the parent's steps are solved once (BuildKit de-duplicates them across builds), and the
//! child never waits for an export or a push to build.
//!
//! Building before `Return` is what lets a child's *export* wait for its parent's: a child
//! built on a parent whose push then fails must not be pushed (nor loaded) on its own. The
//! child returns its result only once its parent's control solve succeeded, and an error
//! instead when it failed (see [`solve`]'s `before_export`); the build itself is not held
//! back, as a parent's export runs while its children build.
//!
//! [`probe`] says whether a daemon's gateway can do this; the caller falls back to one
//! `dockerfile.v0` solve per target ([`super::solve`]) when it cannot.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::SolveRequest as ControlSolve;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::{
    self as gw, PingRequest, ReturnRequest, SolveRequest as BridgeSolve,
};
use bollard_buildkit_proto::pb::Definition;
use tonic::codegen::InterceptedService;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::solve::SolveSpec;

/// The gRPC metadata key that ties a bridge call to its control solve.
pub const BUILD_ID_KEY: &str = "buildkit-controlapi-buildid";

/// What a gateway must support for in-graph chaining: bridge solves, returning results as
/// refs with their definitions, and frontend inputs.
pub const REQUIRED_CAPS: &[&str] = &["solve.base", "return", "proto.refarray", "frontend.inputs"];

/// The result metadata a child's frontend reads from its parent (as buildx passes it): the
/// image config (env, workdir, user… of the parent) and the build info.
const INPUT_METADATA_KEYS: &[&str] = &["containerimage.config", "containerimage.buildinfo"];

/// A target's result as its children receive it.
#[derive(Clone, Debug)]
pub struct Defined {
    pub result: Built,
    pub metadata: BTreeMap<String, Vec<u8>>,
}

/// What a frontend returned: one definition, or one per platform (a target with several
/// `platforms`), keyed by the platform as the frontend names it (`linux/arm64/v8`).
#[derive(Clone, Debug, PartialEq)]
pub enum Built {
    One(Definition),
    PerPlatform(BTreeMap<String, Definition>),
}

impl Built {
    /// The result of a bridge solve, when it is one BuildKit can hand on.
    fn of(result: &gw::Result) -> Option<Built> {
        match &result.result {
            Some(gw::result::Result::Ref(r)) => r.def.clone().map(Built::One),
            Some(gw::result::Result::Refs(map)) => {
                let defs: Option<BTreeMap<String, Definition>> = map
                    .refs
                    .iter()
                    .map(|(platform, r)| r.def.clone().map(|d| (platform.clone(), d)))
                    .collect();
                defs.filter(|d| !d.is_empty()).map(Built::PerPlatform)
            }
            _ => None,
        }
    }

    fn definitions(&self) -> Vec<&Definition> {
        match self {
            Built::One(def) => vec![def],
            Built::PerPlatform(defs) => defs.values().collect(),
        }
    }
}

/// The name a parent's result goes under in a child's `FrontendInputs`.
pub fn input_name(parent: &str) -> String {
    format!("parent-{parent}")
}

/// Points the child's `FROM <from>` at its parent's result: the attributes and the input
/// to add to the child's bridge request. A parent built for several platforms is handed on
/// per platform, as buildx does for a multi-platform `target:` context: the frontend of a
/// child built for `linux/arm64` looks up `context:<FROM>::linux/arm64/v8` first, and reads
/// that platform's image config (`containerimage.config/<platform>` in the parent's result)
/// as the input's `containerimage.config`.
pub fn chain_to(
    attrs: &mut BTreeMap<String, String>,
    inputs: &mut BTreeMap<String, Definition>,
    from: &str,
    parent: &str,
    result: &Defined,
) {
    let name = input_name(parent);
    match &result.result {
        Built::One(def) => {
            attrs.insert(format!("context:{from}"), format!("input:{name}"));
            if let Some(meta) = input_metadata(&result.metadata, None) {
                attrs.insert(format!("input-metadata:{name}"), meta);
            }
            inputs.insert(name, without_source(def));
        }
        Built::PerPlatform(defs) => {
            for (i, (platform, def)) in defs.iter().enumerate() {
                let input = format!("{name}-{i}");
                for key in platform_keys(platform) {
                    attrs.insert(format!("context:{from}::{key}"), format!("input:{input}"));
                }
                if let Some(meta) = input_metadata(&result.metadata, Some(platform)) {
                    attrs.insert(format!("input-metadata:{input}"), meta);
                }
                inputs.insert(input, without_source(def));
            }
        }
    }
}

/// The parent's definition without its source map (its Dockerfile, for error locations):
/// the ops and their digests are untouched, and the Docker engine 26's BuildKit (0.13)
/// dereferences nil while reading the nested definition of a source map that came back
/// through the gateway — the whole daemon goes down.
fn without_source(def: &Definition) -> Definition {
    Definition {
        source: None,
        ..def.clone()
    }
}

/// The names a frontend may look a platform up by: as the result names it, and without the
/// variant that normalizing adds (`linux/arm64/v8` is also `linux/arm64`).
fn platform_keys(platform: &str) -> Vec<String> {
    let mut keys = vec![platform.to_string()];
    let parts: Vec<&str> = platform.split('/').collect();
    if parts.len() == 3 {
        keys.push(parts[..2].join("/"));
    }
    keys
}

/// `input-metadata:` is a JSON object of base64 strings (Go's encoding of `map[string][]byte`).
/// For one platform of a multi-platform result, its `<key>/<platform>` entries are handed
/// on under `<key>`.
fn input_metadata(metadata: &BTreeMap<String, Vec<u8>>, platform: Option<&str>) -> Option<String> {
    use base64::Engine;
    let map: serde_json::Map<String, serde_json::Value> = INPUT_METADATA_KEYS
        .iter()
        .filter_map(|k| {
            let value = match platform {
                Some(p) => metadata.get(&format!("{k}/{p}")),
                None => metadata.get(*k),
            };
            value.map(|v| {
                (
                    k.to_string(),
                    base64::engine::general_purpose::STANDARD.encode(v).into(),
                )
            })
        })
        .collect();
    (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string())
}

fn hash(m: &BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The control solve of a target in gateway mode: the session, exporter and cache of
/// `spec`, no frontend (the bridge call carries it).
pub fn control_request(spec: &SolveSpec, build_ref: &str, session: &str) -> ControlSolve {
    let mut request = super::solve::request(spec, build_ref, session);
    request.frontend.clear();
    request.frontend_attrs.clear();
    request.frontend_inputs.clear();
    request
}

/// The bridge solve of a target: the Dockerfile frontend with `attrs` and `inputs`.
pub fn bridge_request(
    spec: &SolveSpec,
    attrs: &BTreeMap<String, String>,
    inputs: BTreeMap<String, Definition>,
) -> BridgeSolve {
    BridgeSolve {
        frontend: "dockerfile.v0".to_string(),
        frontend_opt: hash(attrs),
        frontend_inputs: inputs.into_iter().collect(),
        cache_imports: spec
            .cache_imports
            .iter()
            .map(|(ty, attrs)| gw::CacheOptionsEntry {
                r#type: ty.clone(),
                attrs: hash(attrs),
            })
            .collect(),
        allow_result_return: true,
        allow_result_array_ref: true,
        ..BridgeSolve::default()
    }
}

/// Adds the build's ref to every bridge call.
#[derive(Clone)]
pub struct BuildId(MetadataValue<Ascii>);

impl tonic::service::Interceptor for BuildId {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(BUILD_ID_KEY, self.0.clone());
        Ok(request)
    }
}

type Bridge = LlbBridgeClient<InterceptedService<Channel, BuildId>>;

fn bridge(channel: &Channel, build_ref: &str) -> Bridge {
    let id = build_ref
        .parse()
        .unwrap_or_else(|_| MetadataValue::from_static("invalid"));
    LlbBridgeClient::with_interceptor(channel.clone(), BuildId(id))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

fn control(channel: &Channel) -> ControlClient<Channel> {
    ControlClient::new(channel.clone())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Whether the daemon's gateway can chain targets in-graph; `Err` says why not, in words.
pub async fn probe(channel: &Channel, session: &str) -> Result<(), String> {
    let build_ref = super::session::new_id();
    let request = ControlSolve {
        r#ref: build_ref.clone(),
        session: session.to_string(),
        ..ControlSolve::default()
    };
    let mut client = control(channel);
    let solve = tokio::spawn(async move { client.solve(request).await });
    let mut bridge = bridge(channel, &build_ref);
    let pong = tokio::time::timeout(Duration::from_secs(10), bridge.ping(PingRequest {})).await;
    let verdict = match pong {
        Err(_) => Err("its gateway did not answer within 10s".to_string()),
        Ok(Err(s)) if s.code() == tonic::Code::Unimplemented => {
            Err("it serves no gateway API (LLBBridge)".to_string())
        }
        Ok(Err(s)) => Err(format!("its gateway refused a build: {}", s.message())),
        Ok(Ok(pong)) => {
            let caps = pong.into_inner().frontend_api_caps;
            let missing: Vec<&str> = REQUIRED_CAPS
                .iter()
                .copied()
                .filter(|id| !caps.iter().any(|c| c.id == *id && c.enabled))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "its gateway is too old (it lacks {})",
                    missing.join(", ")
                ))
            }
        }
    };
    // End the probe's build: an empty result, nothing to export.
    let _ = bridge
        .r#return(ReturnRequest {
            result: Some(gw::Result::default()),
            error: None,
        })
        .await;
    if verdict.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(10), solve).await;
    } else {
        solve.abort();
    }
    verdict
}

/// BuildKit's message, or what broke underneath when the call never reached it.
fn message(status: &tonic::Status) -> String {
    match std::error::Error::source(status) {
        Some(source) if status.message().is_empty() || status.message() == "transport error" => {
            format!("{}: {}", status.message(), crate::error::root_cause(source))
        }
        _ => status.message().to_string(),
    }
}

/// What a finished target's control solve says about its export: the exporter's response
/// (`containerimage.digest`, `image.name`…).
pub type ExporterResponse = BTreeMap<String, String>;

/// Solves one target: the control solve, the bridge solve of the frontend, `defined` with
/// the result as soon as BuildKit returns it (its children start on it), then the build of
/// that result (a second bridge solve of its definition with `evaluate`), then
/// `before_export` — the parent's outcome — and only then `Return`, after which the control
/// solve exports. So everything a target builds is built while its parent may still be
/// exporting, and nothing is exported (pushed, loaded) on top of a parent whose export
/// failed: `before_export`'s error is returned to BuildKit instead of the result. The error
/// is BuildKit's message.
pub async fn solve(
    channel: &Channel,
    control_request: ControlSolve,
    bridge_request: BridgeSolve,
    defined: impl FnOnce(Defined),
    before_export: impl std::future::Future<Output = Result<(), String>>,
) -> Result<ExporterResponse, String> {
    let build_ref = control_request.r#ref.clone();
    let mut client = control(channel);
    let solve = tokio::spawn(async move { client.solve(control_request).await });
    let mut bridge = bridge(channel, &build_ref);
    let cache_imports = bridge_request.cache_imports.clone();
    let answer = bridge.solve(bridge_request).await;
    let ret = match answer {
        Ok(response) => {
            let result = response.into_inner().result.unwrap_or_default();
            let built = Built::of(&result);
            if let Some(built) = &built {
                defined(Defined {
                    result: built.clone(),
                    metadata: result
                        .metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                });
            }
            // Built now, each platform's definition (without the source map, as in
            // `chain_to`: the engine 26's BuildKit cannot take one back through the gateway).
            let mut evaluated = Ok(());
            for def in built.as_ref().map(Built::definitions).unwrap_or_default() {
                evaluated = bridge
                    .solve(BridgeSolve {
                        definition: Some(without_source(def)),
                        cache_imports: cache_imports.clone(),
                        evaluate: true,
                        ..BridgeSolve::default()
                    })
                    .await
                    .map(|_| ())
                    .map_err(|s| s.message().to_string());
                if evaluated.is_err() {
                    break;
                }
            }
            let built = evaluated;
            let ready = match built {
                Ok(()) => before_export.await,
                Err(e) => Err(e),
            };
            match ready {
                Ok(()) => ReturnRequest {
                    result: Some(result),
                    error: None,
                },
                Err(message) => ReturnRequest {
                    result: None,
                    error: Some(RpcStatus {
                        code: tonic::Code::Aborted as i32,
                        message,
                        details: Vec::new(),
                    }),
                },
            }
        }
        Err(status) => ReturnRequest {
            result: None,
            error: Some(RpcStatus {
                code: status.code() as i32,
                message: status.message().to_string(),
                details: Vec::new(),
            }),
        },
    };
    let returned = bridge.r#return(ret).await;
    let outcome = solve
        .await
        .map_err(|e| format!("internal error: {e}"))?
        .map(|r| r.into_inner().exporter_response)
        .map_err(|s| message(&s));
    match (outcome, returned) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(s)) => Err(format!("returning the result failed: {}", message(&s))),
        (Ok(response), Ok(_)) => Ok(response.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_chained_to_its_parents_result_as_buildx_does() {
        let mut attrs = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        let def = Definition {
            def: vec![b"op".to_vec()],
            ..Definition::default()
        };
        let result = Defined {
            result: Built::One(def.clone()),
            metadata: BTreeMap::from([
                ("containerimage.config".to_string(), b"{\"a\":1}".to_vec()),
                ("other".to_string(), b"x".to_vec()),
            ]),
        };
        chain_to(
            &mut attrs,
            &mut inputs,
            "ghcr.io/o/base:1-b",
            "base",
            &result,
        );
        assert_eq!(
            attrs["context:ghcr.io/o/base:1-b"],
            "input:parent-base".to_string()
        );
        let meta: serde_json::Value =
            serde_json::from_str(&attrs["input-metadata:parent-base"]).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({"containerimage.config": "eyJhIjoxfQ=="})
        );
        assert_eq!(inputs["parent-base"], def, "the ops travel as they are");
    }

    #[test]
    fn a_parent_built_for_several_platforms_is_handed_on_per_platform() {
        let (amd, arm) = (
            Definition {
                def: vec![b"amd".to_vec()],
                ..Definition::default()
            },
            Definition {
                def: vec![b"arm".to_vec()],
                ..Definition::default()
            },
        );
        let result = Defined {
            result: Built::PerPlatform(BTreeMap::from([
                ("linux/amd64".to_string(), amd.clone()),
                ("linux/arm64/v8".to_string(), arm.clone()),
            ])),
            metadata: BTreeMap::from([
                (
                    "containerimage.config/linux/amd64".to_string(),
                    b"A".to_vec(),
                ),
                (
                    "containerimage.config/linux/arm64/v8".to_string(),
                    b"R".to_vec(),
                ),
            ]),
        };
        let (mut attrs, mut inputs) = (BTreeMap::new(), BTreeMap::new());
        chain_to(&mut attrs, &mut inputs, "ghcr.io/o/base:1", "base", &result);
        assert_eq!(
            attrs["context:ghcr.io/o/base:1::linux/amd64"],
            "input:parent-base-0"
        );
        assert_eq!(
            attrs["context:ghcr.io/o/base:1::linux/arm64/v8"],
            "input:parent-base-1"
        );
        assert_eq!(
            attrs["context:ghcr.io/o/base:1::linux/arm64"],
            "input:parent-base-1"
        );
        assert!(
            !attrs.contains_key("context:ghcr.io/o/base:1"),
            "no platform-less context"
        );
        assert_eq!(inputs["parent-base-0"], amd);
        assert_eq!(inputs["parent-base-1"], arm);
        let meta: serde_json::Value =
            serde_json::from_str(&attrs["input-metadata:parent-base-1"]).unwrap();
        assert_eq!(meta, serde_json::json!({"containerimage.config": "Ug=="}));
    }
}
