//! `stackplan matrix`: the GitHub Actions matrix of the targets to test, one job per
//! target, with the test folders each job runs.
//!
//! A target is tested when it builds, and when it is kept or reused (its image has the
//! same inputs as one already built) while a file the change rules tie to it changed: its
//! tests, or a `BuildAll` entry such as `tests_common/` — it is then *retested* against
//! the existing image.
//!
//! Test folders follow the stack's layout: `tests_common/` for every image, `<key>/test/`,
//! and `<key>/integration_tests/` only when the image sets `integration_tests: true`;
//! `<key>/workflow_tests/` and `<key>/manual_tests/` are listed apart. Only folders that
//! exist are listed: the caller says which do.
//!
//! A target that is not built and whose image already has a passed test record for its
//! current tests (see [`crate::test_record`]) is *tested*: [`leave_out`] drops its job.
//! Which targets are tested is the adapter's to find out (the registry holds the
//! records); offline none is, and the matrix is the change rules' alone.

use serde::Serialize;

use crate::plan::Plan;
use crate::stack::join;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Matrix {
    pub include: Vec<Job>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Job {
    pub target: String,
    pub image: String,
    pub plan: Option<String>,
    /// The tag (after `:`).
    pub tag: String,
    /// The whole ref to pull: `<image_name>:<tag>`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `build` (the job tests a new image) or `retest` (the image exists; its tests changed).
    pub action: &'static str,
    /// Why, for people.
    pub reason: String,
    pub tests: Vec<String>,
    pub integration_tests: bool,
    pub workflow_tests: Vec<String>,
    pub manual_tests: Vec<String>,
}

/// The matrix of the targets to test; `exists(path)` tells whether a folder (relative to
/// the repository root) exists.
pub fn matrix(plan: &Plan, images_dir: &str, exists: impl Fn(&str) -> bool) -> Matrix {
    let include = plan
        .targets
        .iter()
        .filter_map(|t| {
            let (action, reason) = match t.retest_reason() {
                Some(why) => ("retest", why),
                None if t.builds() => {
                    let why = match (&t.action_reason, t.reasons.first()) {
                        (crate::plan::action::ActionReason::ChangeRules, Some(first)) => {
                            first.to_string()
                        }
                        (reason, _) => reason.to_string(),
                    };
                    ("build", why)
                }
                None => return None,
            };
            Some((t, action, reason))
        })
        .map(|(t, action, reason)| {
            let folder = |name: &str| join(&join(images_dir, &t.image), name);
            let keep = |paths: Vec<String>| paths.into_iter().filter(|p| exists(p)).collect();
            let mut tests = vec![join(images_dir, "tests_common"), folder("test")];
            if t.integration_tests {
                tests.push(folder("integration_tests"));
            }
            Job {
                target: t.name.clone(),
                image: t.image.clone(),
                plan: t.plan.clone(),
                tag: t.tag.clone(),
                reference: t.reference().to_string(),
                action,
                reason,
                tests: keep(tests),
                integration_tests: t.integration_tests,
                workflow_tests: keep(vec![folder("workflow_tests")]),
                manual_tests: keep(vec![folder("manual_tests")]),
            }
        })
        .collect();
    Matrix { include }
}

/// Leaves out the jobs of `tested` targets (their image passed these tests already). A
/// job that tests a new build is never left out: its image does not exist yet.
pub fn leave_out(matrix: &mut Matrix, tested: &std::collections::BTreeSet<String>) {
    matrix
        .include
        .retain(|j| j.action == "build" || !tested.contains(&j.target));
}

/// Compact JSON on one line, as `$GITHUB_OUTPUT` needs.
pub fn render(matrix: &Matrix) -> String {
    serde_json::to_string(matrix).expect("the matrix is plain data")
}

/// The lines to append to `$GITHUB_OUTPUT`: the matrix, whether it has jobs, whether any
/// of them tests a new image (so a build job is needed), and whether a test job is needed
/// at all (`has_tests`, the same as `has_targets`, named for the test job's `if:`).
pub fn github_output(matrix: &Matrix) -> String {
    let has_jobs = !matrix.include.is_empty();
    format!(
        "matrix={}\nhas_targets={has_jobs}\nhas_builds={}\nhas_tests={has_jobs}\n",
        render(matrix),
        matrix.include.iter().any(|j| j.action == "build")
    )
}
