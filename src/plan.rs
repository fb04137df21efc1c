//! The plan: one value that says, for every target (image × plan), whether it rebuilds and
//! why, how it is tagged, what it caches from and which build args it gets.
//!
//! Every emitter (bake JSON, plan text/JSON, graph, LLB) and every executor reads this
//! value and nothing else, so they cannot disagree. Planning is pure and cheap: registry
//! facts come in as a [`RegistryView`] that an adapter filled beforehand.

use std::collections::BTreeMap;
use std::fmt;

use crate::change_set::ChangeSet;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::rebuild::{self, FullRebuild, Reason};
use crate::reference;
use crate::spec::{Image, InfoCmd, PlanSpec};
use crate::stack::{Stack, join};
use crate::tag;

/// Where the build cache is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
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
}

/// What the registry said about a ref.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefState {
    Present,
    Missing,
    #[default]
    Unknown,
}

impl fmt::Display for RefState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefState::Present => "present",
            RefState::Missing => "missing",
            RefState::Unknown => "unknown",
        })
    }
}

/// The registry facts planning may use; empty (all unknown) when offline.
#[derive(Clone, Debug, Default)]
pub struct RegistryView {
    pub states: BTreeMap<String, RefState>,
    /// Whether a probe ran at all.
    pub probed: bool,
}

impl RegistryView {
    pub fn state(&self, reference: &str) -> RefState {
        self.states.get(reference).copied().unwrap_or_default()
    }
}

/// Where a child's parent image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentInput {
    /// The child's `FROM` exactly as BuildKit looks it up (familiar form).
    pub from: String,
    pub source: ParentSource,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParentSource {
    /// The parent is built in the same run: chain to its result. `reference` is the ref the
    /// parent is exported under, for executors that chain through the registry.
    Target { name: String, reference: String },
    /// The parent is not rebuilt, but the `FROM` names another place (a `--registry`
    /// rewrite): redirect it to this ref.
    Image(String),
}

/// One image in one plan.
#[derive(Clone, Debug)]
pub struct Target {
    /// Unique, `[a-zA-Z0-9_-]+`: `<key>` or `<key>-<plan>`.
    pub name: String,
    /// The spec key (folder name).
    pub image: String,
    pub plan: Option<String>,
    /// After the `--registry` rewrite.
    pub image_name: String,
    /// The parent target's name.
    pub parent: Option<String>,
    pub depth: usize,
    pub rebuild: bool,
    pub reasons: Vec<Reason>,
    pub tag_prefix: String,
    /// `<prefix>-<branch>`.
    pub tag: String,
    /// Refs the build writes.
    pub tags: Vec<String>,
    pub cache_from: Vec<String>,
    /// The registry cache ref, with `--cache-to registry`.
    pub cache_to_ref: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// The image folder, relative to the repository root.
    pub context: String,
    /// The Dockerfile, relative to `context`.
    pub dockerfile: String,
    pub platforms: Vec<String>,
    pub parent_input: Option<ParentInput>,
    pub labels: BTreeMap<String, String>,
    /// What the registry said about each ref this target cares about.
    pub registry: BTreeMap<String, RefState>,
    /// The image's `info_cmds`, resolved from `all_info_cmds`.
    pub info_cmds: Vec<(String, InfoCmd)>,
    pub integration_tests: bool,
}

impl Target {
    /// `<image_name>:<prefix>-<branch>`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.image_name, self.tag)
    }

    pub fn stable_references(&self) -> [String; 2] {
        [
            format!(
                "{}:{}",
                self.image_name,
                tag::prefix_stable(&self.tag_prefix)
            ),
            format!("{}:{}", self.image_name, tag::STABLE),
        ]
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
    /// Parents before children (depth, key, plan).
    pub targets: Vec<Target>,
    /// The plans in play (empty when the spec has none).
    pub plans: Vec<String>,
    pub registry_probed: bool,
    pub cache_to: CacheTo,
    pub warnings: Vec<Diagnostic>,
}

