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
        &RegistryView::default(),
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
    contexts_matter(&stack, &options, &RegistryView::default())
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
    let registry = RegistryView::default();
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
