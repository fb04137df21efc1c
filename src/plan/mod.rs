//! The plan: one value that says, for every target (image × plan), whether it rebuilds and
//! why, how it is satisfied (built, reused, or left alone), how it is tagged, what it caches
//! from, which build args it gets and what its inputs digest is.
//!
//! Every emitter (bake JSON, plan text/JSON/Markdown, graph, matrix) and every executor
//! reads this value and nothing else, so they cannot disagree. Planning is pure and cheap:
//! registry facts come in as [`RefFacts`] and build contexts as [`Contexts`] that adapters
//! filled beforehand. Each part of a target is computed in its own file: [`build_args`],
//! [`parent_input`], [`cache`], [`ingredients`], [`labels`], [`names`], [`platform`]; the
//! action is [`action`].

pub mod action;
mod build_args;
mod cache;
mod ingredients;
mod labels;
mod names;
mod parent_input;
pub mod platform;

use std::collections::{BTreeMap, HashMap};

pub use ingredients::contexts_matter;
pub use labels::Labels;
pub use names::group_name;
pub use parent_input::{ParentInput, ParentSource};

use crate::change_set::ChangeSet;
use crate::context::Contexts;
use crate::diagnostic::Diagnostic;
use crate::dockerfile::Dockerfile;
use crate::error::{Error, Result};
use crate::inputs_digest::Inputs;
use crate::parallel;
use crate::rebuild::{self, FullRebuild, Reason};
use crate::ref_facts::{RefFacts, RefState, RefStates};
use crate::reference;
use crate::spec::{Image, InfoCmd, PlanSpec, Variant};
use crate::stack::{Stack, join};
use crate::tag;
use action::{Action, ActionReason};
use names::NameAllocator;
use parent_input::ParentState;

/// Where the build cache is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheTo {
    /// Cache metadata inside the pushed image (`type=inline`); works on every driver.
    #[default]
    Inline,
    /// A separate cache image `<image_name>:buildcache-<prefix>-<branch>`, `mode=max`.
    Registry,
    /// No cache export.
    None,
}

/// What the caller decided before planning.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// The branch, already made into a valid tag part ([`tag::branch_tag`]).
    pub branch: String,
    /// `--registry HOST[/NAMESPACE]`.
    pub registry: Option<String>,
    /// `--build-arg K=V`, applied to every target.
    pub build_args: BTreeMap<String, String>,
    /// `--plan NAME`.
    pub only_plan: Option<String>,
    pub cache_to: CacheTo,
    pub full_rebuild: Option<FullRebuild>,
    /// The commit the images are built from (OCI `revision` label).
    pub revision: Option<String>,
    /// Where the source lives (OCI `source` label).
    pub source_url: Option<String>,
    /// The platform of targets whose image names no `platforms` (`--platform`, else the
    /// planning machine's, [`platform::host`]): hashed into their inputs and written where
    /// they are built, so an amd64 runner and an arm64 laptop never share a digest.
    /// `None` leaves them without one (BuildKit's native platform): commands that only
    /// name targets (promote, publish).
    pub platform: Option<String>,
}

/// A target's few build args, labels or registry states, by name: a sorted vector (10,000
/// targets hold three each; B-trees cost them 10 MiB more on a 5,000-image stack).
pub type SmallMap<V> = litemap::LiteMap<String, V>;

/// A small map holding exactly `entries` (collected, its vector would hold four at least).
fn small_map<V>(entries: impl ExactSizeIterator<Item = (String, V)>) -> SmallMap<V> {
    let mut map = SmallMap::with_capacity(entries.len());
    map.extend(entries);
    map
}

/// `<image_name>:<tag>`, in a string of its size.
fn reference_of(image_name: &str, tag: &str) -> String {
    [image_name, ":", tag].concat()
}

/// The refs a target is promoted to: `<image_name>:<prefix>-stable`, then
/// `<image_name>:<stable tag>`.
fn stable_references(image_name: &str, tag_prefix: &str, stable_tag: &str) -> [String; 2] {
    [
        reference_of(image_name, &tag::prefix_stable(tag_prefix)),
        reference_of(image_name, stable_tag),
    ]
}

