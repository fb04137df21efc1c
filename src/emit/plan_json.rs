//! `stackplan plan --format json`: the plan as a stable, documented JSON contract.
//!
//! The view structs below *are* the contract (see docs/plan-json.md); fields may be added,
//! never renamed. Targets come in the plan's order: parents before children.

use std::collections::BTreeMap;

use serde::Serialize;

use super::pretty_json::{self, Collection};
use crate::inputs_digest::BaseImage;
use crate::plan::{Plan, SmallMap, Target};
use crate::ref_facts::RefState;
use crate::test_record::TestStatus;

#[derive(Serialize)]
struct PlanView<'a> {
    branch: &'a str,
    base: Option<&'a str>,
    head: Option<&'a str>,
    full_rebuild: bool,
    full_rebuild_reason: Option<String>,
    changed_files: &'a [String],
    ignored_files: Vec<IgnoredView<'a>>,
    unowned_files: &'a [String],
    registry_probed: bool,
    summary: Summary,
    // `targets` follows, written by [`write`].
}

#[derive(Serialize)]
struct IgnoredView<'a> {
    path: &'a str,
    rule: &'a str,
}

#[derive(Serialize)]
struct Summary {
    targets: usize,
    rebuild: usize,
    build: usize,
    reuse: usize,
    none: usize,
}

#[derive(Serialize)]
struct TargetView<'a> {
    name: &'a str,
    image: &'a str,
    /// The image's variant, when the target is not the default one.
    variant: Option<&'a str>,
    plan: Option<&'a str>,
    image_name: &'a str,
    parent: Option<&'a str>,
    rebuild: bool,
    reasons: Vec<String>,
    reason_details: Vec<ReasonView>,
    action: crate::plan::action::Action,
    action_reason: ReasonView,
    /// What the test records say, only when the registry was asked (online) and the target
    /// is one the matrix would retest: an offline plan has no such field.
    #[serde(skip_serializing_if = "Option::is_none")]
    tests: Option<TestStatus>,
    inputs: InputsView<'a>,
    tag_prefix: &'a str,
    tag: &'a str,
    tags: &'a [String],
    cache_from: Vec<String>,
    cache_to: Option<&'a str>,
    #[serde(serialize_with = "as_map")]
    build_args: &'a SmallMap<String>,
    context: &'a str,
    dockerfile: &'a str,
    platforms: &'a [String],
    contexts: BTreeMap<String, String>,
    /// The build arg set so the `FROM` names the parent's ref of this run.
    parent_arg: Option<&'a str>,
    #[serde(serialize_with = "as_map")]
    registry: SmallMap<RefState>,
    info_cmds: Vec<&'a str>,
    integration_tests: bool,
    depth: usize,
}

#[derive(Serialize)]
struct InputsView<'a> {
    digest: &'a str,
    pinned: bool,
    unpinned: &'a [String],
    tag: Option<String>,
    bases: &'a [BaseImage],
}

#[derive(Serialize)]
struct ReasonView {
    kind: &'static str,
    message: String,
}

fn target_view(t: &Target) -> TargetView<'_> {
    TargetView {
        name: &t.name,
        image: &t.image,
        variant: t.variant.as_deref(),
        plan: t.plan.as_deref(),
        image_name: &t.image_name,
        parent: t.parent.as_deref(),
        rebuild: t.rebuild,
        reasons: t.reasons.iter().map(ToString::to_string).collect(),
        reason_details: t
            .reasons
            .iter()
            .map(|r| ReasonView {
                kind: r.kind(),
                message: r.to_string(),
            })
            .collect(),
        action: t.action,
        action_reason: ReasonView {
            kind: t.action_reason.kind(),
            message: t.action_reason.to_string(),
        },
        tests: t.tests,
        inputs: InputsView {
            digest: &t.inputs.digest,
            pinned: t.inputs.pinned,
            unpinned: &t.inputs.unpinned,
            tag: t.inputs.tag(),
            bases: &t.inputs.bases,
        },
        tag_prefix: &t.tag_prefix,
        tag: &t.tag,
        tags: &t.tags,
        cache_from: t.cache_from(),
        cache_to: t.cache_to_ref.as_deref(),
        build_args: &t.build_args,
        context: &t.context,
        dockerfile: &t.dockerfile,
        platforms: &t.platforms,
        contexts: crate::emit::bake::contexts(t),
        parent_arg: t.parent_arg.as_deref(),
        registry: t.states_by_ref(),
        info_cmds: t.info_cmds.iter().map(|(name, _)| name.as_str()).collect(),
        integration_tests: t.integration_tests,
        depth: t.depth,
    }
}

/// Writes the plan as pretty JSON with a final newline.
pub fn write(plan: &Plan, out: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
    let view = PlanView {
        branch: &plan.branch,
        base: plan.base.as_deref(),
        head: plan.head.as_deref(),
        full_rebuild: plan.full_rebuild.is_some(),
        full_rebuild_reason: plan.full_rebuild.as_ref().map(ToString::to_string),
        changed_files: &plan.changed_files,
        ignored_files: plan
            .ignored_files
            .iter()
            .map(|(path, rule)| IgnoredView { path, rule })
            .collect(),
        unowned_files: &plan.unowned_files,
        registry_probed: plan.registry_probed,
        summary: {
            let (build, reuse, none) = plan.action_counts();
            Summary {
                targets: plan.targets.len(),
                rebuild: plan.rebuilt().count(),
                build,
                reuse,
                none,
            }
        },
    };
    // Each target viewed as it is written, over the cores: a plan of thousands is not
    // copied whole.
    pretty_json::write_with_collection(
        out,
        &view,
        "targets",
        Collection::Array,
        &plan.targets,
        |t, out| out.value(&target_view(t)),
    )?;
    out.write_all(b"\n")
}

/// A small map as a JSON object (written here rather than by litemap's serde feature,
/// which writes an empty map as `[]`).
fn as_map<M: std::borrow::Borrow<SmallMap<V>>, V: Serialize, S: serde::Serializer>(
    map: &M,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(map.borrow().iter())
}
