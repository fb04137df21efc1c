//! The command line: clap definitions and what each command does with the library.
//!
//! Kept in the library so docs, man pages and completions are generated from the same
//! definitions the binary parses.

mod build;
mod init;
mod inputs;
mod manifests;
mod output;
mod promote;
mod reuse;
mod test_result;
mod timings;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::emit;
use crate::error::Result;
use crate::plan::CacheTo;

pub use output::{Printer, print_error};

/// Plan builds of a stack of Docker images and hand them to BuildKit.
///
/// stackplan reads images/spec.yml and the git change set, decides which images rebuild
/// (changed images and all their descendants) and why, and emits a docker-bake file:
///
///   stackplan > bake.json && docker buildx bake -f bake.json
///
/// Run it at the root of the repository that holds images/. Without a command it runs
/// `stackplan bake`.
#[derive(Debug, Parser)]
#[command(
    name = "stackplan",
    version = env!("STACKPLAN_VERSION"),
    args_conflicts_with_subcommands = true
)]
#[command(
    after_help = "Exit status: 0 on success, 2 for invalid input or usage, 1 when the environment or a build fails."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub bake: BakeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the docker-bake JSON file for the plan (the default command).
    Bake(BakeArgs),
    /// Build the plan with a BuildKit daemon over its gRPC API (tcp, unix or the Docker engine).
    Build(build::BuildCmd),
    /// Show what rebuilds and why, as a tree or as JSON.
    Plan(PlanCmd),
    /// Draw the stack's DAG (Graphviz DOT or Mermaid), rebuilt targets marked.
    Graph(GraphCmd),
    /// Validate the spec, change_ignore.json, every Dockerfile and every build context; plan
    /// nothing.
    Check(CheckCmd),
    /// Write a first images/spec.yml inferred from the Dockerfiles of an existing images folder.
    Init(init::InitCmd),
    /// Write the tags of targets whose inputs were built already, registry-side (no build).
    Reuse(reuse::ReuseCmd),
    /// Give every image of the stack a new tag, registry-side (manifest copy, no layer moves).
    Promote(promote::PromoteCmd),
    /// Move the tags of a `--push-by-digest` build, all or nothing, once every target pushed.
    Publish(promote::PublishCmd),
    /// Render the image manifests (info_cmds outputs) as markdown pages.
    Manifests(manifests::ManifestsCmd),
    /// Print the GitHub Actions matrix of rebuilt targets and their test folders.
    Matrix(MatrixCmd),
    /// Record in the registry that a target's current image passed or failed its tests.
    ///
    /// The record is an OCI artifact whose subject is the image its branch tag points at now,
    /// holding an in-toto test-result statement for the target's tests digest (docs/tests.md).
    /// `matrix` leaves out images that passed their current tests; `promote --require-tests`
    /// moves only those.
    TestResult(test_result::TestResultCmd),
    /// Say whether git, docker, buildx, BuildKit and registry credentials are there and work.
    Doctor(DoctorCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsCmd),
    /// Print the man page (roff): `stackplan man > stackplan.1`.
    Man,
}

/// Where the stack is.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Stack")]
pub struct StackArgs {
    /// Repository root; outputs use paths relative to it [default: the git top level of the
    /// current directory]
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The images folder, relative to the repository root.
    #[arg(long, value_name = "DIR", default_value = "images")]
    pub images: String,

    /// The spec file, relative to the repository root [default: <images>/spec.yml]
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// Treat warnings (unknown spec keys, FROM lines that do not follow the parent) as errors.
    #[arg(long)]
    pub strict: bool,
}