/// One image in one plan.
#[derive(Clone, Debug)]
pub struct Target {
    /// Unique, `[a-zA-Z0-9_-]+`: `<key>[-<variant>][-<plan>]`.
    pub name: String,
    /// The spec key (folder name).
    pub image: String,
    /// The image's variant this target builds, if not the default.
    pub variant: Option<String>,
    pub plan: Option<String>,
    /// After the `--registry` rewrite.
    pub image_name: String,
    /// The parent target's name.
    pub parent: Option<String>,
    pub depth: usize,
    /// Whether the change rules put the target in the plan.
    pub rebuild: bool,
    pub reasons: Vec<Reason>,
    /// How the target is satisfied, and why.
    pub action: Action,
    pub action_reason: ActionReason,
    pub inputs: Inputs,
    /// The plan's or spec's tag prefix; for a variant, after the variant's own
    /// (`cuda12-2026.3`).
    pub tag_prefix: String,
    /// `<prefix>-<branch>`.
    pub tag: String,
    /// The tag promoted last: `stable`, or `<variant prefix>-stable` for a variant.
    pub stable_tag: String,
    /// Refs the build writes: the branch ref ([`Target::reference`]), then the inputs ref
    /// when the inputs are pinned.
    pub tags: Vec<String>,
    /// The registry cache ref, with `--cache-to registry`.
    pub cache_to_ref: Option<String>,
    pub build_args: SmallMap<String>,
    /// The image folder, relative to the repository root.
    pub context: String,
    /// The Dockerfile, relative to `context`.
    pub dockerfile: String,
    /// The spec's `platforms`, else [`PlanOptions::platform`]: what the inputs hash and
    /// what is built.
    pub platforms: Vec<String>,
    /// The child's `FROM` that builds on the parent, as BuildKit looks it up.
    pub parent_from: Option<String>,
    /// The build arg stackplan sets so that `FROM` names the parent's ref of this run.
    pub parent_arg: Option<String>,
    pub parent_input: Option<ParentInput>,
    /// External images pinned to the digests in the inputs: `FROM` as BuildKit looks it up
    /// → `ref@digest` (named contexts `docker-image://…`).
    pub pinned_bases: BTreeMap<String, String>,
    pub labels: Labels,
    /// What the registry said about each ref this target cares about ([`Target::states_by_ref`]
    /// names them).
    pub ref_states: RefStates,
    /// The manifest digest of the image that satisfies the target when it is not built
    /// (its inputs ref's when reused, its branch ref's when kept), as the registry said at
    /// plan time; `None` when it builds or the registry did not say. Children built on it
    /// are pinned to it: a tag moved between plan and build cannot change their parent.
    pub image_digest: Option<String>,
    /// The image's `info_cmds`, resolved from `all_info_cmds`.
    pub info_cmds: Vec<(String, InfoCmd)>,
    pub integration_tests: bool,
    /// What the test records say of the image and its current tests; `None` offline, and
    /// for targets the matrix would not retest (the test-records flow sets it).
    pub tests: Option<crate::test_record::TestStatus>,
}

impl Target {
    /// `<image_name>:<prefix>-<branch>`.
    pub fn reference(&self) -> &str {
        &self.tags[0]
    }

    /// `<image_name>:inputs-<hex>`, when the inputs are pinned.
    pub fn inputs_reference(&self) -> Option<String> {
        self.inputs
            .tag()
            .map(|tag| reference_of(&self.image_name, &tag))
    }

    /// What the registry said about each ref this target cares about, by ref: the cache
    /// image's (with `--cache-to registry`), the branch ref's, the two stable refs' and,
    /// when the inputs are pinned, the inputs ref's.
    pub fn states_by_ref(&self) -> SmallMap<RefState> {
        let inputs = self.inputs_reference();
        self.with_refs(inputs.as_deref(), |refs| {
            let mut map = SmallMap::with_capacity(self.ref_states.of_refs(refs).count());
            for (reference, state) in self.ref_states.of_refs(refs) {
                map.insert(reference.to_string(), state);
            }
            map
        })
    }

