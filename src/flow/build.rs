//! The build flow (`stackplan build`): the plan's targets built by a BuildKit daemon over its
//! gRPC API, no docker CLI.
//!
//! [`Build::prepare`] plans and turns every target to build into its solves (nothing is sent
//! yet: [`Build::dry_run`] shows them). [`Build::run`] checks the daemon's workers, opens
//! one BuildKit session per target, picks the route — one graph through the gateway, or one
//! solve per target when the daemon's gateway cannot chain them — and runs the targets as
//! their parents allow, reporting [`Event`]s to a [`BuildEvents`] sink; the [`Built`] it
//! returns says how each target ended, and [`Built::check`] makes failures an error.
//!
//! It owns the executor: which solve goes when, what a child receives from its parent,
//! which outcome a target has. The requests are [`crate::buildkit`]'s; the rendering of
//! events is the caller's; tags of reused targets are written by the caller (promote's tag
//! transaction), before [`Build::run`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard_buildkit_proto::moby::buildkit::v1::StatusRequest;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use futures::StreamExt;
use tonic::transport::Channel;

use super::Reporter;
use super::planning::{self, Digests, PlanRequest};
use crate::buildkit::address::{Address, Tls};
use crate::buildkit::connect;
use crate::buildkit::event::{BuildEvents, Event};
use crate::buildkit::gateway::{self, Defined, ExporterResponse};
use crate::buildkit::schedule::{self, Job, Outcome, Settled};
use crate::buildkit::session::{self as buildkit_session, SessionInfo, new_id};
use crate::buildkit::solve::{self, Chain, Export, SolveSpec};
use crate::error::{Error, Result};
use crate::plan::{ParentSource, Plan, Target};
use crate::session::Session;

/// Where the built images go besides BuildKit's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Push {
    /// Nowhere: a Docker engine (`docker://`) loads them, a buildkitd keeps only its cache.
    #[default]
    No,
    /// To the registry, with their tags (`--push`).
    Tags,
    /// To the registry by digest only, no tag moved (`--push-by-digest`): `stackplan
    /// publish` moves them from the metadata file.
    ByDigest,
}

/// `stackplan build`'s flags, as values.
#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    /// What to plan.
    pub plan: PlanRequest,
    /// BuildKit's address (`tcp://HOST:PORT`, `unix:///path`, `docker://`) and its TLS.
    pub addr: String,
    pub tls: Tls,
    pub push: Push,
    /// Registries reached over plain HTTP (loopback registries always are).
    pub insecure_registries: Vec<String>,
    /// Where each built target's exporter response is written, as JSON keyed by target.
    pub metadata_file: Option<PathBuf>,
    /// How many targets build at once (0: every target whose parent is done).
    pub jobs: usize,
}

/// A planned build, its solves ready to send.
pub struct Build {
    plan: Plan,
    address: Address,
    export: Export,
    metadata_file: Option<PathBuf>,
    parallel: usize,
    /// The targets to build, in the plan's order, with their parents in this run.
    jobs: Vec<Job>,
    prepared: BTreeMap<String, Prepared>,
}

/// One target, ready to send.
struct Prepared {
    /// Its solve when its parent is chained in-graph (gateway route).
    in_graph: SolveSpec,
    /// Its solve when its parent is reached as an exported image (one solve per target).
    exported: SolveSpec,
    /// The child's `FROM` and the parent target, when the parent builds in this run.
    chain: Option<(String, String)>,
    /// Where its image is pushed (`--push-by-digest`: `<image_name>@<digest>`).
    image_name: String,
    /// The folders its session serves (`context`, `dockerfile`), relative to the checkout
    /// and absolute.
    folders: BTreeMap<String, (String, PathBuf)>,
}

/// How targets reach BuildKit in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// One gateway build per target, children chained to their parent's result.
    Gateway,
    /// One `dockerfile.v0` solve per target, children on their parent's exported image.
    PerTarget,
}

/// What a child receives from its parent.
#[derive(Clone, Debug)]
enum ParentResult {
    /// The parent's result in BuildKit (gateway route): the child is solved on it.
    InGraph(Defined),
    /// The parent's image pushed by digest (`name@sha256:…`, per-target route with
    /// `--push-by-digest`): the child's `FROM` is pointed at it, as no tag was written.
    Pushed(String),
}