/// What changed and how the images are named.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub stack: StackArgs,

    /// Compare against this revision [default: the merge-base of head with origin/<default
    /// branch>, else <default branch>]
    #[arg(long, value_name = "REV", help_heading = "Change set")]
    pub base: Option<String>,

    /// Compare up to this revision [default: the working tree, with uncommitted and
    /// untracked files]
    #[arg(long, value_name = "REV", help_heading = "Change set")]
    pub head: Option<String>,

    /// The branch the default base is computed against.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "main",
        help_heading = "Change set"
    )]
    pub default_branch: String,

    /// A changed file, relative to the repository root; replaces git (repeatable).
    #[arg(long, value_name = "PATH", help_heading = "Change set")]
    pub changed: Vec<String>,

    /// Read changed files, one per line, from FILE (`-` for standard input); replaces git.
    #[arg(long, value_name = "FILE", help_heading = "Change set")]
    pub changed_from: Option<PathBuf>,

    /// Rebuild everything.
    #[arg(long, help_heading = "Change set")]
    pub full: bool,

    /// A branch on which everything rebuilds (repeatable).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "main",
        help_heading = "Change set"
    )]
    pub full_rebuild_branch: Vec<String>,

    /// The branch for tags [default: $GITHUB_HEAD_REF, else $GITHUB_REF_NAME, else git's
    /// current branch]
    #[arg(long, value_name = "NAME", help_heading = "Tags and cache")]
    pub branch: Option<String>,

    /// Rewrite where every image_name lives: HOST, or HOST/NAMESPACE (forks, local tests).
    #[arg(long, value_name = "HOST[/NAMESPACE]", help_heading = "Tags and cache")]
    pub registry: Option<String>,

    /// Set a build arg for every target (repeatable); below BASE_TAG/BASE_IMAGE, above the
    /// spec's build args.
    #[arg(long, value_name = "K=V", value_parser = parse_key_value, help_heading = "Tags and cache")]
    pub build_arg: Vec<(String, String)>,

    /// The platform (OS/ARCH[/VARIANT]) images without `platforms` in the spec are built
    /// for: part of their inputs digest, and written into the bake file and the build, so
    /// an amd64 runner and an arm64 laptop never share a digest. Images that list
    /// `platforms` keep them [default: this machine's, linux/<arch>: linux/amd64 on x86_64,
    /// linux/arm64 on aarch64]
    #[arg(long, env = "STACKPLAN_PLATFORM", value_name = "OS/ARCH", value_parser = parse_platform, help_heading = "Tags and cache")]
    pub platform: Option<String>,

    /// Plan only this plan (track) of the spec.
    #[arg(long = "plan", value_name = "NAME", help_heading = "Tags and cache")]
    pub only_plan: Option<String>,

    /// Where the build cache goes.
    #[arg(long, value_enum, default_value_t = CacheTo::Inline, value_name = "KIND", help_heading = "Tags and cache")]
    pub cache_to: CacheTo,

    /// Make no network calls: the registry state is unknown and every cache source is
    /// listed. Without it, stackplan asks the registry which tags exist.
    #[arg(long, env = "STACKPLAN_OFFLINE", value_parser = clap::builder::FalseyValueParser::new(), help_heading = "Registry")]
    pub offline: bool,

    /// Ask the registry which tags exist (the default unless --offline): a missing branch tag
    /// rebuilds the image, and cache-from lists only refs that exist.
    #[arg(long, conflicts_with = "offline", help_heading = "Registry")]
    pub registry_probe: bool,

    /// A registry reached over plain HTTP (repeatable); loopback registries always are.
    #[arg(long, value_name = "HOST", help_heading = "Registry")]
    pub insecure_registry: Vec<String>,

    /// The time this run may spend waiting to retry registry requests (throttled, or a
    /// gateway briefly down) before it gives up.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        help_heading = "Registry"
    )]
    pub registry_retry_budget: humantime::Duration,

    /// Commit for the OCI `revision` label; empty for none [default: the head commit]
    #[arg(long, value_name = "REV", help_heading = "Tags and cache")]
    pub revision: Option<String>,

    /// URL for the OCI `source` label [default: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY, else
    /// git's origin]
    #[arg(long, value_name = "URL", help_heading = "Tags and cache")]
    pub source_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BakeArgs {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// Push every target's tags to its registry as it finishes (`output: type=registry`).
    #[arg(long, help_heading = "Output", conflicts_with = "push_by_digest")]
    pub push: bool,

    /// Push by digest only and move no tag; publish the tags afterwards with `stackplan publish`.
    #[arg(long, help_heading = "Output")]
    pub push_by_digest: bool,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Add a `<target>-manifest` target per rebuilt image that runs its info_cmds on top of
    /// it and exports their outputs to <manifests-dir>/<image>/<tag>/.
    #[arg(long, help_heading = "Output")]
    pub manifests: bool,

    /// Where the manifest targets write (relative to the repository root).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "artifacts/manifests",
        help_heading = "Output"
    )]
    pub manifests_dir: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// A tree for people.
    Text,
    /// The JSON contract (docs/plan-json.md).
    Json,
    /// A markdown table (for $GITHUB_STEP_SUMMARY).
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct PlanCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    #[arg(long, value_enum, default_value_t = PlanFormat::Text, help_heading = "Output")]
    pub format: PlanFormat,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Args)]
