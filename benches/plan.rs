//! Planning a synthetic stack of 5,000 images: spec parsing, stack assembly (one
//! Dockerfile per image), planning with a change set, and bake/plan JSON emission.
//! Run: `cargo bench --bench plan`. The figures go in the README's performance section.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use stackplan::change_rules::ChangeRules;
use stackplan::change_set::ChangeSet;
use stackplan::context::{ContextEntry, ContextFiles, Contexts, EntryKind, blob_id};
use stackplan::emit;
use stackplan::plan::{PlanOptions, plan};
use stackplan::ref_facts::RefFacts;
use stackplan::spec::Spec;
use stackplan::stack::{DockerfileSource, Stack};

/// A tree of `n` images, four children per parent (depth ~6), two plans.
fn synthetic_spec(n: usize) -> String {
    let mut s = String::from(
        "tag: {prefix: '2026.3'}\nplans:\n  a: {tag_prefix: '2026.3'}\n  b: {tag_prefix: '2026.3-b'}\nimages:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  img-{i:05}:\n    image_name: ghcr.io/org/img-{i:05}\n    build_args: {{N: '{i}'}}\n"
        ));
        if i > 0 {
            s.push_str(&format!("    depend_on: img-{:05}\n", (i - 1) / 4));
        }
    }
    s
}

fn dockerfile(key: &str, n: usize) -> String {
    let i: usize = key[4..].parse().unwrap();
    if i == 0 || i >= n {
        "ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\nRUN true\n".to_string()
    } else {
        format!(
            "ARG BASE_TAG=latest\nFROM ghcr.io/org/img-{:05}:${{BASE_TAG}}\nRUN true\n",
            (i - 1) / 4
        )
    }
}

fn assemble(spec_text: &str, dockerfiles: &BTreeMap<String, String>) -> Stack {
    let (spec, warnings) = Spec::parse(spec_text, Path::new("images/spec.yml")).unwrap();
    Stack::assemble(
        spec,
        warnings,
        ChangeRules::without_file(),
        "images",
        |folder, _| DockerfileSource::Text(dockerfiles[folder].clone()),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let n = 5_000;
    let spec_text = synthetic_spec(n);
    let dockerfiles: BTreeMap<String, String> = (0..n)
        .map(|i| {
            let key = format!("img-{i:05}");
            let df = dockerfile(&key, n);
            (key, df)
        })
        .collect();
    // A change in a subtree near the top: about a quarter of the stack rebuilds.
    let changes = ChangeSet::from_paths(["images/img-00001/Dockerfile", "images/img-04321/x"]);
    let options = PlanOptions {
        branch: "feature-x".into(),
        ..PlanOptions::default()
    };
    let registry = RefFacts::default();
    // Every image's context: its Dockerfile, as the context reader gives it.
    let contexts: Contexts = dockerfiles
        .iter()
        .map(|(key, df)| {
            let id = blob_id(df.as_bytes());
            let files = ContextFiles {
                entries: vec![ContextEntry {
                    path: "Dockerfile".into(),
                    kind: EntryKind::File {
                        mode: 0o644,
                        id: id.clone(),
                        hardlink: String::new(),
                    },
                    xattrs: Vec::new(),
                }],
                dockerfile_id: id,
            };
            (key.clone(), files)
        })
        .collect();

    let mut group = c.benchmark_group("5000 images, 2 plans");
    group.sample_size(10);
    group.bench_function("parse + assemble", |b| {
        b.iter(|| black_box(assemble(&spec_text, &dockerfiles)))
    });
    let stack = assemble(&spec_text, &dockerfiles);
    group.bench_function("plan (with inputs digests)", |b| {
        b.iter(|| black_box(plan(&stack, &changes, &contexts, &options, &registry).unwrap()))
    });
    let p = plan(&stack, &changes, &contexts, &options, &registry).unwrap();
    eprintln!(
        "targets: {}, rebuild: {}",
        p.targets.len(),
        p.rebuilt().count()
    );
    group.bench_function("emit bake JSON", |b| {
        b.iter(|| black_box(emit::bake::render(&p, &Default::default())))
    });
    group.bench_function("end to end (parse, plan, bake JSON)", |b| {
        b.iter(|| {
            let stack = assemble(&spec_text, &dockerfiles);
            let p = plan(&stack, &changes, &contexts, &options, &registry).unwrap();
            black_box(emit::bake::render(&p, &Default::default()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
