//! The flags every planning command shares, and how they become the planning flow's
//! request and the run's session.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::flow::planning::{PlanRequest, StackRequest};
use crate::registry::RegistryOptions;
use crate::session::Session;

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

/// Where the build cache goes (`--cache-to`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum CacheTo {
    /// Cache metadata inside the pushed image (`type=inline`); works on every driver.
    #[default]
    Inline,
    /// A separate cache image `<image_name>:buildcache-<prefix>-<branch>`, `mode=max`.
    Registry,
    /// No cache export.
    None,
}

impl From<CacheTo> for crate::plan::CacheTo {
    fn from(value: CacheTo) -> Self {
        match value {
            CacheTo::Inline => crate::plan::CacheTo::Inline,
            CacheTo::Registry => crate::plan::CacheTo::Registry,
            CacheTo::None => crate::plan::CacheTo::None,
        }
    }
}

impl StackArgs {
    pub fn request(&self) -> StackRequest {
        StackRequest {
            repo: self.repo.clone(),
            images: self.images.clone(),
            spec: self.spec.clone(),
            strict: self.strict,
        }
    }
}

impl PlanArgs {
    pub fn request(&self) -> PlanRequest {
        PlanRequest {
            stack: self.stack.request(),
            base: self.base.clone(),
            head: self.head.clone(),
            default_branch: self.default_branch.clone(),
            changed: self.changed.clone(),
            changed_from: self.changed_from.clone(),
            full: self.full,
            full_rebuild_branch: self.full_rebuild_branch.clone(),
            branch: self.branch.clone(),
            registry: self.registry.clone(),
            build_arg: self.build_arg.clone(),
            platform: self.platform.clone(),
            only_plan: self.only_plan.clone(),
            cache_to: self.cache_to.into(),
            offline: self.offline,
            revision: self.revision.clone(),
            source_url: self.source_url.clone(),
        }
    }

    /// The run's session: its registry client reaches `--insecure-registry` hosts over
    /// HTTP and retries within `--registry-retry-budget`.
    pub fn session(&self) -> Session {
        session(&self.insecure_registry, self.registry_retry_budget)
    }
}

/// A session whose registry client has these flags' options.
pub fn session(insecure: &[String], retry_budget: humantime::Duration) -> Session {
    Session::new(RegistryOptions {
        insecure: insecure.to_vec(),
        retry_budget: retry_budget.into(),
        ..RegistryOptions::default()
    })
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