pub struct GraphCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    #[arg(long, value_enum, default_value_t = GraphFormat::Dot, help_heading = "Output")]
    pub format: GraphFormat,

    /// Write to FILE (whole, or not at all) instead of standard output.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MatrixCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// Also append `matrix=<json>`, `has_targets`, `has_builds` and `has_tests`
    /// (`true|false`) to this file [default: $GITHUB_OUTPUT when set]
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "", help_heading = "Output")]
    pub github_output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsCmd {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DoctorFormat {
    /// One line per check, with the fix under it.
    Text,
    /// `{"version", "ok", "checks": [{"name", "status", "detail", "fix"}]}` for scripts.
    Json,
}

/// Checks what stackplan's flows need on this machine, with the fix for each missing piece.
///
/// Exit status 0 when the default flow (`stackplan > bake.json && docker buildx bake -f
/// bake.json`) can run, 1 otherwise. What only another flow needs (a BuildKit address for
/// `stackplan build`, registry logins before `--push`) is a warning. Credentials are never
/// printed: only registry and helper names.
#[derive(Debug, Clone, Args)]
pub struct DoctorCmd {
    /// Repository root [default: the current directory]
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The images folder, relative to the repository root.
    #[arg(long, value_name = "DIR", default_value = "images")]
    pub images: String,

    /// The BuildKit daemon `stackplan build` would use [default: docker://, the engine's]
    #[arg(long, env = "BUILDKIT_HOST", value_name = "ADDR")]
    pub addr: Option<String>,

    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

#[derive(Debug, Clone, Args)]
pub struct CheckCmd {
    #[command(flatten)]
    pub stack: StackArgs,
}

fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not K=V")),
    }
}

fn parse_platform(s: &str) -> std::result::Result<String, String> {
    crate::plan::platform::check(s).map(|()| s.to_string())
}

/// Runs the parsed command line; the binary turns the error into a message and exit code.
pub fn run(cli: Cli, printer: &mut Printer) -> Result<()> {
    timings::mark("");
    match cli.command {
        None => bake(cli.bake, printer),
        Some(Command::Bake(args)) => bake(args, printer),
        Some(Command::Plan(cmd)) => {
            // Only the JSON shows the digests of unpinned inputs.
            let digests = match cmd.format {
                PlanFormat::Json => inputs::Digests::All,
                PlanFormat::Text | PlanFormat::Markdown => inputs::Digests::Pinned,
            };
            let plan = inputs::make_plan(&cmd.plan, digests, printer)?;
            let written = match cmd.format {
                // Written as it is made: a large plan is never held whole as text.
                PlanFormat::Json => printer.product_with(cmd.output.as_deref(), |out| {
                    emit::plan_json::write(&plan, out)
                }),
                PlanFormat::Text => {
                    printer.product(&emit::plan_text::render(&plan), cmd.output.as_deref())
                }
                PlanFormat::Markdown => {
                    printer.product(&emit::plan_markdown::render(&plan), cmd.output.as_deref())
                }
            };
            end_of_run(plan);
            written
        }
        Some(Command::Graph(cmd)) => {
            let plan = inputs::make_plan(&cmd.plan, inputs::Digests::Pinned, printer)?;
            let text = match cmd.format {
                GraphFormat::Dot => emit::graph::dot(&plan),
                GraphFormat::Mermaid => emit::graph::mermaid(&plan),
            };
            printer.product(&text, cmd.output.as_deref())
        }
        Some(Command::Matrix(cmd)) => matrix(cmd, printer),
        Some(Command::TestResult(cmd)) => test_result::run(cmd, printer),
        Some(Command::Init(cmd)) => init::run(cmd, printer),
        Some(Command::Build(cmd)) => build::build(cmd, printer),
        Some(Command::Promote(cmd)) => promote::promote(cmd, printer),
        Some(Command::Reuse(cmd)) => reuse::reuse(cmd, printer),
        Some(Command::Manifests(cmd)) => manifests::run(cmd, printer),
        Some(Command::Publish(cmd)) => promote::publish(cmd, printer),
        Some(Command::Doctor(cmd)) => doctor(cmd, printer),
        Some(Command::Completions(cmd)) => {
            let mut out = Vec::new();
            clap_complete::generate(
                cmd.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "stackplan",
                &mut out,
            );
            printer.product(&String::from_utf8_lossy(&out), None)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| crate::Error::io("cannot render", "the man page", e))?;
            printer.product(&String::from_utf8_lossy(&out), None)
        }
        Some(Command::Check(cmd)) => {
            let stack = inputs::load_with_contexts(&cmd.stack, printer)?;
            printer.status(&format!(
                "ok: {} images, {} plans, {} roots; every Dockerfile and build context read",
                stack.spec.images.len(),
                stack.spec.plans.len(),
                stack.spec.roots.len()
            ));
            Ok(())
        }
    }
}