/// How a build ended, target by target.
#[derive(Clone, Debug)]
pub struct Built {
    /// Every target that was to build, in the plan's order.
    pub order: Vec<String>,
    pub outcomes: BTreeMap<String, Outcome>,
    /// From the first connection to the last target's end.
    pub elapsed: Duration,
}

impl Built {
    /// The targets that failed, in order.
    pub fn failed(&self) -> Vec<&str> {
        self.order
            .iter()
            .filter(|n| matches!(self.outcomes.get(*n), Some(Outcome::Failed { .. })))
            .map(String::as_str)
            .collect()
    }

    /// How many targets were skipped because an ancestor failed.
    pub fn skipped(&self) -> usize {
        self.order
            .iter()
            .filter(|n| matches!(self.outcomes.get(*n), Some(Outcome::Skipped { .. })))
            .count()
    }

    /// `Ok` when no target failed; else the build error (exit status 1) naming them.
    pub fn check(&self) -> Result<()> {
        let failed = self.failed();
        if failed.is_empty() {
            return Ok(());
        }
        let skipped = self.skipped();
        Err(Error::Build {
            message: format!(
                "{} target(s) failed ({}), {skipped} skipped because of them, {} succeeded",
                failed.len(),
                failed.join(", "),
                self.order.len() - failed.len() - skipped
            ),
        })
    }
}

impl Build {
    /// Plans `request.plan` and prepares the solve of every target to build; sends nothing.
    pub fn prepare(
        session: &Session,
        request: &BuildRequest,
        reporter: &mut dyn Reporter,
    ) -> Result<Build> {
        let (plan, root) = planning::plan(session, &request.plan, Digests::Pinned, reporter)?;
        let address = Address::parse(&request.addr, request.tls.clone())?;
        let export = match request.push {
            Push::Tags => Export::Push,
            Push::ByDigest => Export::PushByDigest,
            Push::No if address.is_docker() => Export::Engine,
            Push::No => Export::None,
        };
        let jobs: Vec<Job> = plan
            .to_build()
            .map(|t| Job {
                name: t.name.clone(),
                parent: t
                    .parent
                    .clone()
                    .filter(|p| plan.target(p).is_some_and(|p| p.builds())),
            })
            .collect();
        let mut prepared = BTreeMap::new();
        for t in plan.to_build() {
            let p = prepare(&plan, t, &root, export, &request.insecure_registries)?;
            prepared.insert(t.name.clone(), p);
        }
        Ok(Build {
            plan,
            address,
            export,
            metadata_file: request.metadata_file.clone(),
            parallel: request.jobs,
            jobs,
            prepared,
        })
    }

    /// The plan this build carries out.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Whether no target is to build (every target is reused or kept).
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Each target's parent in this run (child, parent): a renderer shows a step shared
    /// through an in-graph chain under the parent only.
    pub fn parents(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.jobs
            .iter()
            .filter_map(|j| Some((j.name.clone(), j.parent.clone()?)))
    }

    /// What would be sent, as JSON (`stackplan build --dry-run`): each target's control
    /// solve and its gateway solve of the Dockerfile frontend.
    pub fn dry_run(&self) -> Result<String> {
        let views: Vec<solve::DryRun> = self
            .jobs
            .iter()
            .map(|j| dry_run_of(&self.prepared[&j.name], j.parent.as_deref()))
            .collect();
        let mut text = serde_json::to_string_pretty(&views).map_err(|e| Error::Build {
            message: format!("cannot render the requests: {e}"),
        })?;
        text.push('\n');
        Ok(text)
    }

    /// Builds every target on the daemon, reporting to `events`, and writes the metadata
    /// file. Failing targets are in the [`Built`]; an error is the daemon's (down, no worker,
    /// no session) or a build the daemon cannot do (a child on a parent it cannot keep).
    pub fn run(self, session: &Session, events: Arc<dyn BuildEvents>) -> Result<Built> {
        let started = Instant::now();
        let order: Vec<String> = self.jobs.iter().map(|j| j.name.clone()).collect();
        let outcomes = session.block_on(self.execute(events))??;
        Ok(Built {
            order,
            outcomes,
            elapsed: started.elapsed(),
        })
    }

