//! The planning flow: from a request (where the stack is, what changed, how images are
//! named) to the plan, asking git, the environment and the registry where the request does
//! not say. Every command that plans runs it (`bake`, `plan`, `build`, `matrix`, …).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use super::Reporter;
use crate::change_set::ChangeSet;
use crate::context::Contexts;
use crate::context_reader::{self, ContextRequest};
use crate::error::{Error, Result};
use crate::fs::{StackLocation, load_stack};
use crate::git::{Base, Git};
use crate::parallel::joined;
use crate::plan::CacheTo;
use crate::plan::{self, Plan, PlanOptions};
use crate::rebuild;
use crate::ref_facts::{RefFacts, RefState};
use crate::registry::Registry;
use crate::session::Session;
use crate::spec::Spec;
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
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    Ok(match &args.repo {
        Some(dir) => {
            let dir = cwd.join(dir);
            if !dir.is_dir() {
                return Err(Error::usage(format!(
                    "-C {}: no such directory",
                    dir.display()
                )));
            }
            dir
        }
        None => Git::discover(&cwd)
            .map(|g| g.root().to_path_buf())
            .unwrap_or(cwd),
    })
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
    let root = repo_root(&args.stack)?;
    let git = Git::discover(&root);
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

/// What git says of the run, or the flags and CI's environment in its place.
struct FromGit {
    changes: ChangeSet,
    /// The branch as named, before it is made a tag.
    raw_branch: String,
    /// The OCI `revision` and `source` labels' values.
    revision: Option<String>,
    source_url: Option<String>,
}

/// Each question is put to git in its own processes, side by side: a run waits for the
/// longest, not for their sum.
fn from_git(args: &PlanRequest, git: Option<&Git>) -> Result<FromGit> {
    std::thread::scope(|scope| {
        let raw_branch = scope.spawn(|| branch(args, git));
        let source_url = scope.spawn(|| source_url(args, git));
        // Without --head the change set's head is the working tree, and the revision
        // HEAD's commit.
        let head_commit = (args.revision.is_none() && args.head.is_none())
            .then(|| scope.spawn(|| git.and_then(|g| g.commit("HEAD").ok())));
        let changes = change_set(args, git)?;
        let revision = match (&args.revision, &changes.head) {
            (Some(rev), _) => Some(rev.clone()).filter(|r| !r.is_empty()),
            (None, Some(head)) => Some(head.clone()),
            (None, None) => head_commit.and_then(joined),
        };
        Ok(FromGit {
            raw_branch: joined(raw_branch)?,
            source_url: joined(source_url),
            revision,
            changes,
        })
    })
}

/// The OCI `source` label's value: the flag, else CI's environment, else git's `origin`.
fn source_url(args: &PlanRequest, git: Option<&Git>) -> Option<String> {
    let source_url = match &args.source_url {
        Some(url) => Some(url.clone()).filter(|u| !u.is_empty()),
        None => None,
    };
    let source_url =
        source_url.or_else(
            || match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY")) {
                (Some(server), Some(repo)) => {
                    Some(format!("{}/{repo}", server.trim_end_matches('/')))
                }
                _ => git.and_then(|g| g.source_url()),
            },
        );
    source_url.filter(|_| args.source_url.as_deref() != Some(""))
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

/// What the registry said, in counts, for the run's status line: printed once the inputs
/// tags were asked about too, so that it counts the images found by their inputs (on a new
/// branch the only refs that exist).
struct Probed {
    /// Branch, stable and cache refs: (present, asked).
    tags: (usize, usize),
    /// Inputs tags: (present, asked).
    inputs: (usize, usize),
    /// External base images: (pinned, asked).
    bases: (usize, usize),
    elapsed: std::time::Duration,
    tokens: u32,
}

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "registry: {} of {} refs exist ({} of {} inputs tags), {} of {} base images pinned ({} ms, {} token request(s); --offline skips this)",
            self.tags.0 + self.inputs.0,
            self.tags.1 + self.inputs.1,
            self.inputs.0,
            self.inputs.1,
            self.bases.0,
            self.bases.1,
            self.elapsed.as_millis(),
            self.tokens,
        )
    }
}

/// Asks the registries which of the plan's refs exist, and pins the external images.
fn probe(
    session: &Session,
    stack: &Stack,
    options: &PlanOptions,
    reporter: &mut dyn Reporter,
) -> Result<(RefFacts, Probed)> {
    let refs = plan::registry_refs(stack, options)?;
    let started = std::time::Instant::now();
    let view = probe_refs(session, &refs.tags, &refs.bases)?;
    let registry = &*session.registry();
    let present = refs
        .tags
        .iter()
        .filter(|r| view.state(r) == RefState::Present)
        .count();
    let pinned = refs
        .bases
        .iter()
        .filter(|r| view.digest(r).is_some())
        .count();
    let probed = Probed {
        tags: (present, refs.tags.len()),
        inputs: (0, 0),
        bases: (pinned, refs.bases.len()),
        elapsed: started.elapsed(),
        tokens: registry.stats().tokens,
    };
    report_retries(registry, reporter);
    for (reference, why) in &view.failures {
        reporter.status(&format!(
            "warning: base image {reference} is not pinned: {why}"
        ));
    }
    Ok((view, probed))
}