    /// Where the build imports its cache from, in order: the cache image (with
    /// `--cache-to registry`), the branch ref, `<prefix>-stable`, `stable`, less the refs
    /// the registry said are missing. Made when asked, from the refs' states: a plan of
    /// 10,000 targets does not hold 30,000 more strings.
    pub fn cache_from(&self) -> Vec<String> {
        self.with_refs(None, |refs| {
            self.ref_states
                .of_refs(refs)
                .filter(|&(_, state)| state != RefState::Missing)
                .map(|(reference, _)| reference.to_string())
                .collect()
        })
    }

    /// `f` of the target's refs in [`RefStates::of_refs`]'s order, with `inputs` as the
    /// inputs ref.
    fn with_refs<R>(&self, inputs: Option<&str>, f: impl FnOnce([Option<&str>; 5]) -> R) -> R {
        let [prefix_stable, stable] = self.stable_references();
        f([
            self.cache_to_ref.as_deref(),
            Some(self.reference()),
            Some(prefix_stable.as_str()),
            Some(stable.as_str()),
            inputs,
        ])
    }

    pub fn stable_references(&self) -> [String; 2] {
        stable_references(&self.image_name, &self.tag_prefix, &self.stable_tag)
    }

    pub fn builds(&self) -> bool {
        self.action == Action::Build
    }

    /// Why a target that is not built is tested again: a changed file the change rules
    /// tie to it (not a parent, not a full rebuild, not a missing tag). `None`: it is not
    /// retested (it builds, or nothing its tests read changed). The matrix's retest jobs
    /// and the plans' test status both ask this.
    pub fn retest_reason(&self) -> Option<String> {
        if self.builds() {
            return None;
        }
        self.reasons
            .iter()
            .find(|r| matches!(r, Reason::Changed { .. } | Reason::BuildAll { .. }))
            .map(|r| format!("{r}; the image is not rebuilt ({})", self.action_reason))
    }
}

/// The whole plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub branch: String,
    pub base: Option<String>,
    pub head: Option<String>,
    pub full_rebuild: Option<FullRebuild>,
    pub changed_files: Vec<String>,
    /// Changed files ignored by `ChangeIgnore`, with the entry.
    pub ignored_files: Vec<(String, String)>,
    /// Changed files under the images folder that belong to no image.
    pub unowned_files: Vec<String>,
    /// Parents before children (depth, key, plan; an image's variants after its default).
    pub targets: Vec<Target>,
    /// The plans in play (empty when the spec has none).
    pub plans: Vec<String>,
    pub registry_probed: bool,
    pub cache_to: CacheTo,
    pub warnings: Vec<Diagnostic>,
}

impl Plan {
    /// The targets the change rules put in the plan.
    pub fn rebuilt(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.rebuild)
    }

    /// The targets to build (action `build`): what the bake file's `default` group holds.
    pub fn to_build(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.builds())
    }

    /// The targets whose tags are written from an image with the same inputs.
    pub fn to_reuse(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.action == Action::Reuse)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// How many targets have each action: (build, reuse, none).
    pub fn action_counts(&self) -> (usize, usize, usize) {
        let count = |a| self.targets.iter().filter(|t| t.action == a).count();
        (
            count(Action::Build),
            count(Action::Reuse),
            count(Action::None),
        )
    }
}

/// The refs planning asks the registry about before planning: the tags, stable and cache
/// refs of every target (their absence matters), and the external images the
/// Dockerfiles read (to pin them by digest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeRefs {
    pub tags: Vec<String>,
    /// Normalized; refs given by digest are left out.
    pub bases: Vec<String>,
}

/// Every ref whose registry state planning can use, for the probe.
pub fn registry_refs(stack: &Stack, opts: &PlanOptions) -> Result<ProbeRefs> {
    let plan = plan(
        stack,
        &ChangeSet::default(),
        &Contexts::default(),
        opts,
        &RefFacts::default(),
    )?;
    let mut tags: Vec<String> = plan
        .targets
        .iter()
        .flat_map(|t| {
            t.states_by_ref()
                .into_iter()
                .map(|(reference, _)| reference)
        })
        .collect();
    tags.sort();
    tags.dedup();
    let mut bases: Vec<String> = plan
        .targets
        .iter()
        .flat_map(|t| t.inputs.bases.iter())
        .filter(|b| b.digest.is_none())
        .map(|b| b.reference.clone())
        .filter(|r| reference::normalize(r).as_deref() == Some(r.as_str()))
        .collect();
    bases.sort();
    bases.dedup();
    Ok(ProbeRefs { tags, bases })
}

