//! `stackplan matrix`: the GitHub Actions matrix of rebuilt targets, one job per target,
//! with the test folders each job runs.
//!
//! Test folders follow the stack's layout: `tests_common/` for every image, `<key>/test/`,
//! and `<key>/integration_tests/` only when the image sets `integration_tests: true`;
//! `<key>/workflow_tests/` and `<key>/manual_tests/` are listed apart. Only folders that
//! exist are listed: the caller says which do.

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
    pub tests: Vec<String>,
    pub integration_tests: bool,
    pub workflow_tests: Vec<String>,
    pub manual_tests: Vec<String>,
}

/// The matrix of rebuilt targets; `exists(path)` tells whether a folder (relative to the
/// repository root) exists.
pub fn matrix(plan: &Plan, images_dir: &str, exists: impl Fn(&str) -> bool) -> Matrix {
    let include = plan
        .rebuilt()
        .map(|t| {
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
                reference: t.reference(),
                tests: keep(tests),
                integration_tests: t.integration_tests,
                workflow_tests: keep(vec![folder("workflow_tests")]),
                manual_tests: keep(vec![folder("manual_tests")]),
            }
        })
        .collect();
    Matrix { include }
}

/// Compact JSON on one line, as `$GITHUB_OUTPUT` needs.
pub fn render(matrix: &Matrix) -> String {
    serde_json::to_string(matrix).expect("the matrix is plain data")
}

/// The lines to append to `$GITHUB_OUTPUT`.
pub fn github_output(matrix: &Matrix) -> String {
    format!(
        "matrix={}\nhas_targets={}\n",
        render(matrix),
        !matrix.include.is_empty()
    )
}