fn doctor(cmd: DoctorCmd, printer: &mut Printer) -> Result<()> {
    let dir = match cmd.repo {
        Some(dir) => dir,
        None => std::env::current_dir()
            .map_err(|e| crate::Error::io("cannot read", "the current directory", e))?,
    };
    let report = crate::doctor::run(&crate::doctor::Probe {
        dir,
        images: cmd.images,
        buildkit_addr: cmd.addr.filter(|a| !a.is_empty()),
    });
    let text = match cmd.format {
        DoctorFormat::Text => report.render_text(),
        DoctorFormat::Json => report.render_json(),
    };
    printer.product(&text, None)?;
    let failed = report.failed();
    if failed.is_empty() {
        return Ok(());
    }
    Err(crate::Error::Environment {
        message: format!(
            "{} of {} checks failed: {}",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        ),
        help: Some("each FAIL line says how to fix it".into()),
    })
}

fn matrix(cmd: MatrixCmd, printer: &mut Printer) -> Result<()> {
    let (plan, root) = inputs::make_plan_at(&cmd.plan, inputs::Digests::Pinned, printer)?;
    let images_dir = crate::change_set::normalize(&cmd.plan.stack.images);
    let mut m = emit::matrix::matrix(&plan, &images_dir, |p| root.join(p).is_dir());
    if plan.registry_probed {
        let tested = test_result::tested(&plan, &root, &images_dir, &m, &cmd.plan, printer)?;
        emit::matrix::leave_out(&mut m, &tested);
    }
    let github_output = match &cmd.github_output {
        Some(p) if p.as_os_str().is_empty() => match std::env::var_os("GITHUB_OUTPUT") {
            Some(v) => Some(PathBuf::from(v)),
            None => {
                return Err(crate::Error::usage_with_help(
                    "--github-output without a FILE needs $GITHUB_OUTPUT",
                    "give the file: --github-output FILE",
                ));
            }
        },
        other => other.clone(),
    };
    if let Some(path) = github_output {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| crate::Error::io("cannot open", &path, e))?;
        f.write_all(emit::matrix::github_output(&m).as_bytes())
            .map_err(|e| crate::Error::io("cannot write", &path, e))?;
    }
    let mut text = emit::matrix::render(&m);
    text.push('\n');
    printer.product(&text, None)
}

fn bake(args: BakeArgs, printer: &mut Printer) -> Result<()> {
    let plan = inputs::make_plan(&args.plan, inputs::Digests::Pinned, printer)?;
    let output = if args.push {
        emit::bake::Output::Push
    } else if args.push_by_digest {
        emit::bake::Output::PushByDigest
    } else {
        emit::bake::Output::Default
    };
    let options = emit::bake::BakeOptions {
        output,
        manifests: args.manifests.then(|| args.manifests_dir.clone()),
    };
    let (build, reuse, _) = plan.action_counts();
    printer.status(&format!(
        "{build} of {} targets build (group `default`){}",
        plan.targets.len(),
        if reuse > 0 {
            format!("; {reuse} are reused from images with the same inputs: run `stackplan reuse` with the same flags to write their tags")
        } else {
            String::new()
        }
    ));
    let written = printer.product_with(args.output.as_deref(), |out| {
        emit::bake::write(&plan, &options, out)
    });
    timings::mark("bake json");
    end_of_run(plan);
    written
}

/// A value the command has finished with, left for the OS to take back when the process
/// exits, which it does next: freeing a plan of 10,000 targets piece by piece costs more
/// than writing its bake file (measured on the 5,000-image stack).
pub(crate) fn end_of_run<T>(value: T) {
    std::mem::forget(value);
}