    async fn execute(self, events: Arc<dyn BuildEvents>) -> Result<BTreeMap<String, Outcome>> {
        let address = &self.address;
        let channel = connect::channel(address).await?;
        // A daemon that is down or is no BuildKit shows here, within the connect timeout.
        connect::check_workers(&channel, address).await?;
        // One session per target: BuildKit asks each for its `context` and `dockerfile`.
        let sessions: BTreeMap<String, SessionInfo> = self
            .prepared
            .iter()
            .map(|(name, p)| (name.clone(), p.session()))
            .collect();
        futures::future::try_join_all(
            sessions
                .values()
                .map(|s| buildkit_session::start(address, channel.clone(), s)),
        )
        .await?;
        let route = self.route(&channel, &sessions, events.as_ref()).await?;
        let running = Arc::new(Running {
            channel,
            events,
            route,
            export: self.export,
            sessions: sessions.into_iter().map(|(name, s)| (name, s.id)).collect(),
            prepared: self.prepared,
            responses: Mutex::new(BTreeMap::new()),
        });
        let outcomes = schedule::run(
            &self.jobs,
            self.parallel,
            |name, parent, defined, settled| {
                build_target(running.clone(), name, parent, defined, settled)
            },
        )
        .await;
        let responses =
            std::mem::take(&mut *running.responses.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(path) = &self.metadata_file {
            write_metadata(path, &responses)?;
        }
        Ok(outcomes)
    }

    /// The route this daemon allows: the gateway when it can chain targets in one graph
    /// (a note says why not, else); an error when a child could not reach its parent at all.
    async fn route(
        &self,
        channel: &Channel,
        sessions: &BTreeMap<String, SessionInfo>,
        events: &dyn BuildEvents,
    ) -> Result<Route> {
        let address = &self.address;
        let probe_session = sessions
            .values()
            .next()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let Err(why) = gateway::probe(channel, &probe_session).await else {
            return Ok(Route::Gateway);
        };
        let has_children = self.jobs.iter().any(|j| j.parent.is_some());
        if self.export == Export::None && has_children {
            return Err(Error::usage_with_help(
                format!(
                    "a child cannot be built on its parent without --push: {address} cannot chain them in one graph and has no image store to keep the parent in"
                ),
                "pass --push (the child then builds on the pushed parent), or build against docker://",
            ));
        }
        events.event(Event::Note(format!(
            "BuildKit at {address}: {why}; each target is solved on its own, and a child waits for its parent's image"
        )));
        Ok(Route::PerTarget)
    }
}

/// What every target's task shares while the build runs.
struct Running {
    channel: Channel,
    events: Arc<dyn BuildEvents>,
    route: Route,
    export: Export,
    /// Each target's BuildKit session id.
    sessions: BTreeMap<String, String>,
    prepared: BTreeMap<String, Prepared>,
    /// The exporter responses of the targets built so far.
    responses: Mutex<BTreeMap<String, ExporterResponse>>,
}

/// Builds one target on the route of the run and reports it; `Err` is BuildKit's message.
async fn build_target(
    run: Arc<Running>,
    name: String,
    parent: Option<ParentResult>,
    mut defined: schedule::Defined<ParentResult>,
    settled: Settled,
) -> std::result::Result<(), String> {
    let (Some(p), Some(session)) = (run.prepared.get(&name), run.sessions.get(&name)) else {
        return Err(format!("internal error: {name} was not prepared"));
    };
    let build_ref = new_id();
    run.events.event(Event::Started {
        target: name.clone(),
    });
    let status = watch(&run.channel, &run.events, &name, &build_ref);
    // Set when this target was built but not exported because its parent failed.
    let parent_failed = AtomicBool::new(false);
    let result = match run.route {
        Route::Gateway => {
            let before_export = async {
                settled
                    .wait()
                    .await
                    .inspect_err(|_| parent_failed.store(true, Ordering::Relaxed))
            };
            let parent = match &parent {
                Some(ParentResult::InGraph(result)) => Some(result),
                _ => None,
            };
            solve_in_graph(
                &run.channel,
                p,
                parent,
                &build_ref,
                session,
                &mut defined,
                before_export,
            )
            .await
        }
        Route::PerTarget => {
            let pinned = match &parent {
                Some(ParentResult::Pushed(pinned)) => Some(pinned.as_str()),
                _ => None,
            };
            solve_exported(&run.channel, p, pinned, &build_ref, session).await
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), status).await;
    let result = result.map(|response| run.exported(&name, p, response, &mut defined));
    let outcome = match (&result, parent.as_ref().and(p.chain.as_ref())) {
        (Ok(()), _) => Outcome::Succeeded {
            duration: Duration::ZERO,
        },
        (Err(_), Some((_, parent_name))) if parent_failed.load(Ordering::Relaxed) => {
            Outcome::Skipped {
                because: parent_name.clone(),
            }
        }
        (Err(e), _) => Outcome::Failed {
            duration: Duration::ZERO,
            error: e.clone(),
        },
    };
    run.events.event(Event::Finished {
        target: name,
        outcome,
    });
    result
}

impl Running {
    /// Keeps a target's exporter response; a child pushed by digest finds its parent by
    /// that digest (it has no tag).
    fn exported(
        &self,
        name: &str,
        p: &Prepared,
        response: ExporterResponse,
        defined: &mut schedule::Defined<ParentResult>,
    ) {
        if self.route == Route::PerTarget
            && self.export == Export::PushByDigest
            && let Some(d) = response.get("containerimage.digest")
        {
            defined.send(ParentResult::Pushed(format!("{}@{d}", p.image_name)));
        }
        self.responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), response);
    }
}

