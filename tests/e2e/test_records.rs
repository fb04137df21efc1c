//! Test records against the real registry (distribution 2.8, no referrers API: the OCI 1.1
//! fallback tag is what is written and read): records left by `stackplan test-result`
//! take tested images out of the matrix, `promote --require-tests` moves only images with
//! a passed record, and writing a record holds through the fault front.

use std::process::Output;

use serde_json::Value;

use crate::env::EXAMPLE_TARGETS as TARGETS;
use crate::env::{
    Env, arm_faults, bake, digest, fault_front, faults_served, ok, raw_manifest, unique,
};
use crate::support::Repo;

struct Stack {
    repo: Repo,
    /// The path of the namespace on the registries (`e2e-records-…`).
    path: String,
    registry: String,
    base: String,
}

impl Stack {
    fn ns(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    fn run_at(&self, ns: &str, command: &str, extra: &[&str]) -> Output {
        let base = format!("BASE_IMAGE={}", self.base);
        let mut args = vec![command, "--registry", ns, "--build-arg", &base];
        args.extend_from_slice(extra);
        crate::env::stackplan(&self.repo, &args, None)
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        self.run_at(&self.ns(), command, extra)
    }

    fn matrix(&self) -> (Vec<(String, String)>, String) {
        let out = self.run("matrix", &[]);
        let matrix: Value = serde_json::from_str(&ok(&out)).unwrap();
        let jobs = matrix["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| {
                (
                    j["target"].as_str().unwrap().to_string(),
                    j["action"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (jobs, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Every target's `"tests"` in `plan --format json` (`None`: the field is absent), with
    /// the plan's stderr.
    fn plan_tests(&self, extra: &[&str]) -> (Vec<(String, Option<String>)>, String) {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = self.run("plan", &args);
        let plan: Value = serde_json::from_str(&ok(&out)).unwrap();
        let tests = plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t.get("tests").map(|s| s.as_str().unwrap().to_string()),
                )
            })
            .collect();
        (tests, stderr(&out))
    }

    /// The test status `plan --format json` gives each target: `status` for every target,
    /// but `other` for `target`.
    fn assert_plan_tests(&self, status: &str, other: Option<(&str, &str)>) {
        let (mut tests, _) = self.plan_tests(&[]);
        let mut expected: Vec<(String, Option<String>)> = TARGETS
            .iter()
            .map(|(target, _, _)| {
                let status = match other {
                    Some((t, s)) if t == *target => s,
                    _ => status,
                };
                (target.to_string(), Some(status.to_string()))
            })
            .collect();
        tests.sort();
        expected.sort();
        assert_eq!(tests, expected);
    }

    fn reference(&self, image: &str, tag: &str) -> String {
        format!("{}/{image}:{tag}", self.ns())
    }

    fn tags(&self, suffix: &str) -> Vec<Option<String>> {
        TARGETS
            .iter()
            .map(|(_, image, prefix)| digest(&self.reference(image, &format!("{prefix}-{suffix}"))))
            .collect()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn records_take_tested_images_out_of_the_matrix_and_gate_promotion() {
    let Some(env) = Env::require() else { return };
    let stack = Stack {
        repo: Repo::example(),
        path: format!("e2e-records-{}", unique()),
        registry: env.registry.clone(),
        base: env.base_image.clone(),
    };
    // rstudio's tests are not in its build context, so a change to them rebuilds nothing.
    stack
        .repo
        .write(
            "images/rstudio-notebook/.dockerignore",
            "test\nintegration_tests\n",
        )
        .commit("rstudio: tests are not in the context");
    ok(&stack.run("reuse", &[]));
    let run = bake(&stack.repo, &ok(&stack.run("bake", &["--push"])), None);
    assert!(run.success, "bake failed:\n{}", run.stderr);

    // A branch that changes the shared tests: every image is retested, none built.
    stack.repo.branch("t1");
    stack
        .repo
        .append("images/tests_common/test_common.sh", "echo more\n")
        .commit("tests");
    // No image under the branch tag yet: nothing to record a result for.
    let out = stack.run("test-result", &[TARGETS[0].0, "--passed"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("base-notebook:2026.3-t1 does not exist"),
        "{}",
        stderr(&out)
    );
    ok(&stack.run("reuse", &[]));
    let (jobs, _) = stack.matrix();
    assert_eq!(jobs.len(), TARGETS.len(), "{jobs:?}");
    assert!(jobs.iter().all(|(_, a)| a == "retest"), "{jobs:?}");
    // The plans say why: no image has a record for these tests yet.
    stack.assert_plan_tests("untested", None);

    // Unknown target, clear error naming the targets.
    let out = stack.run("test-result", &["nope", "--passed"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no target `nope`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("base-notebook-py311"),
        "{}",
        stderr(&out)
    );

    // Every image passes; one record goes through the fault front, which spoils its first
    // requests (throttled, unavailable) until the retries get through.
    let log = stack.repo.path().join("test.log");
    std::fs::write(&log, "PASSED tests_common\nGITHUB_TOKEN=ghp_not_recorded\n").unwrap();
    let log = log.to_str().unwrap().to_string();
    arm_faults(&stack.path, "429,ok,503,ok,503", 5, 1);
    let through_faults = format!("{}/{}", fault_front(), stack.path);
    let out = stack.run_at(
        &through_faults,
        "test-result",
        &[
            TARGETS[0].0,
            "--passed",
            "--url",
            "https://ci.example/runs/1",
            "--log",
            &log,
        ],
    );
    let served = faults_served(&stack.path);
    arm_faults(&stack.path, "", 0, 1);
    let printed = ok(&out);
    assert!(
        served.iter().any(|(f, _)| f != "ok"),
        "the fault front served no fault: {served:?}"
    );
    assert!(printed.starts_with("recorded passed for "), "{printed}");
    assert!(printed.contains("fallback tag"), "{printed}");
    for (target, _, _) in &TARGETS[1..] {
        ok(&stack.run("test-result", &[target, "--passed", "--log", &log]));
    }

    // The record, as standard tools see it: the fallback tag lists it, with its annotations.
    let image = stack.reference("base-notebook", "2026.3-t1");
    let image_digest = digest(&image).unwrap();
    let fallback = format!(
        "{}/base-notebook:{}",
        stack.ns(),
        image_digest.replace(':', "-")
    );
    let index = raw_manifest(&fallback).expect("the fallback tag exists");
    let records = index["manifests"].as_array().unwrap();
    assert_eq!(
        records.len(),
        1,
        "one record, of base-notebook-py311: {index:#}"
    );
    assert_eq!(
        records[0]["annotations"]["dev.stackplan.target"],
        TARGETS[0].0
    );
    for r in records {
        assert_eq!(
            r["artifactType"],
            "application/vnd.stackplan.test-result.v1+json"
        );
        assert_eq!(r["annotations"]["dev.stackplan.tests.result"], "passed");
        let artifact = raw_manifest(&format!(
            "{}/base-notebook@{}",
            stack.ns(),
            r["digest"].as_str().unwrap()
        ))
        .unwrap();
        assert_eq!(artifact["subject"]["digest"], image_digest.as_str());
        let text = artifact.to_string();
        assert!(!text.contains("ghp_not_recorded"), "{text}");
        assert!(
            artifact["annotations"]["dev.stackplan.tests.log.digest"]
                .as_str()
                .unwrap()
                .starts_with("sha256:"),
            "{text}"
        );
    }

    let (jobs, status) = stack.matrix();
    assert_eq!(
        jobs,
        Vec::<(String, String)>::new(),
        "every image passed these tests"
    );
    assert!(status.contains("5 of 5 retest(s) left out"), "{status}");
    // The plan shows each target tested; offline it says nothing of tests.
    stack.assert_plan_tests("passed", None);
    let (_, status) = stack.plan_tests(&[]);
    assert!(
        status.contains("tests: 5 of 5 retest(s) passed these tests already, 0 failed"),
        "{status}"
    );
    let (offline, _) = stack.plan_tests(&["--offline"]);
    assert!(offline.iter().all(|(_, t)| t.is_none()), "{offline:?}");
    // Offline, no registry is asked: the matrix is the change rules' alone.
    let offline: Value = serde_json::from_str(&ok(&stack.run("matrix", &["--offline"]))).unwrap();
    assert_eq!(offline["include"].as_array().unwrap().len(), TARGETS.len());

    // One image's tests change: only it is tested again, and nothing builds.
    stack
        .repo
        .append(
            "images/rstudio-notebook/test/test_rstudio.sh",
            "echo again\n",
        )
        .commit("rstudio: one more test");
    let (jobs, _) = stack.matrix();
    assert_eq!(
        jobs,
        vec![("rstudio-notebook-py311".to_string(), "retest".to_string())]
    );
    let file: Value = serde_json::from_str(&ok(&stack.run("bake", &[]))).unwrap();
    assert_eq!(file["group"]["default"]["targets"], serde_json::json!([]));
    stack.assert_plan_tests("passed", Some(("rstudio-notebook-py311", "untested")));

    // It fails: promotion refuses, names it, and moves no tag.
    ok(&stack.run("test-result", &["rstudio-notebook-py311", "--failed"]));
    stack.assert_plan_tests("passed", Some(("rstudio-notebook-py311", "failed")));
    let text = ok(&stack.run("plan", &[]));
    assert!(
        text.contains("tests  failed: its image's newest record for these tests is a failure"),
        "{text}"
    );
    // `promote` takes the namespace as its registry.
    let promote_ns = |extra: &[&str]| {
        let ns = stack.ns();
        let mut args = vec![
            "promote",
            "--registry",
            ns.as_str(),
            "--from",
            "{prefix}-t1",
            "--to",
            "{prefix}-stable",
            "--require-tests",
        ];
        args.extend_from_slice(extra);
        crate::env::stackplan(&stack.repo, &args, None)
    };
    let out = promote_ns(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let why = stderr(&out);
    assert!(why.contains("nothing was promoted"), "{why}");
    assert!(why.contains("rstudio-notebook:2026.3-t1"), "{why}");
    assert!(why.contains("is a failure"), "{why}");
    assert!(
        !why.contains("base-notebook:2026.3-t1"),
        "only rstudio lacks a pass: {why}"
    );
    assert_eq!(
        stack.tags("stable"),
        vec![None; TARGETS.len()],
        "no tag moved"
    );

    // It passes: every tag moves, to the same digests, and the records stay with them.
    ok(&stack.run("test-result", &["rstudio-notebook-py311", "--passed"]));
    stack.assert_plan_tests("passed", None);
    let out = ok(&promote_ns(&[]));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("moved ")).count(),
        TARGETS.len(),
        "{out}"
    );
    assert_eq!(stack.tags("stable"), stack.tags("t1"));
    // The images on `main` are the same digests (t1 reused them): their records are theirs.
    let ns = stack.ns();
    let out = crate::env::stackplan(
        &stack.repo,
        &[
            "promote",
            "--registry",
            &ns,
            "--from",
            "{prefix}-main",
            "--to",
            "{prefix}-rc",
            "--require-tests",
        ],
        None,
    );
    ok(&out);
    assert_eq!(stack.tags("rc"), stack.tags("main"));
    assert_eq!(stack.tags("rc"), stack.tags("t1"));
    let (jobs, _) = stack.matrix();
    assert_eq!(jobs, Vec::<(String, String)>::new());
}
