//! `stackplan build`: the plan built by a BuildKit daemon over its gRPC API (no docker CLI),
//! through the build flow ([`crate::flow::build`]); its events rendered by
//! [`Progress`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{PlanArgs, Printer};
use crate::buildkit::address::Tls;
use crate::buildkit::progress::{self, Mode, Progress};
use crate::error::Result;
use crate::flow::build::{Build, BuildRequest, Push};
use crate::flow::tag_moves;

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

    #[arg(long, value_enum, default_value_t = ProgressMode::Auto, help_heading = "BuildKit")]
    pub progress: ProgressMode,

    /// Print the requests as JSON (each target's control solve and its gateway solve of the
    /// Dockerfile frontend) and send nothing.
    #[arg(long, help_heading = "BuildKit")]
    pub dry_run: bool,
}

/// How the build's progress is shown (`--progress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A live line per running target (a terminal), else plain.
    Auto,
    /// One line per finished step, on stderr.
    Plain,
    /// A live line per running target.
    Tty,
    /// One JSON object per event, on stdout.
    Json,
}

impl From<ProgressMode> for Mode {
    fn from(mode: ProgressMode) -> Mode {
        match mode {
            ProgressMode::Auto => Mode::Auto,
            ProgressMode::Plain => Mode::Plain,
            ProgressMode::Tty => Mode::Tty,
            ProgressMode::Json => Mode::Json,
        }
    }
}

impl BuildCmd {
    fn request(&self) -> BuildRequest {
        BuildRequest {
            plan: self.plan.request(),
            addr: self.addr.clone(),
            tls: Tls {
                ca: self.tls_ca.clone(),
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
                server_name: self.tls_server_name.clone(),
            },
            push: if self.push {
                Push::Tags
            } else if self.push_by_digest {
                Push::ByDigest
            } else {
                Push::No
            },
            insecure_registries: self.plan.insecure_registry.clone(),
            metadata_file: self.metadata_file.clone(),
            jobs: self.jobs,
        }
    }
}

pub fn build(cmd: BuildCmd, printer: &mut Printer) -> Result<()> {
    let session = cmd.plan.session();
    let build = Build::prepare(&session, &cmd.request(), printer)?;
    if cmd.dry_run {
        return printer.product(&build.dry_run()?, None);
    }
    // Targets reused from images with the same inputs are not solved: their tags are
    // written registry-side (with --push), and their children build on those images.
    let reused = crate::promote::reuse_moves(build.plan());
    if !reused.is_empty() {
        // With --push-by-digest no tag moves before `stackplan publish`: not even these.
        if cmd.push {
            super::promote::write_tags(reused, &session, tag_moves::Mode::Resume, printer)?;
        } else {
            printer.status(&format!(
                "{} target(s) have images with the same inputs already; their tags are written with --push or `stackplan reuse`",
                build.plan().to_reuse().count()
            ));
        }
    }
    if build.is_empty() {
        printer.status("nothing to build: every target is reused or kept");
        return Ok(());
    }
    let progress = Arc::new(Progress::new(cmd.progress.into()).with_parents(build.parents()));
    let built = build.run(&session, progress)?;
    printer.lines(&progress::summary(&built.outcomes, &built.order));
    built.check()?;
    printer.status(&format!(
        "built {} target(s) in {:.1}s",
        built.order.len(),
        built.elapsed.as_secs_f64()
    ));
    Ok(())
}
