//! `stackplan build`: the plan built by a BuildKit daemon over its gRPC API (no docker CLI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{ListWorkersRequest, StatusRequest};
use bollard_buildkit_proto::pb::Definition;
use clap::Args;
use futures::StreamExt;

use super::{PlanArgs, Printer, inputs};
use crate::buildkit::address::{Address, Tls};
use crate::buildkit::connect;
use crate::buildkit::llb::{self, Entry};
use crate::buildkit::progress::{Mode, Progress};
use crate::buildkit::schedule::{self, Job, Outcome};
use crate::buildkit::session::{SessionInfo, new_id};
use crate::buildkit::solve::{self, Export, SolveSpec};
use crate::error::{Error, Result};
use crate::plan::Plan;

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
    #[arg(long, help_heading = "BuildKit")]
    pub push: bool,

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

    /// Print the solve requests as JSON and send nothing.
    #[arg(long, help_heading = "BuildKit")]
    pub dry_run: bool,
}

/// One target, ready to send.
struct Prepared {
    spec: SolveSpec,
    context: Definition,
    dockerfile: Definition,
}

fn read_folder(folder: &Path) -> Result<Vec<Entry>> {
    llb::read_folder(folder).map_err(|e| match e {
        llb::ReadError::Io(path, err) => Error::io("cannot read", path, err),
        llb::ReadError::TooLarge { bytes } => Error::usage_with_help(
            format!(
                "{} holds more than {} KiB of files ({bytes}+ bytes): too large to send inline",
                folder.display(),
                llb::MAX_INLINE_BYTES / 1024
            ),
            "keep large files out of the image folder (fetch them in a RUN step), or build with `stackplan bake` and buildx",
        ),
    })
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
        let context = read_folder(&folder)?;
        let dockerfile_path = folder.join(&t.dockerfile);
        let data = std::fs::read(&dockerfile_path)
            .map_err(|e| Error::io("cannot read", &dockerfile_path, e))?;
        let name = t
            .dockerfile
            .rsplit('/')
            .next()
            .unwrap_or(&t.dockerfile)
            .to_string();
        let dockerfile = vec![Entry::File {
            path: name,
            mode: 0o644,
            data,
        }];
        let spec = solve::spec(t, plan.cache_to, export, |host| {
            crate::registry::is_loopback(host) || insecure.iter().any(|h| h == host)
        });
        out.insert(
            t.name.clone(),
            Prepared {
                spec,
                context: llb::marshal_files(&context, &format!("context {}", t.context)),
                dockerfile: llb::marshal_files(
                    &dockerfile,
                    &format!("dockerfile {}", t.dockerfile),
                ),
            },
        );
    }
    Ok(out)
}

fn input_view(def: &Definition) -> solve::InputView {
    use prost::Message;
    let mut files = 0;
    let mut bytes = 0u64;
    for op in def
        .def
        .iter()
        .filter_map(|b| bollard_buildkit_proto::pb::Op::decode(b.as_slice()).ok())
    {
        if let Some(bollard_buildkit_proto::pb::op::Op::File(f)) = op.op {
            for a in f.actions {
                if let Some(bollard_buildkit_proto::pb::file_action::Action::Mkfile(m)) = a.action {
                    files += 1;
                    bytes += m.data.len() as u64;
                }
            }
        }
    }
    solve::InputView {
        ops: def.def.len(),
        files,
        bytes,
        digest: def.def.last().map(|b| llb::digest(b)).unwrap_or_default(),
    }
}

pub fn build(cmd: BuildCmd, printer: &mut Printer) -> Result<()> {
    let (plan, root) = inputs::make_plan_at(&cmd.plan, printer)?;
    let tls = Tls {
        ca: cmd.tls_ca.clone(),
        cert: cmd.tls_cert.clone(),
        key: cmd.tls_key.clone(),
        server_name: cmd.tls_server_name.clone(),
    };
    let address = Address::parse(&cmd.addr, tls)?;
    let export = if cmd.push {
        Export::Push
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
    if export == Export::None && jobs.iter().any(|j| j.parent.is_some()) {
        return Err(Error::usage_with_help(
            format!(
                "a child cannot be built on its parent without --push: {address} has no image store to keep the parent in"
            ),
            "pass --push (the child then builds on the pushed parent), or build against docker://",
        ));
    }
    let prepared = prepare(&plan, &root, export, &cmd.plan.insecure_registry)?;
    let order: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();

    if cmd.dry_run {
        let views: Vec<solve::DryRun> = jobs
            .iter()
            .map(|j| {
                let p = &prepared[&j.name];
                let inputs = BTreeMap::from([
                    ("context", input_view(&p.context)),
                    ("dockerfile", input_view(&p.dockerfile)),
                ]);
                solve::DryRun::new(&p.spec, j.parent.as_deref(), inputs)
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
        if cmd.push {
            super::promote::execute(
                reused,
                &inputs::registry(
                    &cmd.plan.insecure_registry,
                    cmd.plan.registry_retry_budget.into(),
                ),
                false,
                true,
                printer,
            )?;
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

    let progress = Arc::new(Progress::new(cmd.progress));
    let prepared = Arc::new(prepared);
    let started = std::time::Instant::now();
    let outcomes = inputs::runtime()?.block_on(async {
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
        .map_err(|s| Error::Build {
            message: format!("BuildKit at {address}: {}", s.message()),
        })?;
        if workers.into_inner().record.is_empty() {
            return Err(Error::Build {
                message: format!("BuildKit at {address} has no worker"),
            });
        }
        let session = SessionInfo::new();
        crate::buildkit::session::start(&address, channel.clone(), &session).await?;
        Ok(schedule::run(&jobs, cmd.jobs, |name| {
            let channel = channel.clone();
            let progress = progress.clone();
            let prepared = prepared.clone();
            let session = session.id.clone();
            async move {
                let p = &prepared[&name];
                let build_ref = new_id();
                let request = solve::request(
                    &p.spec,
                    &build_ref,
                    &session,
                    p.context.clone(),
                    p.dockerfile.clone(),
                );
                progress.started(&name);
                let status = {
                    let mut client = ControlClient::new(channel.clone());
                    let progress = progress.clone();
                    let name = name.clone();
                    let build_ref = build_ref.clone();
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
                };
                let result = ControlClient::new(channel)
                    .max_decoding_message_size(64 << 20)
                    .max_encoding_message_size(64 << 20)
                    .solve(request)
                    .await;
                let _ = tokio::time::timeout(Duration::from_secs(2), status).await;
                let result = result.map(|_| ()).map_err(|s| s.message().to_string());
                let outcome = match &result {
                    Ok(()) => Outcome::Succeeded {
                        duration: Duration::ZERO,
                    },
                    Err(e) => Outcome::Failed {
                        duration: Duration::ZERO,
                        error: e.clone(),
                    },
                };
                progress.finished(&name, &outcome);
                result
            }
        })
        .await)
    })?;

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