/// The inputs refs of every target with pinned inputs: asked after planning, then
/// [`decide_actions`] runs again with the answers.
pub fn inputs_refs(plan: &Plan) -> Vec<String> {
    let mut refs: Vec<String> = plan
        .targets
        .iter()
        .filter_map(Target::inputs_reference)
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

fn check_options(stack: &Stack, opts: &PlanOptions) -> Result<()> {
    let spec = &stack.spec;
    if let Some(only) = &opts.only_plan {
        if spec.plans.is_empty() {
            return Err(Error::usage_with_help(
                format!("--plan {only}: the spec defines no plans"),
                "remove --plan, or add a `plans:` map to the spec",
            ));
        }
        if !spec.plans.contains_key(only) {
            let names: Vec<String> = spec.plans.keys().cloned().collect();
            return Err(Error::usage_with_help(
                format!("--plan {only}: no such plan"),
                format!("known plans: {}", names.join(", ")),
            ));
        }
    }
    if let Some(registry) = &opts.registry {
        reference::check_registry_override(registry).map_err(|problem| {
            Error::usage_with_help(
                format!("--registry {registry}: {problem}"),
                "give HOST or HOST/NAMESPACE, like `localhost:5000` or `ghcr.io/my-fork`",
            )
        })?;
    }
    if opts.build_args.keys().any(String::is_empty) {
        return Err(Error::usage("--build-arg needs a name before `=`"));
    }
    Ok(())
}

/// Makes the plan. `contexts` holds every image's build context (an image without one has
/// unpinned inputs); `ref_facts` what the registry said (empty offline).
pub fn plan(
    stack: &Stack,
    changes: &ChangeSet,
    contexts: &Contexts,
    opts: &PlanOptions,
    ref_facts: &RefFacts,
) -> Result<Plan> {
    check_options(stack, opts)?;
    let spec = &stack.spec;
    let decisions = rebuild::decide(
        spec,
        &stack.graph,
        &stack.rules,
        changes,
        &stack.images_dir,
        opts.full_rebuild.clone(),
    );
    // One context digest per image, shared by its plans.
    let context_digests: HashMap<&str, (String, &str)> = contexts
        .iter()
        .map(|(key, files)| (key.as_str(), (files.digest(), files.dockerfile_id.as_str())))
        .collect();

    // Sized once: a plan of thousands of targets is not copied as it grows.
    let capacity = spec
        .images
        .values()
        .map(|i| (1 + i.variants.len()) * spec.plans.len().max(1))
        .sum();
    let mut targets: Vec<Target> = Vec::with_capacity(capacity);
    let mut warnings = Vec::new();
    // Targets of one depth depend only on targets above them: each depth is made over all
    // cores, in batches moved into the plan as they are made, in the plan's order.
    let slots = slots(stack, opts, &decisions, &context_digests);
    for level in slots.chunk_by(|a, b| a.depth == b.depth) {
        for batch in level.chunks(TARGETS_PER_BATCH) {
            let made = parallel::map(batch, TARGETS_PER_THREAD, |slot| {
                let mut warned = Vec::new();
                let parent = slot.parent.map(|i| &targets[i]);
                make_target(slot, parent, stack, opts, ref_facts, &mut warned)
                    .map(|target| (target, warned))
            });
            for result in made {
                let (target, warned) = result?;
                targets.push(target);
                warnings.extend(warned);
            }
        }
    }

    let parents: Vec<Option<usize>> = slots.iter().map(|s| s.parent).collect();
    drop(slots);

    let mut plan = Plan {
        branch: opts.branch.clone(),
        base: changes.base.clone(),
        head: changes.head.clone(),
        full_rebuild: opts.full_rebuild.clone(),
        changed_files: changes.files.clone(),
        ignored_files: decisions.ignored,
        unowned_files: decisions.unowned,
        targets,
        plans: match &opts.only_plan {
            Some(p) => vec![p.clone()],
            None => spec.plans.keys().cloned().collect(),
        },
        registry_probed: ref_facts.probed,
        cache_to: opts.cache_to,
        warnings,
    };
    decide_actions_with(&mut plan, &parents, ref_facts);
    Ok(plan)
}

/// Below this many targets per thread, making them on one thread is as fast.
const TARGETS_PER_THREAD: usize = 64;
/// Targets made before they are moved into the plan (bounds what is held twice).
const TARGETS_PER_BATCH: usize = 512;

/// A target to make, decided in the plan's order before any is made: its name (names
/// are allocated in order), its parent's index in the plan, and what it is made of. What
/// its image's targets share (the Dockerfile, the parent image, the change reasons) is
/// looked up once per image, not per target.
struct Slot<'a> {
    name: String,
    depth: usize,
    image: &'a Image,
    variant: Option<&'a Variant>,
    plan: Option<&'a PlanSpec>,
    parent: Option<usize>,
    /// The spec entry of the image's parent.
    parent_image: Option<&'a Image>,
    dockerfile: Option<&'a Dockerfile>,
    /// The context's digest and the Dockerfile's blob id.
    context: Option<(&'a str, &'a str)>,
    /// What the change rules say of the image (or its variant).
    change_reasons: &'a [Reason],
}