impl Plan {
    pub fn rebuilt(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().filter(|t| t.rebuild)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// Every ref whose registry state planning can use, for the probe.
pub fn registry_refs(stack: &Stack, opts: &PlanOptions) -> Result<Vec<String>> {
    let plan = plan(stack, &ChangeSet::default(), opts, &RegistryView::default())?;
    let mut refs: Vec<String> = plan
        .targets
        .iter()
        .flat_map(|t| t.registry.keys().cloned())
        .collect();
    refs.sort();
    refs.dedup();
    Ok(refs)
}

/// Makes the plan.
pub fn plan(
    stack: &Stack,
    changes: &ChangeSet,
    opts: &PlanOptions,
    registry: &RegistryView,
) -> Result<Plan> {
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
    for key in opts.build_args.keys() {
        if key.is_empty() {
            return Err(Error::usage("--build-arg needs a name before `=`"));
        }
    }

    let decisions = rebuild::decide(
        spec,
        &stack.graph,
        &stack.rules,
        changes,
        &stack.images_dir,
        opts.full_rebuild.clone(),
    );

    let mut targets: Vec<Target> = Vec::new();
    let mut index: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    let mut names = NameAllocator::reserving(spec.plans.keys().map(|p| group_name(p)));
    let mut warnings = Vec::new();
    for key in stack.graph.order() {
        let image = &spec.images[key];
        for plan in spec.plans_of(image) {
            if let (Some(only), Some(p)) = (&opts.only_plan, plan)
                && &p.name != only
            {
                continue;
            }
            let plan_name = plan.map(|p| p.name.clone());
            let parent_index = image
                .depend_on
                .as_ref()
                .and_then(|p| index.get(&(p.clone(), plan_name.clone())).copied());
            let target = make_target(
                stack,
                image,
                plan,
                parent_index.map(|i| &targets[i]),
                &decisions.reasons,
                opts,
                registry,
                &mut names,
                &mut warnings,
            )?;
            index.insert((key.clone(), plan_name), targets.len());
            targets.push(target);
        }
    }

    let plans = match &opts.only_plan {
        Some(p) => vec![p.clone()],
        None => spec.plans.keys().cloned().collect(),
    };
    Ok(Plan {
        branch: opts.branch.clone(),
        base: changes.base.clone(),
        head: changes.head.clone(),
        full_rebuild: opts.full_rebuild.clone(),
        changed_files: changes.files.clone(),
        ignored_files: decisions.ignored,
        unowned_files: decisions.unowned,
        targets,
        plans,
        registry_probed: registry.probed,
        cache_to: opts.cache_to,
        warnings,
    })
}

#[allow(clippy::too_many_arguments)]
fn make_target(
    stack: &Stack,
    image: &Image,
    plan: Option<&PlanSpec>,
    parent: Option<&Target>,
    change_reasons: &BTreeMap<String, Vec<Reason>>,
    opts: &PlanOptions,
    registry: &RegistryView,
    names: &mut NameAllocator,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Target> {
    let spec = &stack.spec;
    let name = names.allocate(match plan {
        Some(p) => format!("{}-{}", image.key, p.name),
        None => image.key.clone(),
    });
    let image_name = match &opts.registry {
        Some(r) => reference::rewrite_registry(&image.image_name, r),
        None => image.image_name.clone(),
    };
    let tag_prefix = plan
        .map(|p| p.tag_prefix.clone())
        .unwrap_or_else(|| spec.tag_prefix.clone());
    let tag = tag::branch_tag_for(&tag_prefix, &opts.branch);
    if !tag::is_valid_tag(&tag) {
        return Err(Error::usage_with_help(
            format!("the tag `{tag}` of `{name}` is not a valid Docker tag (too long?)"),
            "shorten the branch name with --branch NAME",
        ));
    }
    let reference = format!("{image_name}:{tag}");

    // Build args, lowest precedence first.
    let mut build_args = image.build_args.clone();
    if let Some(p) = plan {
        build_args.extend(p.build_args.clone());
        if let Some(extra) = image.plan_build_args.get(&p.name) {
            build_args.extend(extra.clone());
        }
    }
    build_args.extend(opts.build_args.clone());
    let dockerfile = stack.dockerfiles.get(&image.key);
    if let Some(parent) = parent {
        build_args.insert("BASE_TAG".into(), parent.tag.clone());
        if dockerfile.is_some_and(|df| df.declares_global_arg("BASE_IMAGE")) {
            build_args.insert("BASE_IMAGE".into(), parent.reference());
        }
    }

    // Registry facts and the rebuild decision.
    let stable_refs = [
        format!("{image_name}:{}", tag::prefix_stable(&tag_prefix)),
        format!("{image_name}:{}", tag::STABLE),
    ];
    let cache_to_ref =
        (opts.cache_to == CacheTo::Registry).then(|| format!("{image_name}:buildcache-{tag}"));
    let mut watched: Vec<String> = vec![reference.clone()];
    watched.extend(stable_refs.iter().cloned());
    watched.extend(cache_to_ref.iter().cloned());
    let registry_states: BTreeMap<String, RefState> = watched
        .iter()
        .map(|r| (r.clone(), registry.state(r)))
        .collect();

    let mut reasons = change_reasons.get(&image.key).cloned().unwrap_or_default();
    if registry.state(&reference) == RefState::Missing {
        reasons.push(Reason::BranchTagMissing {
            reference: reference.clone(),
        });
    }
    if let Some(parent) = parent.filter(|p| p.rebuild) {
        reasons.push(Reason::Parent {
            parent: parent.name.clone(),
        });
    }
    let rebuild = !reasons.is_empty();

    let mut cache_from: Vec<String> = cache_to_ref.iter().cloned().collect();
    cache_from.push(reference.clone());
    cache_from.extend(stable_refs.iter().cloned());
    cache_from.retain(|r| registry.state(r) != RefState::Missing);

    let parent_input = match (parent, dockerfile) {
        (Some(parent), Some(df)) => {
            let original = format!(
                "{}:{}",
                spec.images[image.depend_on.as_deref().unwrap_or_default()].image_name,
                parent.tag
            );
            let wanted = [
                reference::familiar_repository(&parent.reference()),
                reference::familiar_repository(&original),
            ];
            let from = df
                .resolve_bases(&build_args)
                .into_iter()
                .filter(|b| !b.is_stage)
                .map(|b| reference::familiar(&b.reference))
                .find(|r| wanted.contains(&reference::familiar_repository(r)));
            let from = match from {
                Some(f) => f,
                None => {
                    warnings.push(Diagnostic::warning(format!(
                        "target `{name}`: no FROM of its Dockerfile resolves to {}; BuildKit cannot chain it to `{}`",
                        parent.reference(),
                        parent.name
                    )));
                    reference::familiar(&parent.reference())
                }
            };
            if parent.rebuild {
                Some(ParentInput {
                    from,
                    source: ParentSource::Target {
                        name: parent.name.clone(),
                        reference: parent.reference(),
                    },
                })
            } else if from != reference::familiar(&parent.reference()) {
                Some(ParentInput {
                    from,
                    source: ParentSource::Image(parent.reference()),
                })
            } else {
                None
            }
        }
        _ => None,
    };

    let mut labels = BTreeMap::new();
    labels.insert("org.opencontainers.image.version".to_string(), tag.clone());
    if let Some(rev) = &opts.revision {
        labels.insert("org.opencontainers.image.revision".to_string(), rev.clone());
    }
    if let Some(src) = &opts.source_url {
        labels.insert("org.opencontainers.image.source".to_string(), src.clone());
    }

    Ok(Target {
        name,
        image: image.key.clone(),
        plan: plan.map(|p| p.name.clone()),
        image_name,
        parent: parent.map(|p| p.name.clone()),
        depth: stack.graph.depth(&image.key),
        rebuild,
        reasons,
        tag_prefix,
        tag,
        tags: vec![reference],
        cache_from,
        cache_to_ref,
        build_args,
        context: join(&stack.images_dir, &image.key),
        dockerfile: image.dockerfile.clone(),
        platforms: image.platforms.clone(),
        parent_input,
        labels,
        registry: registry_states,
        info_cmds: image
            .info_cmds
            .iter()
            .filter_map(|name| {
                spec.all_info_cmds
                    .get(name)
                    .map(|cmd| (name.clone(), cmd.clone()))
            })
            .collect(),
        integration_tests: image.integration_tests,
    })
}

/// The bake group name of a plan: buildx names are `[a-zA-Z0-9_-]+`.
pub fn group_name(plan: &str) -> String {
    sanitize_name(plan)
}

fn sanitize_name(wanted: &str) -> String {
    wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Hands out target names that buildx accepts and that are unique, never one of the
/// bake file's group names.
struct NameAllocator {
    used: std::collections::BTreeSet<String>,
}

impl NameAllocator {
    fn reserving(groups: impl Iterator<Item = String>) -> Self {
        let mut used: std::collections::BTreeSet<String> = groups.collect();
        used.extend(["default".to_string(), "all".to_string()]);
        NameAllocator { used }
    }

    fn allocate(&mut self, wanted: String) -> String {
        let base = sanitize_name(&wanted);
        let mut name = base.clone();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }
}
