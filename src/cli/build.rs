//! `stackplan build`: the plan built by a BuildKit daemon over its gRPC API (no docker CLI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{ListWorkersRequest, StatusRequest};
use clap::Args;
use futures::StreamExt;

use super::{PlanArgs, Printer};
use crate::buildkit::address::{Address, Tls};
use crate::buildkit::connect;
use crate::buildkit::gateway::{self, Defined};
use crate::buildkit::progress::{Mode, Progress};
use crate::buildkit::schedule::{self, Job, Outcome};
use crate::buildkit::session::{SessionInfo, new_id};
use crate::buildkit::solve::{self, Chain, Export, SolveSpec};
use crate::error::{Error, Result};
use crate::flow::planning::{self, Digests};
use crate::plan::{ParentSource, Plan};

#[derive(Debug, Clone, Args)]
pub struct BuildCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// BuildKit's address: tcp://HOST:PORT, unix:///path/buildkitd.sock, or docker://
    /// (the Docker engine's embedded BuildKit on $DOCKER_HOST or /var/run/docker.sock).
    #[arg(
        long,
        env = "BUILDKIT_HOST",
        default_value = "docker://",
        help_heading = "BuildKit"
    )]
    pub addr: String,

    /// CA certificate for a tcp:// daemon with TLS.
    #[arg(long, value_name = "FILE", help_heading = "BuildKit")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate for a tcp:// daemon with TLS.
    #[arg(long, value_name = "FILE", help_heading = "BuildKit")]
    pub tls_cert: Option<PathBuf>,
    /// Client key for a tcp:// daemon with TLS.
    #[arg(long, value_name = "FILE", help_heading = "BuildKit")]
    pub tls_key: Option<PathBuf>,
    /// Server name the daemon's certificate must carry [default: the address's host].
    #[arg(long, value_name = "NAME", help_heading = "BuildKit")]
    pub tls_server_name: Option<String>,

    /// Push every image with its tags (credentials from ~/.docker/config.json). Without it a
    /// Docker engine loads the images, and a buildkitd keeps only its cache.
    #[arg(long, help_heading = "BuildKit", conflicts_with = "push_by_digest")]
    pub push: bool,

    /// Push every image by digest only and move no tag; the digests go to --metadata-file,
    /// and `stackplan publish --metadata FILE` then moves every tag, or none if a target
    /// has no digest (as with `stackplan bake --push-by-digest`).
    #[arg(long, help_heading = "BuildKit", requires = "metadata_file")]
    pub push_by_digest: bool,

    /// Write each built target's exporter response (`containerimage.digest`, …) to FILE as
    /// JSON keyed by target, the form of `docker buildx bake --metadata-file`.
    #[arg(long, value_name = "FILE", help_heading = "BuildKit")]
    pub metadata_file: Option<PathBuf>,

    /// How many targets build at once [default: every target whose parent is done].
    #[arg(
        long,
        default_value_t = 0,
        hide_default_value = true,
        help_heading = "BuildKit"
    )]
    pub jobs: usize,

    #[arg(long, value_enum, default_value_t = Mode::Auto, help_heading = "BuildKit")]
    pub progress: Mode,

    /// Print the requests as JSON (each target's control solve and its gateway solve of the
    /// Dockerfile frontend) and send nothing.
    #[arg(long, help_heading = "BuildKit")]
    pub dry_run: bool,
}