/// A target through the gateway, chained to its parent's result when it has one: built
/// while the parent may still be exporting, exported only once the parent has been
/// (`before_export`, see [`gateway::solve`]). Its own result goes to its children through
/// `defined` as soon as BuildKit returns it.
async fn solve_in_graph(
    channel: &Channel,
    p: &Prepared,
    parent: Option<&Defined>,
    build_ref: &str,
    session: &str,
    defined: &mut schedule::Defined<ParentResult>,
    before_export: impl std::future::Future<Output = std::result::Result<(), String>>,
) -> std::result::Result<ExporterResponse, String> {
    let mut attrs = p.in_graph.frontend_attrs.clone();
    let mut inputs = BTreeMap::new();
    if let (Some((from, parent_name)), Some(result)) = (&p.chain, parent) {
        gateway::chain_to(&mut attrs, &mut inputs, from, parent_name, result);
    }
    let bridge = gateway::bridge_request(&p.in_graph, &attrs, inputs);
    let control = gateway::control_request(&p.in_graph, build_ref, session);
    gateway::solve(
        channel,
        control,
        bridge,
        |d| defined.send(ParentResult::InGraph(d)),
        before_export,
    )
    .await
}

/// A target as one `dockerfile.v0` solve, started once its parent succeeded (its image is
/// in place); `pinned` is the parent's image by digest when it was pushed by digest.
async fn solve_exported(
    channel: &Channel,
    p: &Prepared,
    pinned: Option<&str>,
    build_ref: &str,
    session: &str,
) -> std::result::Result<ExporterResponse, String> {
    let mut spec = p.exported.clone();
    if let (Some((from, _)), Some(pinned)) = (&p.chain, pinned) {
        spec.frontend_attrs.insert(
            format!("context:{from}"),
            format!("docker-image://{pinned}"),
        );
    }
    let request = solve::request(&spec, build_ref, session);
    ControlClient::new(channel.clone())
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
        .solve(request)
        .await
        .map(|r| r.into_inner().exporter_response.into_iter().collect())
        .map_err(|s| s.message().to_string())
}

