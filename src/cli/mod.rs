//! The command line: clap definitions and what each command does with the library.
//!
//! Kept in the library so docs, man pages and completions are generated from the same
//! definitions the binary parses.

// The flags' doc comments are clap's help text, where `<NAME>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

mod args;
mod bake;
mod build;
mod doctor;
mod init;
mod manifests;
mod matrix;
mod output;
mod plan;
mod promote;
mod reuse;
mod test_result;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;
use crate::flow::planning;
use crate::session::Session;

pub use args::{CacheTo, PlanArgs, StackArgs};
pub use bake::BakeArgs;
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
    Plan(plan::PlanCmd),
    /// Draw the stack's DAG (Graphviz DOT or Mermaid), rebuilt targets marked.
    Graph(plan::GraphCmd),
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
    Matrix(matrix::MatrixCmd),
    /// Record in the registry that a target's current image passed or failed its tests.
    ///
    /// The record is an OCI artifact whose subject is the image its branch tag points at now,
    /// holding an in-toto test-result statement for the target's tests digest (docs/tests.md).
    /// `matrix` leaves out images that passed their current tests; `promote --require-tests`
    /// moves only those.
    TestResult(test_result::TestResultCmd),
    /// Say whether git, docker, buildx, BuildKit and registry credentials are there and work.
    Doctor(doctor::DoctorCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsCmd),
    /// Print the man page (roff): `stackplan man > stackplan.1`.
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsCmd {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct CheckCmd {
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Runs the parsed command line; the binary turns the error into a message and exit code,
/// and leaves what the command [`Finished`] with to the OS.
pub fn run(cli: Cli, printer: &mut Printer) -> Result<Finished> {
    match cli.command {
        None => bake::bake(cli.bake, printer),
        Some(Command::Bake(args)) => bake::bake(args, printer),
        Some(Command::Plan(cmd)) => plan::plan(cmd, printer),
        Some(Command::Graph(cmd)) => plan::graph(cmd, printer),
        Some(Command::Matrix(cmd)) => matrix::matrix(cmd, printer),
        Some(Command::TestResult(cmd)) => test_result::run(cmd, printer).map(done),
        Some(Command::Init(cmd)) => init::run(cmd, printer).map(done),
        Some(Command::Build(cmd)) => build::build(cmd, printer).map(done),
        Some(Command::Promote(cmd)) => promote::promote(cmd, printer).map(done),
        Some(Command::Reuse(cmd)) => reuse::reuse(cmd, printer).map(done),
        Some(Command::Manifests(cmd)) => manifests::run(cmd, printer).map(done),
        Some(Command::Publish(cmd)) => promote::publish(cmd, printer).map(done),
        Some(Command::Doctor(cmd)) => doctor::doctor(cmd, printer),
        Some(Command::Completions(cmd)) => {
            let mut out = Vec::new();
            clap_complete::generate(
                cmd.shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "stackplan",
                &mut out,
            );
            printer
                .product(&String::from_utf8_lossy(&out), None)
                .map(done)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| crate::Error::io("cannot render", "the man page", e))?;
            printer
                .product(&String::from_utf8_lossy(&out), None)
                .map(done)
        }
        Some(Command::Check(cmd)) => {
            let session = Session::default();
            let (stack, contexts) =
                planning::load_with_contexts(&session, &cmd.stack.request(), printer)?;
            printer.status(&format!(
                "ok: {} images, {} plans, {} roots; every Dockerfile and build context read",
                stack.spec.images.len(),
                stack.spec.plans.len(),
                stack.spec.roots.len()
            ));
            Ok(Finished::with((stack, contexts)))
        }
    }
}

fn done(_: ()) -> Finished {
    Finished::default()
}

/// What a command has finished with, for the binary to leave to the OS as the process
/// exits: freeing a plan of 10,000 targets piece by piece costs more than writing its bake
/// file (measured on the 5,000-image stack).
#[derive(Default)]
#[must_use]
pub struct Finished {
    _held: Vec<Box<dyn std::any::Any>>,
}

impl Finished {
    fn with<T: 'static>(value: T) -> Finished {
        Finished {
            _held: vec![Box::new(value)],
        }
    }
}
