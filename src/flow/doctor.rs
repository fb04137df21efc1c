//! The doctor flow (`stackplan doctor`): whether this machine has what stackplan's flows
//! need — git, the docker CLI and its engine, buildx and its builder, a BuildKit address,
//! registry credentials — each with the fix when it is missing.
//!
//! It owns the probes of the tools stackplan runs (git, docker, buildx: run as commands,
//! each within a timeout) and the report (text for people, JSON for scripts). Stackplan's
//! own adapters it checks through them: BuildKit through [`connect::check_workers`], the
//! check `stackplan build` starts with; the Docker config through
//! [`credentials::configured`], which never reads a secret: only registry names, helper
//! names and whether each helper is installed are reported. What the default flow
//! (`stackplan > bake.json && docker buildx bake -f bake.json`) cannot do without is a
//! failure; what only another flow needs (`stackplan build`'s BuildKit address, a login
//! before pushing) is a warning.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::types::WorkerRecord;
use serde::Serialize;

use crate::buildkit::address::{Address, Tls};
use crate::buildkit::connect;
use crate::error::Result;
use crate::registry::credentials::{self, Configured};
use crate::session::Session;

/// How long one probe (a `docker` command, a BuildKit call) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Missing or broken, but the default flow works without it.
    Warn,
    /// The default flow cannot work until it is fixed.
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    /// What was found (versions, paths, registry names; never a secret).
    pub detail: String,
    /// What to do about it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn not_ok(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub version: &'static str,
    /// Whether everything the default flow needs works.
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// What the probes look at; the CLI fills it from flags and the environment.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    /// The directory stackplan would run in.
    pub dir: PathBuf,
    /// The images folder, relative to the repository root.
    pub images: String,
    /// `--addr` / `$BUILDKIT_HOST`, when given.
    pub buildkit_addr: Option<String>,
}

impl Report {
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect()
    }

    pub fn render_text(&self) -> String {
        let mut out = format!("stackplan {}\n", self.version);
        for c in &self.checks {
            let status = match c.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            out.push_str(&format!("{status:<5} {:<12} {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("{:<18} fix: {fix}\n", ""));
            }
        }
        out.push_str(if self.ok {
            "the default flow (stackplan > bake.json && docker buildx bake -f bake.json) can run here\n"
        } else {
            "the default flow (stackplan > bake.json && docker buildx bake -f bake.json) cannot run here until the FAIL lines are fixed\n"
        });
        out
    }

    pub fn render_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report serializes");
        text.push('\n');
        text
    }
}

/// Runs every probe on the session's runtime.
pub fn run(session: &Session, probe: &Probe) -> Result<Report> {
    let checks = session.block_on(checks(probe))?;
    Ok(Report {
        version: env!("STACKPLAN_VERSION"),
        ok: checks.iter().all(|c| c.status != Status::Fail),
        checks,
    })
}

async fn checks(probe: &Probe) -> Vec<Check> {
    let mut checks = vec![git().await];
    if checks[0].status == Status::Ok {
        checks.push(repository(probe).await);
    }
    let docker_cli = which::which("docker").ok();
    let buildx = match &docker_cli {
        Some(_) => Some(buildx().await),
        None => None,
    };
    let engine_needed = buildx.as_ref().is_none_or(|b| b.driver == "docker");
    checks.push(docker(docker_cli.as_deref(), engine_needed).await);
    checks.push(match buildx {
        Some(b) => b.check,
        None => Check::not_ok(
            "buildx",
            Status::Fail,
            "needs the docker CLI, which is not on PATH",
            "install the docker CLI and its buildx plugin (Debian: docker.io and docker-buildx; GitHub Actions: docker/setup-buildx-action)",
        ),
    });
    checks.push(buildkit(probe.buildkit_addr.as_deref()).await);
    checks.push(credentials());
    checks
}