/// Asks about `required` refs (a failure is an error) and `optional` ones (a failure is
/// recorded in the view).
fn probe_refs(session: &Session, required: &[String], optional: &[String]) -> Result<RefFacts> {
    if required.is_empty() && optional.is_empty() {
        return Ok(RefFacts {
            probed: true,
            ..RefFacts::default()
        });
    }
    session.block_on(session.registry().probe(required, optional))?
}

/// Says what the run retried, when it retried anything.
pub fn report_retries(registry: &Registry, reporter: &mut dyn Reporter) {
    let retries = registry.stats().retries;
    if retries.retries > 0 {
        reporter.status(&format!("registry: {retries}"));
    }
}

/// The stack and every image's build context as BuildKit will receive it. The contexts
/// are walked as soon as the spec names the images, on the cores the Dockerfiles and the
/// stack's checks leave free; their files are read once the stack holds the Dockerfiles'
/// ids (a Dockerfile is not read twice).
fn read_with_contexts(
    session: &Session,
    args: &StackRequest,
    root: &std::path::Path,
    reporter: &mut dyn Reporter,
) -> Result<(Stack, Contexts)> {
    let location = location(args, root);
    let files = crate::fs::read_spec(&location)?;
    let mut requests = context_requests(&files.spec, &location.images_dir);
    let (stack, walked) = rayon::join(
        || crate::fs::assemble_stack(&location, files),
        || context_reader::walk_contexts(root, &requests),
    );
    // The stack's findings come first: a context of a stack that does not hold together
    // is not worth reporting.
    let stack = checked(args, stack?, root, reporter)?;
    session.mark("load stack");
    with_dockerfile_ids(&mut requests, &stack);
    let contexts = context_reader::digest_contexts(root, &requests, walked?)?;
    session.mark("read contexts");
    Ok((stack, contexts))
}

/// Every image's context, once the stack holds its Dockerfiles' ids.
fn read_contexts(session: &Session, root: &std::path::Path, stack: &Stack) -> Result<Contexts> {
    let mut requests = context_requests(&stack.spec, &stack.images_dir);
    with_dockerfile_ids(&mut requests, stack);
    let contexts = context_reader::read_contexts(root, &requests)?;
    session.mark("read contexts");
    Ok(contexts)
}

/// The Dockerfiles' ids the stack knows: they are not read again.
fn with_dockerfile_ids(requests: &mut [ContextRequest], stack: &Stack) {
    for request in requests {
        request.dockerfile_id = stack.dockerfile_ids.get(&request.key).cloned();
    }
}

/// What to read of every image's and variant's context.
fn context_requests(spec: &Spec, images_dir: &str) -> Vec<ContextRequest> {
    let join = crate::stack::join;
    let mut requests: Vec<ContextRequest> = Vec::new();
    for image in spec.images.values() {
        let folder = join(images_dir, &image.key);
        for variant in image.variants.values() {
            requests.push(ContextRequest {
                key: variant.key(&image.key),
                folder: join(&folder, &variant.context),
                dockerfile: variant.dockerfile.clone(),
                dockerfile_id: None,
            });
        }
        requests.push(ContextRequest {
            key: image.key.clone(),
            folder,
            dockerfile: image.dockerfile.clone(),
            dockerfile_id: None,
        });
    }
    requests
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn branch(args: &PlanRequest, git: Option<&Git>) -> Result<String> {
    if let Some(b) = &args.branch {
        return Ok(b.clone());
    }
    if let Some(b) = env("GITHUB_HEAD_REF").or_else(|| env("GITHUB_REF_NAME")) {
        return Ok(b);
    }
    match git.map(Git::branch).transpose()?.flatten() {
        Some(b) => Ok(b),
        None => Err(Error::usage_with_help(
            "cannot tell the branch: HEAD is detached or this is not a git repository",
            "pass --branch NAME",
        )),
    }
}

fn change_set(args: &PlanRequest, git: Option<&Git>) -> Result<ChangeSet> {
    if !args.changed.is_empty() || args.changed_from.is_some() {
        if args.base.is_some() || args.head.is_some() {
            return Err(Error::usage(
                "--changed/--changed-from replace git: do not combine them with --base/--head",
            ));
        }
        let mut paths = args.changed.clone();
        if let Some(from) = &args.changed_from {
            let text = if from.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Error::io("cannot read", "standard input", e))?;
                s
            } else {
                std::fs::read_to_string(from).map_err(|e| Error::io("cannot read", from, e))?
            };
            paths.extend(text.lines().map(str::to_string));
        }
        return Ok(ChangeSet::from_paths(paths));
    }
    let Some(git) = git else {
        if args.full {
            return Ok(ChangeSet::default());
        }
        return Err(Error::usage_with_help(
            "not a git repository, so the change set is unknown",
            "run inside the repository, or pass --changed PATH, --changed-from FILE or --full",
        ));
    };
    let head_rev = args.head.as_deref().unwrap_or("HEAD");
    let fork_point;
    let base = match &args.base {
        Some(b) => Base::Rev(b),
        None => match git.default_base(head_rev, &args.default_branch) {
            Ok(commit) => {
                fork_point = commit;
                Base::Commit(&fork_point)
            }
            // With --full the change set does not decide anything: no base is fine.
            Err(_) if args.full => {
                return Ok(ChangeSet {
                    head: args.head.as_deref().map(|h| git.commit(h)).transpose()?,
                    head_message: git.message(head_rev).ok(),
                    ..ChangeSet::default()
                });
            }
            Err(e) => return Err(e),
        },
    };
    git.change_set(base, args.head.as_deref())
}
