//! The planning flow: from a request (where the stack is, what changed, how images are
//! named) to the plan, asking git, the environment and the registry where the request does
//! not say. Every command that plans runs it (`bake`, `plan`, `build`, `matrix`, …).
//! What git says is `git_facts.rs`'s, the registry's answers `probe.rs`'s, the build
//! contexts `contexts.rs`'.

mod contexts;
mod git_facts;
mod probe;

use std::collections::BTreeMap;
use std::path::PathBuf;

use contexts::{read_contexts, read_with_contexts};
use git_facts::{FromGit, from_git};
pub use probe::report_retries;
use probe::{probe, probe_refs};

use super::Reporter;
use crate::change_set::ChangeSet;
use crate::context::Contexts;
use crate::error::{Error, Result};
use crate::fs::{StackLocation, load_stack};
use crate::git::Git;
use crate::parallel::joined;
use crate::plan::CacheTo;
use crate::plan::{self, Plan, PlanOptions};
use crate::rebuild;
use crate::ref_facts::RefFacts;
use crate::session::Session;
use crate::stack::Stack;
use crate::tag;

/// Where the stack is.
#[derive(Clone, Debug, Default)]
pub struct StackRequest {
    /// The repository root; `None`: the git top level of the current directory, else the
    /// current directory.
    pub repo: Option<PathBuf>,
    /// The images folder, relative to the repository root.
    pub images: String,
    /// The spec file, relative to the repository root (`None`: `<images>/spec.yml`).
    pub spec: Option<PathBuf>,
    /// Warnings are errors.
    pub strict: bool,
}

/// What changed and how the images are named: `stackplan plan`'s flags, as values. `None`
/// and empty fields are asked of git and CI's environment, as the flags' help says.
#[derive(Clone, Debug, Default)]
pub struct PlanRequest {
    pub stack: StackRequest,
    /// The change set's base and head revisions (`None`: the fork point, the working tree).
    pub base: Option<String>,
    pub head: Option<String>,
    /// The branch the default base is computed against.
    pub default_branch: String,
    /// Changed files that replace git's change set, given and read from a file (`-`: stdin).
    pub changed: Vec<String>,
    pub changed_from: Option<PathBuf>,
    /// Rebuild everything, and the branches on which everything rebuilds.
    pub full: bool,
    pub full_rebuild_branch: Vec<String>,
    /// The branch for tags.
    pub branch: Option<String>,
    /// Where every image_name lives (HOST or HOST/NAMESPACE).
    pub registry: Option<String>,
    pub build_arg: Vec<(String, String)>,
    /// The platform of images that name none (`None`: this machine's).
    pub platform: Option<String>,
    pub only_plan: Option<String>,
    pub cache_to: CacheTo,
    /// Make no network call: the registry state is unknown.
    pub offline: bool,
    /// The OCI `revision` and `source` labels (`Some("")`: none).
    pub revision: Option<String>,
    pub source_url: Option<String>,
}

/// The repository root: `-C DIR`, else the git top level of the current directory, else
/// the current directory.
pub fn repo_root(args: &StackRequest) -> Result<PathBuf> {
    Ok(match given_root(args)? {
        Ok(dir) => dir,
        Err(cwd) => Git::discover(&cwd)
            .map(|g| g.root().to_path_buf())
            .unwrap_or(cwd),
    })
}

/// The repository root and git's view of it (`None`: not in a repository): git is asked
/// once.
fn root_and_git(args: &StackRequest) -> Result<(PathBuf, Option<Git>)> {
    Ok(match given_root(args)? {
        Ok(dir) => {
            let git = Git::discover(&dir);
            (dir, git)
        }
        Err(cwd) => match Git::discover(&cwd) {
            Some(git) => (git.root().to_path_buf(), Some(git)),
            None => (cwd, None),
        },
    })
}

/// `Ok(-C DIR)`, checked; `Err(the current directory)` when no `-C` was given.
fn given_root(args: &StackRequest) -> Result<std::result::Result<PathBuf, PathBuf>> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    let Some(dir) = &args.repo else {
        return Ok(Err(cwd));
    };
    let dir = cwd.join(dir);
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "-C {}: no such directory",
            dir.display()
        )));
    }
    Ok(Ok(dir))
}

/// The stack, checked, its warnings reported (and refused with `strict`).
pub fn load(args: &StackRequest, reporter: &mut dyn Reporter) -> Result<Stack> {
    load_at(args, &repo_root(args)?, reporter)
}

/// The stack and every build context read as a plan that shows their digests reads them:
/// what `check` vouches for.
pub fn load_with_contexts(
    session: &Session,
    args: &StackRequest,
    reporter: &mut dyn Reporter,
) -> Result<(Stack, Contexts)> {
    let root = repo_root(args)?;
    read_with_contexts(session, args, &root, reporter)
}

/// The stack of the repository at `root` (see [`repo_root`]).
fn load_at(
    args: &StackRequest,
    root: &std::path::Path,
    reporter: &mut dyn Reporter,
) -> Result<Stack> {
    let stack = load_stack(&location(args, root))?;
    checked(args, stack, root, reporter)
}

fn location(args: &StackRequest, root: &std::path::Path) -> StackLocation {
    StackLocation {
        root: root.to_path_buf(),
        images_dir: crate::change_set::normalize(&args.images),
        spec: args.spec.clone(),
    }
}

