//! `stackplan test-result` and `promote --require-tests`: what is refused before any
//! registry is asked (the registry side is tests/e2e/test_records.rs).

use crate::support::Repo;

#[test]
fn test_result_needs_the_registry() {
    let repo = Repo::example();
    let run = repo.run(&["test-result", "base-notebook-py311", "--passed"]);
    run.fails_with(&["test-result writes to the registry", "--offline"]);
    assert_eq!(run.code, 2);
}

#[test]
fn test_result_takes_one_outcome() {
    let repo = Repo::example();
    let run = repo.run(&["test-result", "base-notebook-py311"]);
    run.fails_with(&["--passed"]);
    assert_eq!(run.code, 2);
    let run = repo.run(&["test-result", "base-notebook-py311", "--passed", "--failed"]);
    run.fails_with(&["cannot be used with"]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_url_with_credentials_is_never_recorded() {
    let repo = Repo::example();
    let run = repo.run(&[
        "test-result",
        "base-notebook-py311",
        "--passed",
        "--url",
        "https://user:hunter2@ci.example/runs/1",
    ]);
    run.fails_with(&["--url carries credentials"]);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert_eq!(run.code, 2);
    repo.run(&[
        "test-result",
        "base-notebook-py311",
        "--passed",
        "--url",
        "not a url",
    ])
    .fails_with(&["is not a URL"]);
}

#[test]
fn a_missing_log_is_named() {
    let repo = Repo::example();
    let run = repo.run(&[
        "test-result",
        "base-notebook-py311",
        "--failed",
        "--log",
        "no-such.log",
    ]);
    run.fails_with(&["--log no-such.log: cannot read it"]);
}