/// Target `t`'s solves and folders, once its Dockerfile is found.
fn prepare(
    plan: &Plan,
    t: &Target,
    root: &Path,
    export: Export,
    insecure: &[String],
) -> Result<Prepared> {
    let folder = root.join(&t.context);
    let dockerfile_path = folder.join(&t.dockerfile);
    if !dockerfile_path.is_file() {
        return Err(Error::io(
            "cannot read",
            &dockerfile_path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let dockerfile_dir = dockerfile_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| folder.clone());
    let dockerfile_rel = Path::new(&t.context)
        .join(&t.dockerfile)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| t.context.clone());
    let is_insecure =
        |host: &str| crate::registry::is_loopback(host) || insecure.iter().any(|h| h == host);
    let chain = t
        .parent_input
        .as_ref()
        .and_then(|input| match &input.source {
            ParentSource::Target { name, .. } => Some((input.from.clone(), name.clone())),
            ParentSource::Image(_) => None,
        });
    Ok(Prepared {
        in_graph: solve::spec(t, plan.cache_to, export, Chain::InGraph, is_insecure),
        exported: solve::spec(t, plan.cache_to, export, Chain::Exported, is_insecure),
        chain,
        image_name: t.image_name.clone(),
        folders: BTreeMap::from([
            ("context".to_string(), (t.context.clone(), folder)),
            ("dockerfile".to_string(), (dockerfile_rel, dockerfile_dir)),
        ]),
    })
}

impl Prepared {
    /// The BuildKit session that serves the target's folders.
    fn session(&self) -> SessionInfo {
        let dirs = self
            .folders
            .iter()
            .map(|(name, (_, path))| (name.clone(), path.clone()))
            .collect();
        let key = self
            .folders
            .get("context")
            .map(|(_, p)| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        SessionInfo::serving(dirs, &key)
    }
}

/// What `--dry-run` shows of a target: its gateway solve, the parent's result (known only
/// at build time) named where it would go.
fn dry_run_of<'a>(p: &'a Prepared, after: Option<&'a str>) -> solve::DryRun<'a> {
    let mut attrs = p.in_graph.frontend_attrs.clone();
    let mut inputs = BTreeMap::new();
    if let Some((from, parent)) = &p.chain {
        let name = gateway::input_name(parent);
        attrs.insert(format!("context:{from}"), format!("input:{name}"));
        attrs.insert(
            format!("input-metadata:{name}"),
            format!("<image config of {parent}'s result>"),
        );
        inputs.insert(
            name,
            solve::InputDryRun::Result(format!("<definition of {parent}'s result>")),
        );
    }
    let locals = p
        .folders
        .iter()
        .map(|(name, (rel, _))| (name.clone(), rel.clone()))
        .collect();
    solve::DryRun::new(&p.in_graph, attrs, inputs, locals, after)
}

/// Writes the exporter responses of the targets that were exported, keyed by target, as
/// `docker buildx bake --metadata-file` does (what `stackplan publish --metadata` reads).
/// Written whole, also when some target failed: publish refuses a file that lacks one.
fn write_metadata(path: &Path, responses: &BTreeMap<String, ExporterResponse>) -> Result<()> {
    let mut text = serde_json::to_string_pretty(responses).map_err(|e| Error::Build {
        message: format!("cannot render the metadata file: {e}"),
    })?;
    text.push('\n');
    crate::fs::write_atomic(path, &text)
}

/// Follows the status stream of the build `build_ref` into `events`, in the background.
fn watch(
    channel: &Channel,
    events: &Arc<dyn BuildEvents>,
    name: &str,
    build_ref: &str,
) -> tokio::task::JoinHandle<()> {
    let mut client = ControlClient::new(channel.clone());
    let events = events.clone();
    let name = name.to_string();
    let build_ref = build_ref.to_string();
    tokio::spawn(async move {
        // The status stream opens once the solve is known; retry briefly.
        for _ in 0..50 {
            match client
                .status(StatusRequest {
                    r#ref: build_ref.clone(),
                })
                .await
            {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    while let Some(Ok(status)) = stream.next().await {
                        events.event(Event::Status {
                            target: name.clone(),
                            status: Box::new(status),
                        });
                    }
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(outcomes: &[(&str, Outcome)]) -> Built {
        Built {
            order: outcomes.iter().map(|(n, _)| n.to_string()).collect(),
            outcomes: outcomes
                .iter()
                .map(|(n, o)| (n.to_string(), o.clone()))
                .collect(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn failed_targets_make_the_build_error_naming_them_and_what_they_skipped() {
        let ok = Outcome::Succeeded {
            duration: Duration::ZERO,
        };
        let failed = Outcome::Failed {
            duration: Duration::ZERO,
            error: "exit code 1".into(),
        };
        let skipped = Outcome::Skipped {
            because: "a".into(),
        };
        assert!(
            built(&[("root", ok.clone()), ("a", ok.clone())])
                .check()
                .is_ok()
        );
        let run = built(&[
            ("root", ok.clone()),
            ("a", failed.clone()),
            ("b", failed),
            ("a1", skipped),
            ("c", ok),
        ]);
        assert_eq!(run.failed(), ["a", "b"]);
        assert_eq!(run.skipped(), 1);
        let error = run.check().unwrap_err();
        assert_eq!(
            error.to_string(),
            "2 target(s) failed (a, b), 1 skipped because of them, 2 succeeded"
        );
        assert_eq!(error.exit_code(), 1);
    }
}