/// The stack, once its warnings are printed (and refused, with `--strict`).
fn checked(
    args: &StackRequest,
    stack: Stack,
    root: &std::path::Path,
    reporter: &mut dyn Reporter,
) -> Result<Stack> {
    reporter.diagnostics(&stack.warnings, root);
    if args.strict && !stack.warnings.is_empty() {
        return Err(Error::usage_with_help(
            format!("{} warning(s) and --strict", stack.warnings.len()),
            "fix the warnings above, or drop --strict",
        ));
    }
    Ok(stack)
}

/// Which inputs digests a command's output shows, and so which contexts it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digests {
    /// Every target's, pinned or not (`plan --format json`): every context is read.
    All,
    /// The pinned ones, in tags, labels and reuse. Offline, no context is read when no
    /// target can pin ([`plan::contexts_matter`]): their digests would show nowhere.
    Pinned,
}

/// The plan and the repository root it was made in.
pub fn plan(
    session: &Session,
    args: &PlanRequest,
    digests: Digests,
    reporter: &mut dyn Reporter,
) -> Result<(Plan, PathBuf)> {
    let (root, git) = root_and_git(&args.stack)?;
    // Online the contexts are read with the stack, on the cores the Dockerfiles leave
    // free, as most targets pin once the registry answers. Offline only a stack whose
    // bases are written by digest pins: the stack is read first, and its contexts only if
    // they matter.
    let read_ahead = digests == Digests::All || !args.offline;
    // git works out the change set in its own processes while the stack and its contexts
    // are read: on a large stack neither waits for the other.
    let (stack, contexts, from_git) = std::thread::scope(|scope| {
        let from_git = scope.spawn(|| from_git(args, git.as_ref()));
        let read = if read_ahead {
            read_with_contexts(session, &args.stack, &root, reporter).map(|(s, c)| (s, Some(c)))
        } else {
            let stack = load_at(&args.stack, &root, reporter);
            session.mark("load stack");
            stack.map(|s| (s, None))
        };
        let from_git = joined(from_git);
        read.map(|(stack, contexts)| (stack, contexts, from_git))
    })?;
    let FromGit {
        changes,
        raw_branch,
        revision,
        source_url,
    } = from_git?;
    session.mark("change set");
    let branch = tag::branch_tag(&raw_branch)?;
    let full_rebuild = rebuild::full_rebuild(
        args.full,
        changes.head_message.as_deref(),
        &raw_branch,
        &args.full_rebuild_branch,
    );
    let options = PlanOptions {
        branch,
        registry: args.registry.clone(),
        build_args: args.build_arg.iter().cloned().collect::<BTreeMap<_, _>>(),
        only_plan: args.only_plan.clone(),
        cache_to: args.cache_to,
        full_rebuild,
        revision,
        source_url,
        platform: Some(
            args.platform
                .clone()
                .unwrap_or_else(crate::plan::platform::host),
        ),
    };
    let (mut registry, mut probed) = if args.offline {
        (RefFacts::default(), None)
    } else {
        let (view, probed) = probe(session, &stack, &options, reporter)?;
        (view, Some(probed))
    };
    session.mark("probe");
    let contexts = match contexts {
        Some(contexts) => contexts,
        None if plan::contexts_matter(&stack, &options, &registry) => {
            read_contexts(session, &root, &stack)?
        }
        None => Contexts::default(),
    };
    let mut plan = plan::plan(&stack, &changes, &contexts, &options, &registry)?;
    // The plan holds all its outputs need. Freed now, the stack and the contexts leave
    // their memory to the outputs: 3 MiB less at the peak of a 5,000-image bake, for
    // about a millisecond spent freeing them.
    drop((stack, contexts));
    session.mark("plan");
    if let Some(probed) = probed.as_mut() {
        // The inputs tags are known only once the bases are pinned: ask, then decide again.
        let refs = plan::inputs_refs(&plan);
        let started = std::time::Instant::now();
        let registry_client = session.registry();
        let answers = probe_refs(session, &refs, &[])?;
        let present = answers.digests.len();
        registry.merge(answers);
        probed.inputs = (present, refs.len());
        probed.elapsed += started.elapsed();
        probed.tokens = registry_client.stats().tokens;
        reporter.status(&probed.to_string());
        plan::decide_actions(&mut plan, &registry);
        let (build, reuse, none) = plan.action_counts();
        reporter.status(&format!(
            "inputs: {present} of {} targets with pinned inputs are built already; {build} build, {reuse} reuse, {none} none",
            refs.len(),
        ));
    }
    reporter.diagnostics(&plan.warnings, &root);
    if args.stack.strict && !plan.warnings.is_empty() {
        return Err(Error::usage("warnings and --strict"));
    }
    Ok((plan, root))
}

/// Every target of the stack with its image name and tag prefix, for commands that act on
/// the whole stack rather than on a change set (promote, publish).
pub fn targets(
    args: &StackRequest,
    registry: Option<String>,
    only_plan: Option<String>,
    reporter: &mut dyn Reporter,
) -> Result<Plan> {
    let stack = load(args, reporter)?;
    let options = PlanOptions {
        branch: "promote".into(),
        registry,
        only_plan,
        ..PlanOptions::default()
    };
    plan::plan(
        &stack,
        &ChangeSet::default(),
        &Contexts::default(),
        &options,
        &RefFacts::default(),
    )
}