/// A command's outcome: `None` when it could not be started, else success and output.
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run_cmd(program: &str, args: &[&str], dir: Option<&Path>) -> Option<Ran> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().ok()?;
    match tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => Some(Ran {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        Ok(Err(_)) => None,
        Err(_) => Some(Ran {
            success: false,
            stdout: String::new(),
            stderr: format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        }),
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

async fn git() -> Check {
    match run_cmd("git", &["--version"], None).await {
        Some(r) if r.success => Check::ok("git", r.stdout),
        _ => Check::not_ok(
            "git",
            Status::Fail,
            "git is not on PATH",
            "install git (Debian/Ubuntu: apt-get install git; macOS: xcode-select --install): stackplan reads the change set with it",
        ),
    }
}

async fn repository(probe: &Probe) -> Check {
    const NAME: &str = "repository";
    let Some(r) = run_cmd("git", &["rev-parse", "--show-toplevel"], Some(&probe.dir)).await else {
        return Check::not_ok(NAME, Status::Fail, "git did not run", "reinstall git");
    };
    if !r.success {
        if r.stderr.contains("dubious ownership") {
            return Check::not_ok(
                NAME,
                Status::Fail,
                format!(
                    "git refuses {}: it belongs to another user (dubious ownership)",
                    probe.dir.display()
                ),
                format!(
                    "git config --global --add safe.directory {} (in a container: '*')",
                    probe.dir.display()
                ),
            );
        }
        return Check::not_ok(
            NAME,
            Status::Warn,
            format!("{} is not in a git repository", probe.dir.display()),
            "run stackplan in your stack's checkout (or give -C DIR); in CI check out with history (actions/checkout: fetch-depth: 0)",
        );
    }
    let root = PathBuf::from(&r.stdout);
    let spec = root.join(&probe.images).join("spec.yml");
    let shallow = run_cmd(
        "git",
        &["rev-parse", "--is-shallow-repository"],
        Some(&root),
    )
    .await
    .is_some_and(|r| r.stdout == "true");
    if !spec.is_file() {
        return Check::not_ok(
            NAME,
            Status::Warn,
            format!("{}: no {}/spec.yml", root.display(), probe.images),
            "run stackplan at the root of a stack repository (or give --images DIR)",
        );
    }
    if shallow {
        return Check::not_ok(
            NAME,
            Status::Warn,
            format!(
                "{} is a shallow clone: the merge-base with the default branch may be missing",
                root.display()
            ),
            "fetch the history (actions/checkout: fetch-depth: 0, or git fetch --unshallow)",
        );
    }
    Check::ok(
        NAME,
        format!("{} ({}/spec.yml)", root.display(), probe.images),
    )
}

async fn docker(cli: Option<&Path>, engine_needed: bool) -> Check {
    const NAME: &str = "docker";
    let Some(cli) = cli else {
        return Check::not_ok(
            NAME,
            Status::Fail,
            "the docker CLI is not on PATH",
            "install the docker CLI (Debian: docker.io; elsewhere docs.docker.com/engine/install), or use `stackplan build --addr`, which needs no docker CLI",
        );
    };
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default socket".into());
    let server = run_cmd(
        &cli.to_string_lossy(),
        &["version", "--format", "{{.Server.Version}}"],
        None,
    )
    .await;
    match server {
        Some(r) if r.success && !r.stdout.is_empty() => {
            Check::ok(NAME, format!("engine {} at {host}", r.stdout))
        }
        other => {
            let why = other
                .map(|r| first_line(&r.stderr).to_string())
                .unwrap_or_else(|| "the docker CLI did not run".into());
            Check::not_ok(
                NAME,
                if engine_needed {
                    Status::Fail
                } else {
                    Status::Warn
                },
                format!("no engine answers at {host}: {why}"),
                if engine_needed {
                    "start the Docker engine or point DOCKER_HOST at one; or select a builder that needs no engine (docker buildx use <remote builder>)"
                } else {
                    "only needed for the docker driver and docker:// addresses: the current builder needs no engine"
                },
            )
        }
    }
}

struct Buildx {
    check: Check,
    /// The current builder's driver (`docker`, `docker-container`, `remote`, ...), or
    /// empty when unknown.
    driver: String,
}

async fn buildx() -> Buildx {
    const NAME: &str = "buildx";
    let version = run_cmd("docker", &["buildx", "version"], None).await;
    let version = match version {
        Some(r) if r.success => r.stdout,
        _ => {
            return Buildx {
                check: Check::not_ok(
                    NAME,
                    Status::Fail,
                    "the buildx plugin is missing (`docker buildx version` fails)",
                    "install buildx (Debian: docker-buildx; a binary in ~/.docker/cli-plugins/docker-buildx; GitHub Actions: docker/setup-buildx-action)",
                ),
                driver: String::new(),
            };
        }
    };
    let inspect = run_cmd("docker", &["buildx", "inspect"], None).await;
    let field = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    match inspect {
        Some(r) if r.success => {
            let name = field(&r.stdout, "Name:");
            let driver = field(&r.stdout, "Driver:");
            let mut detail = format!("{version}; builder {name} (driver {driver})");
            if driver == "docker" {
                detail.push_str("; push-by-digest needs a docker-container or remote builder");
            }
            Buildx {
                check: Check::ok(NAME, detail),
                driver,
            }
        }
        other => Buildx {
            check: Check::not_ok(
                NAME,
                Status::Fail,
                format!(
                    "{version}; the current builder does not answer: {}",
                    other
                        .map(|r| first_line(&r.stderr).to_string())
                        .unwrap_or_default()
                ),
                "select a working builder: docker buildx ls, then docker buildx use NAME (or docker buildx create --use)",
            ),
            driver: String::new(),
        },
    }
}

async fn buildkit(addr: Option<&str>) -> Check {
    const NAME: &str = "buildkit";
    let given = addr.is_some();
    let addr = addr.unwrap_or("docker://");
    let address = match Address::parse(addr, Tls::default()) {
        Ok(a) => a,
        Err(e) => {
            return Check::not_ok(
                NAME,
                Status::Fail,
                format!("{addr}: {e}"),
                e.help().unwrap_or("fix BUILDKIT_HOST").to_string(),
            );
        }
    };
    let answer = tokio::time::timeout(PROBE_TIMEOUT, workers(&address)).await;
    let (status, fix) = if given {
        (
            Status::Fail,
            "start the BuildKit daemon, or fix BUILDKIT_HOST / --addr (tcp://HOST:PORT, unix:///path, docker://)",
        )
    } else {
        (
            Status::Warn,
            "only `stackplan build` needs it: set BUILDKIT_HOST (or --addr) to a buildkitd, or start the Docker engine for docker://",
        )
    };
    match answer {
        Ok(Ok(platforms)) => Check::ok(
            NAME,
            format!(
                "{address}{} answers ({platforms})",
                if given { "" } else { " (default)" }
            ),
        ),
        Ok(Err(e)) => Check::not_ok(NAME, status, format!("{address}: {e}"), fix),
        Err(_) => Check::not_ok(
            NAME,
            status,
            format!("{address}: no answer within {} s", PROBE_TIMEOUT.as_secs()),
            fix,
        ),
    }
}

/// The platforms of the daemon's workers, or why it could not be asked.
async fn workers(address: &Address) -> Result<String> {
    let channel = connect::channel(address).await?;
    let workers = connect::check_workers(&channel, address).await?;
    Ok(platforms(&workers))
}

/// The workers' platforms (`linux/amd64, linux/arm64`), or how many workers there are when
/// they name none.
fn platforms(workers: &[WorkerRecord]) -> String {
    let mut platforms: Vec<String> = workers
        .iter()
        .flat_map(|w| &w.platforms)
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect();
    platforms.dedup();
    match platforms.len() {
        0 => format!("{} workers", workers.len()),
        _ => platforms.join(", "),
    }
}

fn credentials() -> Check {
    const NAME: &str = "credentials";
    const LOGIN: &str = "docker login REGISTRY before pushing (GitHub Actions: docker/login-action); anonymous access is enough to plan and to build without --push";
    let Some(path) = credentials::config_path() else {
        return Check::not_ok(NAME, Status::Warn, "no HOME and no DOCKER_CONFIG", LOGIN);
    };
    let config = match credentials::configured(&path) {
        Ok(Some(config)) => config,
        Ok(None) => {
            return Check::not_ok(
                NAME,
                Status::Warn,
                format!("no {}: registries are used anonymously", path.display()),
                LOGIN,
            );
        }
        Err(e) => {
            return Check::not_ok(
                NAME,
                Status::Fail,
                e.to_string(),
                e.help().unwrap_or_default().to_string(),
            );
        }
    };
    let Configured {
        logins,
        store,
        helpers,
    } = config;
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    if !logins.is_empty() {
        parts.push(format!("logins for {}", logins.join(", ")));
    }
    if let Some(store) = store {
        let helper = credentials::helper_program(&store);
        if which::which(&helper).is_ok() {
            parts.push(format!("credsStore {store} ({helper} found)"));
        } else {
            missing.push(format!("credsStore {store}: {helper} is not on PATH"));
        }
    }
    for (registry, helper) in helpers {
        let program = credentials::helper_program(&helper);
        if which::which(&program).is_ok() {
            parts.push(format!("{registry} through {program}"));
        } else {
            missing.push(format!("credHelpers {registry}: {program} is not on PATH"));
        }
    }
    if !missing.is_empty() {
        return Check::not_ok(
            NAME,
            Status::Fail,
            format!("{}: {}", path.display(), missing.join("; ")),
            "install the helper, or remove it from the config (every registry lookup, even anonymous, goes through it)",
        );
    }
    if parts.is_empty() {
        return Check::not_ok(
            NAME,
            Status::Warn,
            format!("{}: no registry logins", path.display()),
            LOGIN,
        );
    }
    Check::ok(NAME, format!("{}: {}", path.display(), parts.join("; ")))
}
