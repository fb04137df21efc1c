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
    let (spec, warnings) = Spec::parse(&spec, Path::new("images/spec.yml")).expect("spec");
    Stack::assemble(
        spec,
        warnings,
        ChangeRules::without_file(),
        "images",
        |folder, _| {
            let i: usize = folder
                .strip_prefix('c')
                .map_or(1, |n| n.parse().expect("n"));
            DockerfileSource::Text(if folder == "root" || !i.is_multiple_of(3) {
                "ARG BASE_TAG=latest\nFROM example.com/root:${BASE_TAG}\n".into()
            } else {
                "FROM busybox\n".into()
            })
        },
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
