//! Planning as a whole: what holds whatever way the targets are made.

use std::path::Path;

use super::*;
use crate::change_rules::ChangeRules;
use crate::spec::Spec;
use crate::stack::DockerfileSource;

/// A root and `children` children in two plans; every third child's Dockerfile does not
/// build on the root (a warning each).
fn wide_stack(children: usize) -> Stack {
    let mut spec = String::from(
        "tag: {prefix: '1'}\nplans:\n  a: {tag_prefix: '1'}\n  b: {tag_prefix: '1-b'}\nimages:\n  root:\n    image_name: example.com/root\n",
    );
    for i in 0..children {
        spec.push_str(&format!(
            "  c{i:04}:\n    image_name: example.com/c{i:04}\n    depend_on: root\n"
        ));
    }
    stack_with(&spec, |folder| {
        let i: usize = folder
            .strip_prefix('c')
            .map_or(1, |n| n.parse().expect("n"));
        if folder == "root" || !i.is_multiple_of(3) {
            "ARG BASE_TAG=latest\nFROM example.com/root:${BASE_TAG}\n".into()
        } else {
            "FROM busybox\n".into()
        }
    })
}

/// A stack from its spec, each folder's Dockerfile given by `dockerfile(folder)`.
fn stack_with(spec: &str, mut dockerfile: impl FnMut(&str) -> String) -> Stack {
    let (spec, warnings) = Spec::parse(spec, Path::new("images/spec.yml")).expect("spec");
    Stack::assemble(
        spec,
        warnings,
        ChangeRules::without_file(),
        "images",
        |folder, _| DockerfileSource::Text(dockerfile(folder)),
    )
    .expect("stack")
}

#[test]
fn a_level_made_over_all_cores_keeps_the_order_of_targets_and_warnings() {
    // 2 × 1,061 targets at depth 1: several batches, each over several threads.
    let children = 1_061;
    assert!(2 * children > 2 * TARGETS_PER_BATCH && TARGETS_PER_BATCH > 2 * TARGETS_PER_THREAD);
    let stack = wide_stack(children);
    let options = PlanOptions {
        branch: "main".into(),
        ..PlanOptions::default()
    };
    let plan = plan(
        &stack,
        &ChangeSet::default(),
        &Contexts::default(),
        &options,
        &RefFacts::default(),
    )
    .expect("plan");

    let mut expected = vec!["root-a".to_string(), "root-b".to_string()];
    for i in 0..children {
        expected.push(format!("c{i:04}-a"));
        expected.push(format!("c{i:04}-b"));
    }
    let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, expected);
    for t in &plan.targets[2..] {
        let plan_name = t.plan.as_deref().expect("a plan");
        assert_eq!(
            t.parent.as_deref(),
            Some(format!("root-{plan_name}").as_str())
        );
        assert_eq!(t.depth, 1);
    }

    let warned: Vec<String> = plan
        .warnings
        .iter()
        .map(|w| {
            w.message
                .split('`')
                .nth(1)
                .expect("a target name")
                .to_string()
        })
        .collect();
    let expected_warned: Vec<String> = expected[2..]
        .iter()
        .filter(|name| name[1..5].parse::<usize>().expect("n").is_multiple_of(3))
        .cloned()
        .collect();
    assert_eq!(warned, expected_warned);
}

/// A stack from its spec and each folder's Dockerfile (a variant's folder is
/// `<key>/<variant>`).
fn stack_of(spec: &str, dockerfiles: &[(&str, &str)]) -> Stack {
    stack_with(spec, |folder| {
        let text = dockerfiles.iter().find(|(f, _)| *f == folder);
        text.expect("a Dockerfile").1.to_string()
    })
}

const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// Offline, with a child built on `root` in both plans.
fn contexts_matter_offline(spec_images: &str, root: &str, only_plan: Option<&str>) -> bool {
    let spec = format!(
        "tag: {{prefix: '1'}}\nplans:\n  a: {{tag_prefix: '1'}}\n  b: {{tag_prefix: '1-b'}}\nimages:\n  root:\n    image_name: example.com/root\n{spec_images}  child:\n    image_name: example.com/child\n    depend_on: root\n"
    );
    let child = "ARG BASE_TAG=latest\nFROM example.com/root:${BASE_TAG}\n";
    let stack = stack_of(
        &spec,
        &[
            ("root", root),
            ("root/slim", "FROM scratch\n"),
            ("child", child),
        ],
    );
    let options = PlanOptions {
        branch: "main".into(),
        only_plan: only_plan.map(str::to_string),
        ..PlanOptions::default()
    };
    contexts_matter(&stack, &options, &RefFacts::default())
}