/// One target, ready to send.
struct Prepared {
    /// Its solve when its parent is chained in-graph (gateway mode).
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

impl Prepared {
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

fn prepare(
    plan: &Plan,
    root: &Path,
    export: Export,
    insecure: &[String],
) -> Result<BTreeMap<String, Prepared>> {
    let mut out = BTreeMap::new();
    for t in plan.to_build() {
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
        out.insert(
            t.name.clone(),
            Prepared {
                in_graph: solve::spec(t, plan.cache_to, export, Chain::InGraph, is_insecure),
                exported: solve::spec(t, plan.cache_to, export, Chain::Exported, is_insecure),
                chain,
                image_name: t.image_name.clone(),
                folders: BTreeMap::from([
                    ("context".to_string(), (t.context.clone(), folder.clone())),
                    ("dockerfile".to_string(), (dockerfile_rel, dockerfile_dir)),
                ]),
            },
        );
    }
    Ok(out)
}

/// How targets reach BuildKit in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// One gateway build per target, children chained to their parent's result.
    Gateway,
    /// One `dockerfile.v0` solve per target, children on their parent's exported image.
    PerTarget,
}

pub fn build(cmd: BuildCmd, printer: &mut Printer) -> Result<()> {
    let session = cmd.plan.session();
    let (plan, root) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let tls = Tls {
        ca: cmd.tls_ca.clone(),
        cert: cmd.tls_cert.clone(),
        key: cmd.tls_key.clone(),
        server_name: cmd.tls_server_name.clone(),
    };
    let address = Address::parse(&cmd.addr, tls)?;
    let export = if cmd.push {
        Export::Push
    } else if cmd.push_by_digest {
        Export::PushByDigest
    } else if address.is_docker() {
        Export::Engine
    } else {
        Export::None
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
    let prepared = prepare(&plan, &root, export, &cmd.plan.insecure_registry)?;
    let order: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();

    if cmd.dry_run {
        let views: Vec<solve::DryRun> = jobs
            .iter()
            .map(|j| {
                let p = &prepared[&j.name];
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
                solve::DryRun::new(&p.in_graph, attrs, inputs, locals, j.parent.as_deref())
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&views).expect("plain data");
        text.push('\n');
        return printer.product(&text, None);
    }
    // Targets reused from images with the same inputs are not solved: their tags are
    // written registry-side (with --push), and their children build on those images.
    let reused = super::reuse::moves(&plan);
    if !reused.is_empty() {
        // With --push-by-digest no tag moves before `stackplan publish`: not even these.
        if cmd.push {
            super::promote::execute(reused, &session, false, true, printer)?;
        } else {
            printer.status(&format!(
                "{} target(s) have images with the same inputs already; their tags are written with --push or `stackplan reuse`",
                plan.to_reuse().count()
            ));
        }
    }
    if jobs.is_empty() {
        printer.status("nothing to build: every target is reused or kept");
        return Ok(());
    }

    let progress = Arc::new(
        Progress::new(cmd.progress).with_parents(
            jobs.iter()
                .filter_map(|j| Some((j.name.clone(), j.parent.clone()?))),
        ),
    );
    let prepared = Arc::new(prepared);
    let started = std::time::Instant::now();
    let has_children = jobs.iter().any(|j| j.parent.is_some());
    let (outcomes, notes) = session.runtime()?.block_on(async {
        let mut notes = Vec::new();
        let channel = connect::channel(&address).await?;
        // A daemon that is down or is no BuildKit shows here, within the connect timeout.
        let workers = tokio::time::timeout(
            connect::CONNECT_TIMEOUT,
            ControlClient::new(channel.clone()).list_workers(ListWorkersRequest::default()),
        )
        .await
        .map_err(|_| Error::Build {
            message: format!(
                "BuildKit at {address}: no answer within {}s",
                connect::CONNECT_TIMEOUT.as_secs()
            ),
        })?
        .map_err(|s| {
            let cause = std::error::Error::source(&s)
                .map(crate::error::root_cause)
                .unwrap_or_else(|| s.message().to_string());
            Error::Build {
                message: format!(
                    "BuildKit at {address}: {}",
                    connect::explain(&address, &cause).unwrap_or(cause)
                ),
            }
        })?;
        if workers.into_inner().record.is_empty() {
            return Err(Error::Build {
                message: format!("BuildKit at {address} has no worker"),
            });
        }
        // One session per target: BuildKit asks each for its `context` and `dockerfile`.
        let sessions: BTreeMap<String, SessionInfo> = prepared
            .iter()
            .map(|(name, p)| (name.clone(), p.session()))
            .collect();
        futures::future::try_join_all(
            sessions
                .values()
                .map(|s| crate::buildkit::session::start(&address, channel.clone(), s)),
        )
        .await?;
        let sessions = Arc::new(sessions);
        let probe_session = sessions.values().next().map(|s| s.id.clone()).unwrap_or_default();
        let route = match gateway::probe(&channel, &probe_session).await {
            Ok(()) => Route::Gateway,
            Err(why) => {
                notes.push(format!(
                    "BuildKit at {address}: {why}; each target is solved on its own, and a child waits for its parent's image"
                ));
                Route::PerTarget
            }
        };
        if route == Route::PerTarget && export == Export::None && has_children {
            return Err(Error::usage_with_help(
                format!(
                    "a child cannot be built on its parent without --push: {address} cannot chain them in one graph and has no image store to keep the parent in"
                ),
                "pass --push (the child then builds on the pushed parent), or build against docker://",
            ));
        }
        for note in &notes {
            progress.note(note);
        }
        let responses = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
        let start = |name: String,
                     parent: Option<ParentResult>,
                     mut defined: schedule::Defined<ParentResult>,
                     settled: schedule::Settled| {
            let channel = channel.clone();
            let progress = progress.clone();
            let prepared = prepared.clone();
            let responses = responses.clone();
            let session = sessions[&name].id.clone();
            async move {
                let p = &prepared[&name];
                let build_ref = new_id();
                progress.started(&name);
                let status = watch(&channel, &progress, &name, &build_ref);
                // Set when this target was built but not exported because its parent failed.
                let parent_failed = std::sync::atomic::AtomicBool::new(false);
                let result = match route {
                    Route::Gateway => {
                        let mut attrs = p.in_graph.frontend_attrs.clone();
                        let mut inputs = BTreeMap::new();
                        if let (Some((from, parent_name)), Some(ParentResult::InGraph(result))) =
                            (&p.chain, &parent)
                        {
                            gateway::chain_to(&mut attrs, &mut inputs, from, parent_name, result);
                        }
                        let bridge = gateway::bridge_request(&p.in_graph, &attrs, inputs);
                        let control = gateway::control_request(&p.in_graph, &build_ref, &session);
                        // Built while the parent may still be exporting; exported only once the
                        // parent has been (see `gateway::solve`).
                        let before_export = async {
                            settled.wait().await.inspect_err(|_| {
                                parent_failed.store(true, std::sync::atomic::Ordering::Relaxed)
                            })
                        };
                        gateway::solve(
                            &channel,
                            control,
                            bridge,
                            |d| defined.send(ParentResult::InGraph(d)),
                            before_export,
                        )
                        .await
                    }
                    Route::PerTarget => {
                        // Started once the parent succeeded: its image is in place.
                        let mut spec = p.exported.clone();
                        if let (Some((from, _)), Some(ParentResult::Pushed(pinned))) =
                            (&p.chain, &parent)
                        {
                            spec.frontend_attrs.insert(
                                format!("context:{from}"),
                                format!("docker-image://{pinned}"),
                            );
                        }
                        let request = solve::request(&spec, &build_ref, &session, BTreeMap::new());
                        ControlClient::new(channel)
                            .max_decoding_message_size(64 << 20)
                            .max_encoding_message_size(64 << 20)
                            .solve(request)
                            .await
                            .map(|r| r.into_inner().exporter_response.into_iter().collect())
                            .map_err(|s| s.message().to_string())
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(2), status).await;
                let result = result.map(|response: gateway::ExporterResponse| {
                    // A child pushed by digest finds its parent by that digest (it has no tag).
                    if route == Route::PerTarget
                        && export == Export::PushByDigest
                        && let Some(d) = response.get("containerimage.digest")
                    {
                        defined.send(ParentResult::Pushed(format!("{}@{d}", p.image_name)));
                    }
                    responses
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(name.clone(), response);
                });
                let outcome = match (&result, parent.as_ref().and(p.chain.as_ref())) {
                    (Ok(()), _) => Outcome::Succeeded {
                        duration: Duration::ZERO,
                    },
                    (Err(_), Some((_, parent_name)))
                        if parent_failed.load(std::sync::atomic::Ordering::Relaxed) =>
                    {
                        Outcome::Skipped {
                            because: parent_name.clone(),
                        }
                    }
                    (Err(e), _) => Outcome::Failed {
                        duration: Duration::ZERO,
                        error: e.clone(),
                    },
                };
                progress.finished(&name, &outcome);
                result
            }
        };
        let outcomes = schedule::run(&jobs, cmd.jobs, start).await;
        let responses = std::mem::take(&mut *responses.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(path) = &cmd.metadata_file {
            write_metadata(path, &responses)?;
        }
        Ok((outcomes, notes))
    })?;
    let _ = notes;

    let summary = progress.summary(&outcomes, &order);
    eprint!("{summary}");
    let failed: Vec<&String> = order
        .iter()
        .filter(|n| matches!(outcomes.get(*n), Some(Outcome::Failed { .. })))
        .collect();
    let skipped = order
        .iter()
        .filter(|n| matches!(outcomes.get(*n), Some(Outcome::Skipped { .. })))
        .count();
    if !failed.is_empty() {
        return Err(Error::Build {
            message: format!(
                "{} target(s) failed ({}), {skipped} skipped because of them, {} succeeded",
                failed.len(),
                failed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                order.len() - failed.len() - skipped
            ),
        });
    }
    printer.status(&format!(
        "built {} target(s) in {:.1}s",
        order.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
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

/// Writes the exporter responses of the targets that were exported, keyed by target, as
/// `docker buildx bake --metadata-file` does (what `stackplan publish --metadata` reads).
/// Written whole, also when some target failed: publish refuses a file that lacks one.
fn write_metadata(
    path: &Path,
    responses: &BTreeMap<String, gateway::ExporterResponse>,
) -> Result<()> {
    let mut text = serde_json::to_string_pretty(responses).expect("plain data");
    text.push('\n');
    crate::fs::write_atomic(path, &text)
}

/// Follows the status stream of the build `build_ref` into `progress`, in the background.
fn watch(
    channel: &tonic::transport::Channel,
    progress: &Arc<Progress>,
    name: &str,
    build_ref: &str,
) -> tokio::task::JoinHandle<()> {
    let mut client = ControlClient::new(channel.clone());
    let progress = progress.clone();
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
                    while let Some(Ok(s)) = stream.next().await {
                        progress.status(&name, &s);
                    }
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
}