/// Every target of the plan, in its order: parents before children (depth, key, plan; an
/// image's variants after its default).
fn slots<'a>(
    stack: &'a Stack,
    opts: &PlanOptions,
    decisions: &'a rebuild::Decisions,
    context_digests: &'a HashMap<&str, (String, &str)>,
) -> Vec<Slot<'a>> {
    let spec = &stack.spec;
    let context_of = |key: &str| {
        context_digests
            .get(key)
            .map(|(digest, dockerfile)| (digest.as_str(), *dockerfile))
    };
    let reasons_of = |key: &str| decisions.reasons.get(key).map_or(&[][..], Vec::as_slice);
    let mut slots = Vec::with_capacity(spec.images.len() * spec.plans.len().max(1));
    let mut index: HashMap<(&str, Option<&str>), usize> = HashMap::with_capacity(slots.capacity());
    let mut names = NameAllocator::reserving(spec.plans.keys().map(|p| group_name(p)));
    for key in stack.graph.order() {
        let image = &spec.images[key];
        let depth = stack.graph.depth(key);
        let parent_image = image.depend_on.as_deref().map(|p| &spec.images[p]);
        let default = (stack.dockerfiles.get(key), context_of(key), reasons_of(key));
        let variants: Vec<_> = image
            .variants
            .values()
            .map(|variant| {
                let variant_key = variant.key(key);
                (
                    variant,
                    stack.dockerfiles.get(&variant_key),
                    context_of(&variant_key),
                    reasons_of(&variant_key),
                )
            })
            .collect();
        for plan in spec.plans_of(image) {
            if let (Some(only), Some(p)) = (&opts.only_plan, plan)
                && &p.name != only
            {
                continue;
            }
            let plan_name = plan.map(|p| p.name.as_str());
            let parent = image
                .depend_on
                .as_deref()
                .and_then(|p| index.get(&(p, plan_name)).copied());
            index.insert((key.as_str(), plan_name), slots.len());
            let (dockerfile, context, change_reasons) = default;
            slots.push(Slot {
                name: names.allocate(match plan {
                    Some(p) => format!("{}-{}", image.key, p.name),
                    None => image.key.clone(),
                }),
                depth,
                image,
                variant: None,
                plan,
                parent,
                parent_image,
                dockerfile,
                context,
                change_reasons,
            });
            // Each variant: its own target on the same parent; children stay on the default.
            for &(variant, dockerfile, context, change_reasons) in &variants {
                slots.push(Slot {
                    name: names.allocate(match plan {
                        Some(p) => format!("{}-{}-{}", image.key, variant.name, p.name),
                        None => format!("{}-{}", image.key, variant.name),
                    }),
                    depth,
                    image,
                    variant: Some(variant),
                    plan,
                    parent,
                    parent_image,
                    dockerfile,
                    context,
                    change_reasons,
                });
            }
        }
    }
    slots
}