#[test]
fn contexts_matter_only_when_a_target_can_pin() {
    // A base by tag cannot pin offline, and its children inherit that.
    assert!(!contexts_matter_offline("", "FROM busybox\n", None));
    assert!(!contexts_matter_offline(
        "",
        "FROM scratch\nADD https://example.com/x /x\n",
        None
    ));
    // By digest, or from nothing: the context is all that is left.
    assert!(contexts_matter_offline(
        "",
        &format!("FROM busybox@{DIGEST}\n"),
        None
    ));
    assert!(contexts_matter_offline("", "FROM scratch\n", None));
    // A build arg that pins in one plan only: asked per plan.
    let per_plan = format!("    plan_build_args:\n      b: {{BASE: busybox@{DIGEST}}}\n");
    let root = "ARG BASE=busybox\nFROM ${BASE}\n";
    assert!(contexts_matter_offline(&per_plan, root, None));
    assert!(!contexts_matter_offline(&per_plan, root, Some("a")));
    assert!(contexts_matter_offline(&per_plan, root, Some("b")));
    // A variant is a target of its own.
    let variant = "    variants:\n      slim: {}\n";
    assert!(contexts_matter_offline(variant, "FROM busybox\n", None));
}

#[test]
fn a_plan_made_without_contexts_that_do_not_matter_differs_only_in_unpinned_digests() {
    let spec = "tag: {prefix: '1'}\nimages:\n  root:\n    image_name: example.com/root\n  child:\n    image_name: example.com/child\n    depend_on: root\n    variants:\n      slim: {}\n";
    let child = "ARG BASE_TAG=latest\nFROM example.com/root:${BASE_TAG}\n";
    let stack = stack_of(
        spec,
        &[
            ("root", "FROM busybox\n"),
            ("child", child),
            ("child/slim", child),
        ],
    );
    let options = PlanOptions {
        branch: "main".into(),
        ..PlanOptions::default()
    };
    let registry = RefFacts::default();
    assert!(!contexts_matter(&stack, &options, &registry));
    let contexts: Contexts = ["root", "child", "child/slim"]
        .into_iter()
        .map(|key| (key.to_string(), crate::context::ContextFiles::default()))
        .collect();
    let changes = ChangeSet::from_paths(["images/root/Dockerfile"]);
    let with = plan(&stack, &changes, &contexts, &options, &registry).expect("plan");
    let without = plan(&stack, &changes, &Contexts::default(), &options, &registry).expect("plan");
    assert_eq!(with.targets.len(), 3);
    for (mut a, b) in with.targets.into_iter().zip(without.targets) {
        assert!(a.inputs.digest.starts_with("sha256:") && b.inputs.digest.is_empty());
        assert!(!a.inputs.unpinned.is_empty());
        a.inputs.digest.clear();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}

/// `root` (files only) and `child` on it through `BASE_TAG`; with their contexts, so
/// both pin.
fn root_and_child(root_platforms: &str) -> (Stack, Contexts) {
    let spec = format!(
        "tag: {{prefix: '1'}}\nimages:\n  root:\n    image_name: r.io/o/root\n{root_platforms}  child:\n    image_name: r.io/o/child\n    depend_on: root\n"
    );
    let stack = stack_of(
        &spec,
        &[
            ("root", "FROM scratch\n"),
            (
                "child",
                "ARG BASE_TAG=latest\nFROM r.io/o/root:${BASE_TAG}\n",
            ),
        ],
    );
    let contexts: Contexts = ["root", "child"]
        .into_iter()
        .map(|key| (key.to_string(), crate::context::ContextFiles::default()))
        .collect();
    (stack, contexts)
}

fn plan_for(platform: Option<&str>, root_platforms: &str) -> Plan {
    let (stack, contexts) = root_and_child(root_platforms);
    let options = PlanOptions {
        branch: "dev".into(),
        platform: platform.map(str::to_string),
        ..PlanOptions::default()
    };
    plan(
        &stack,
        &ChangeSet::default(),
        &contexts,
        &options,
        &RefFacts::default(),
    )
    .expect("plan")
}

#[test]
fn a_target_without_platforms_is_planned_and_hashed_for_the_default_platform() {
    let amd64 = plan_for(Some("linux/amd64"), "");
    let arm64 = plan_for(Some("linux/arm64"), "");
    for (plan, platform) in [(&amd64, "linux/amd64"), (&arm64, "linux/arm64")] {
        for t in &plan.targets {
            assert_eq!(t.platforms, [platform], "{}", t.name);
            assert!(t.inputs.pinned, "{}: {:?}", t.name, t.inputs.unpinned);
        }
    }
    // An amd64 runner and an arm64 laptop never share a digest, nor do their children.
    for (a, b) in amd64.targets.iter().zip(&arm64.targets) {
        assert_ne!(a.inputs.digest, b.inputs.digest, "{}", a.name);
    }
    // The spec's platforms win over the default, and are hashed the same on every machine.
    let listed = "    platforms: [linux/amd64, linux/arm64]\n";
    let (a, b) = (
        plan_for(Some("linux/amd64"), listed),
        plan_for(Some("linux/arm64"), listed),
    );
    assert_eq!(a.targets[0].platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(a.targets[0].inputs.digest, b.targets[0].inputs.digest);
    assert_ne!(a.targets[1].inputs.digest, b.targets[1].inputs.digest);
}

/// Ref facts where `root`'s branch ref points at `branch` and each inputs ref of
/// `inputs` points at its digest; every other ref asked about is missing.
fn view_of(plan: &Plan, branch: Option<&str>, inputs: &[(&str, &str)]) -> RefFacts {
    let mut view = RefFacts {
        probed: true,
        ..RefFacts::default()
    };
    for t in &plan.targets {
        for (reference, _) in t.states_by_ref() {
            view.states.insert(reference, RefState::Missing);
        }
        if let Some(r) = t.inputs_reference() {
            view.states.insert(r, RefState::Missing);
        }
    }
    let mut present = |reference: String, digest: &str| {
        view.states.insert(reference.clone(), RefState::Present);
        view.digests.insert(reference, digest.to_string());
    };
    if let Some(digest) = branch {
        present(plan.targets[0].reference().to_string(), digest);
    }
    for (name, digest) in inputs {
        let t = plan.target(name).expect("a target");
        present(t.inputs_reference().expect("pinned"), digest);
    }
    view
}

const PARENT_IMAGE: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

#[test]
fn a_child_builds_on_the_parent_digest_the_plan_saw() {
    let (stack, contexts) = root_and_child("");
    let options = PlanOptions {
        branch: "dev".into(),
        platform: Some("linux/amd64".into()),
        ..PlanOptions::default()
    };
    let changes = ChangeSet::from_paths(["images/child/Dockerfile"]);
    let make = |view: &RefFacts| {
        let mut plan = plan(&stack, &changes, &contexts, &options, view).expect("plan");
        decide_actions(&mut plan, view);
        plan
    };
    let offline = make(&RefFacts::default());

    // Kept: the root's branch ref holds the root's inputs; the child builds on it.
    let root_inputs = offline.targets[0].inputs_reference().expect("pinned");
    let kept = make(&view_of(
        &offline,
        Some(PARENT_IMAGE),
        &[("root", PARENT_IMAGE)],
    ));
    let (root, child) = (&kept.targets[0], &kept.targets[1]);
    assert_eq!((root.action, child.action), (Action::None, Action::Build));
    assert_eq!(root.image_digest.as_deref(), Some(PARENT_IMAGE));
    assert_eq!(
        child.parent_input.as_ref().map(|i| &i.source),
        Some(&ParentSource::Image(format!(
            "r.io/o/root:1-dev@{PARENT_IMAGE}"
        )))
    );

    // Reused: the root's inputs were built elsewhere; the child reads that image by digest.
    let reused = make(&view_of(&offline, None, &[("root", PARENT_IMAGE)]));
    let (root, child) = (&reused.targets[0], &reused.targets[1]);
    assert_eq!((root.action, child.action), (Action::Reuse, Action::Build));
    assert_eq!(
        child.parent_input.as_ref().map(|i| &i.source),
        Some(&ParentSource::Image(format!(
            "{root_inputs}@{PARENT_IMAGE}"
        )))
    );

    // Offline, nothing is known: the child reads the parent's ref as its FROM names it.
    assert_eq!(offline.targets[1].parent_input, None);
    assert_eq!(offline.targets[0].image_digest, None);
}

const CHILD_IMAGE: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

#[test]
fn a_target_not_built_leads_with_how_it_is_satisfied_and_never_says_its_parent_rebuilds() {
    let (stack, contexts) = root_and_child("");
    let options = PlanOptions {
        branch: "dev".into(),
        platform: Some("linux/amd64".into()),
        ..PlanOptions::default()
    };
    // The change rules put both in the plan (root changed); the registry has both inputs,
    // the child's under its branch tag already.
    let changes = ChangeSet::from_paths(["images/root/Dockerfile"]);
    let offline = plan(&stack, &changes, &contexts, &options, &RefFacts::default()).expect("plan");
    let mut view = view_of(
        &offline,
        None,
        &[("root", PARENT_IMAGE), ("child", CHILD_IMAGE)],
    );
    let child_ref = offline.targets[1].reference().to_string();
    view.states.insert(child_ref.clone(), RefState::Present);
    view.digests.insert(child_ref.clone(), CHILD_IMAGE.into());
    let mut online = plan(&stack, &changes, &contexts, &options, &view).expect("plan");
    decide_actions(&mut online, &view);
    let actions: Vec<Action> = online.targets.iter().map(|t| t.action).collect();
    assert_eq!(actions, [Action::Reuse, Action::None]);
    assert!(online.targets.iter().all(|t| t.rebuild));

    let text = anstream::adapter::strip_str(&crate::emit::plan_text::render(&online)).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!text.contains("rebuilds"), "{text}");
    let root_inputs = online.targets[0].inputs_reference().expect("pinned");
    let block = |name: &str| -> Vec<&str> {
        let start = lines
            .iter()
            .position(|l| l.contains(&format!(" {name}  ")))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"));
        lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .map(|l| l.trim())
            .collect()
    };
    let root = block("root");
    assert!(
        root[0].starts_with(&format!(
            "reused from {root_inputs}@{PARENT_IMAGE}: its inputs sha256:"
        )),
        "{root:?}"
    );
    assert!(root[1..].iter().all(|l| l.starts_with("why")), "{text}");
    let child = block("child");
    assert_eq!(
        child[..2],
        [
            format!(
                "kept   at {child_ref}@{CHILD_IMAGE}: it already has inputs {}",
                crate::inputs_digest::short(&online.targets[1].inputs.digest)
            )
            .as_str(),
            "why    parent root is in the plan (reused, not rebuilt)",
        ],
        "{text}"
    );

    let markdown = crate::emit::plan_markdown::render(&online);
    assert!(!markdown.contains("rebuilds"), "{markdown}");
    assert!(
        markdown.contains(&format!(
            "| kept at {child_ref}@{CHILD_IMAGE}: it already has inputs"
        )),
        "{markdown}"
    );
}

#[test]
fn a_test_status_shows_in_every_plan_only_when_it_is_known() {
    use crate::test_record::TestStatus;
    let json_of = |plan: &Plan| {
        let mut out = Vec::new();
        crate::emit::plan_json::write(plan, &mut out).expect("JSON");
        String::from_utf8(out).expect("UTF-8")
    };
    let mut plan = plan_for(Some("linux/amd64"), "");
    let json = json_of(&plan);
    assert!(!json.contains("\"tests\""), "{json}");
    plan.targets[0].tests = Some(TestStatus::Passed);
    plan.targets[1].tests = Some(TestStatus::Failed);
    let json: serde_json::Value = serde_json::from_str(&json_of(&plan)).expect("JSON");
    let root = json["targets"][0].as_object().expect("a target");
    let keys: Vec<&str> = root.keys().map(String::as_str).collect();
    let at = keys.iter().position(|k| *k == "tests").expect("tests");
    assert_eq!(keys[at - 1], "action_reason", "{keys:?}");
    assert_eq!(root["tests"], "passed");
    assert_eq!(json["targets"][1]["tests"], "failed");
    plan.targets[1].tests = Some(TestStatus::Untested);
    let text = anstream::adapter::strip_str(&crate::emit::plan_text::render(&plan)).to_string();
    assert!(
        text.contains("tests  passed: its image passed these tests already"),
        "{text}"
    );
    assert!(text.contains("tests  untested: no record"), "{text}");
    let markdown = crate::emit::plan_markdown::render(&plan);
    assert!(markdown.contains("<br>tests passed: "), "{markdown}");
    assert!(markdown.contains("<br>tests untested: "), "{markdown}");
}
