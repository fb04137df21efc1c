//! `stackplan matrix` and `stackplan completions`.

use serde_json::json;

use crate::support::Repo;

#[test]
fn matrix_lists_rebuilt_targets_with_their_test_folders() {
    let repo = Repo::example();
    repo.write(
        "images/scipy-notebook/workflow_tests/test_flow.sh",
        "true\n",
    )
    .commit("wf");
    repo.branch("feat");
    repo.append("images/base-notebook/Dockerfile", "RUN true\n")
        .commit("base");
    let out_file = repo.path().join("github_output");
    let run = repo.run(&[
        "matrix",
        "--plan",
        "py311",
        "--github-output",
        out_file.to_str().unwrap(),
    ]);
    run.success();
    let m = run.json();
    let jobs = m["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        jobs[1],
        json!({
            "target": "rstudio-notebook-py311", "image": "rstudio-notebook", "plan": "py311",
            "tag": "2026.3-feat", "ref": "ghcr.io/stackplan-example/rstudio-notebook:2026.3-feat",
            "action": "build", "reason": "parent base-notebook-py311 rebuilds",
            "tests": ["images/tests_common", "images/rstudio-notebook/test", "images/rstudio-notebook/integration_tests"],
            "integration_tests": true, "workflow_tests": [], "manual_tests": []
        })
    );
    assert_eq!(
        jobs[2]["tests"],
        json!(["images/tests_common", "images/scipy-notebook/test"])
    );
    assert_eq!(
        jobs[2]["workflow_tests"],
        json!(["images/scipy-notebook/workflow_tests"])
    );
    let written = std::fs::read_to_string(out_file).unwrap();
    assert!(written.starts_with("matrix={\"include\":[{"), "{written}");
    assert!(
        written.ends_with("\nhas_targets=true\nhas_builds=true\nhas_tests=true\n"),
        "{written}"
    );
}

#[test]
fn an_empty_matrix_says_so() {
    let repo = Repo::example();
    repo.branch("docs");
    let out_file = repo.path().join("out");
    repo.run(&["matrix", "--github-output", out_file.to_str().unwrap()])
        .success();
    assert_eq!(
        std::fs::read_to_string(out_file).unwrap(),
        "matrix={\"include\":[]}\nhas_targets=false\nhas_builds=false\nhas_tests=false\n"
    );
}

#[test]
fn completions_for_every_shell() {
    let repo = Repo::example();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = repo.run(&["completions", shell]);
        run.success();
        assert!(run.stdout.contains("stackplan"), "{shell}");
    }
    repo.run(&["completions", "tcsh"])
        .fails_with(&["invalid value 'tcsh'"]);
}