/// One target, its action still to decide ([`decide_actions`]).
fn make_target(
    slot: &Slot<'_>,
    parent: Option<&Target>,
    stack: &Stack,
    opts: &PlanOptions,
    ref_facts: &RefFacts,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Target> {
    let &Slot {
        ref name,
        depth,
        image,
        variant,
        plan,
        parent_image,
        dockerfile,
        context,
        change_reasons,
        ..
    } = slot;
    let image_name = match &opts.registry {
        Some(r) => reference::rewrite_registry(&image.image_name, r),
        None => image.image_name.clone(),
    };
    let mut tag_prefix = plan
        .map(|p| p.tag_prefix.clone())
        .unwrap_or_else(|| stack.spec.tag_prefix.clone());
    let mut stable_tag = tag::STABLE.to_string();
    if let Some(v) = variant {
        tag_prefix = format!("{}-{tag_prefix}", v.tag_prefix);
        stable_tag = tag::prefix_stable(&v.tag_prefix);
    }
    let tag = tag::branch_tag_for(&tag_prefix, &opts.branch);
    if !tag::is_valid_tag(&tag) {
        return Err(Error::usage_with_help(
            format!("the tag `{tag}` of `{name}` is not a valid Docker tag (too long?)"),
            "shorten the branch name with --branch NAME",
        ));
    }
    let reference = reference_of(&image_name, &tag);

    let mut build_args = build_args::resolve(image, variant, plan, &opts.build_args);
    let chain = parent.map(|parent| {
        parent_input::chain(
            name,
            parent,
            parent_image.map_or("", |p| &p.image_name),
            dockerfile,
            image.parent_arg.as_deref(),
            &build_args,
            warnings,
        )
    });
    let no_chain_args = BTreeMap::new();
    let chain_args = chain.as_ref().map_or(&no_chain_args, |c| &c.args);
    build_args.extend(chain_args.iter().map(|(k, v)| (k.clone(), v.clone())));

    let platforms = if image.platforms.is_empty() {
        opts.platform.iter().cloned().collect()
    } else {
        image.platforms.clone()
    };
    let (inputs, computed) = ingredients::compute(
        &ingredients::TargetInputs {
            context,
            dockerfile,
            build_args: &build_args,
            chain_args,
            parent_from: chain.as_ref().map(|c| c.from.as_str()),
            parent: parent.map(|p| (p.name.as_str(), &p.inputs)),
            platforms: &platforms,
        },
        ref_facts,
    );
    let pinned_bases = ingredients::pinned_contexts(&computed.written, &inputs.bases);
    // The frontend hashed into the inputs is the one BuildKit runs: its build arg takes
    // precedence over the `# syntax=` directive. Left out of the digest (computed above).
    if let Some(pin) = computed.syntax_pin {
        build_args.insert(crate::dockerfile::SYNTAX_ARG.to_string(), pin);
    }

    let cache = cache::refs(
        &image_name,
        &tag_prefix,
        &stable_tag,
        &reference,
        &tag,
        opts.cache_to,
        ref_facts,
    );
    let reasons: Vec<Reason> = change_reasons
        .iter()
        .cloned()
        .chain((ref_facts.state(&reference) == RefState::Missing).then(|| {
            Reason::BranchTagMissing {
                reference: reference.clone(),
            }
        }))
        .chain(parent.filter(|p| p.rebuild).map(|p| Reason::Parent {
            parent: p.name.clone(),
        }))
        .collect();

    let inputs_ref = inputs.tag().map(|tag| reference_of(&image_name, &tag));
    let tags: Vec<String> = std::iter::once(reference).chain(inputs_ref).collect();
    Ok(Target {
        labels: labels::labels(&tag, opts, &inputs),
        name: name.clone(),
        image: image.key.clone(),
        variant: variant.map(|v| v.name.clone()),
        plan: plan.map(|p| p.name.clone()),
        image_name,
        parent: parent.map(|p| p.name.clone()),
        depth,
        rebuild: !reasons.is_empty(),
        reasons,
        action: Action::None,
        action_reason: ActionReason::ChangeRules,
        inputs,
        tag_prefix,
        tag,
        stable_tag,
        tags,
        cache_to_ref: cache.cache_to_ref,
        build_args: small_map(build_args.into_iter()),
        context: match variant {
            Some(v) => join(&join(&stack.images_dir, &image.key), &v.context),
            None => join(&stack.images_dir, &image.key),
        },
        dockerfile: variant.map_or_else(|| image.dockerfile.clone(), |v| v.dockerfile.clone()),
        platforms,
        parent_arg: chain.as_ref().and_then(|c| c.arg.clone()),
        parent_from: chain.map(|c| c.from),
        parent_input: None,
        pinned_bases,
        ref_states: cache.states,
        image_digest: None,
        info_cmds: image
            .info_cmds
            .iter()
            .filter_map(|name| {
                stack
                    .spec
                    .all_info_cmds
                    .get(name)
                    .map(|cmd| (name.clone(), cmd.clone()))
            })
            .collect(),
        integration_tests: image.integration_tests,
        tests: None,
    })
}

/// Decides every target's action, parents first, and points each child's `FROM` at its
/// parent's result when the parent builds. Run again when the ref facts grow (the
/// inputs tags are asked about after the first planning).
pub fn decide_actions(plan: &mut Plan, ref_facts: &RefFacts) {
    let parents: Vec<Option<usize>> = {
        let index: HashMap<&str, usize> = plan
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        plan.targets
            .iter()
            .map(|t| t.parent.as_deref().and_then(|p| index.get(p).copied()))
            .collect()
    };
    decide_actions_with(plan, &parents, ref_facts);
}

/// [`decide_actions`] with each target's parent by index (planning knows them from its
/// slots). Parents come first, so a parent is decided before its children.
fn decide_actions_with(plan: &mut Plan, parents: &[Option<usize>], ref_facts: &RefFacts) {
    debug_assert_eq!(parents.len(), plan.targets.len());
    let Plan {
        targets,
        full_rebuild,
        ..
    } = plan;
    for (i, &parent) in parents.iter().enumerate() {
        let (decided, undecided) = targets.split_at_mut(i);
        let t = &mut undecided[0];
        let parent = parent.map(|p| &decided[p]);
        let inputs_ref = t.inputs_reference();
        t.ref_states.inputs = inputs_ref.as_deref().map(|r| ref_facts.state(r));
        let (action, reason) = action::decide(
            &action::Facts {
                rebuild: t.rebuild,
                inputs: &t.inputs,
                reference: t.reference(),
                inputs_ref: inputs_ref.as_deref(),
                parent: parent.map(|p| (p.name.as_str(), p.action)),
                full_rebuild: full_rebuild.as_ref(),
            },
            ref_facts,
        );
        t.image_digest = match action {
            Action::Build => None,
            Action::Reuse => inputs_ref.as_deref().and_then(|r| ref_facts.digest(r)),
            Action::None => ref_facts.digest(t.reference()),
        }
        .map(str::to_string);
        t.action = action;
        t.action_reason = reason;
        t.parent_input = match (parent, &t.parent_from) {
            (Some(parent), Some(from)) => {
                let parent_inputs = (parent.action == Action::Reuse)
                    .then(|| parent.inputs_reference())
                    .flatten();
                let digest = parent.image_digest.as_deref();
                let state = match (parent.action, &parent_inputs) {
                    (Action::Build, _) => ParentState::Builds,
                    (Action::Reuse, Some(inputs_ref)) => ParentState::Reused { inputs_ref, digest },
                    _ => ParentState::Kept { digest },
                };
                parent_input::input(from, &parent.name, parent.reference(), state)
            }
            _ => None,
        };
    }
    plan.registry_probed = ref_facts.probed;
}

#[cfg(test)]
mod tests;
