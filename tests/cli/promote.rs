//! `stackplan promote`: the checks made before any registry is reached.

use crate::support::Repo;

#[test]
fn promote_checks_manifest_pages_before_touching_the_registry() {
    let repo = Repo::example();
    let pages = repo.path().join("wiki");
    std::fs::create_dir_all(&pages).unwrap();
    std::fs::write(
        pages.join("base-notebook-2026.3-main.md"),
        "# base-notebook:2026.3-main\n",
    )
    .unwrap();
    // The registry does not exist: the command must stop before reaching for it.
    let run = repo.run(&[
        "promote",
        "--registry",
        "127.0.0.1:1/none",
        "--plan",
        "py311",
        "--from",
        "2026.3-main",
        "--to",
        "2026.3-stable",
        "--require-manifests",
        pages.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("nothing was promoted; manifest pages are missing"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("scipy-notebook-2026.3-main.md"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("base-notebook-2026.3-main.md"),
        "{}",
        run.stderr
    );
}

#[test]
fn promote_refuses_bad_moves() {
    let repo = Repo::example();
    let run = |args: &[&str]| {
        let mut all = vec!["promote", "--registry", "127.0.0.1:1/none"];
        all.extend_from_slice(args);
        repo.run(&all)
    };
    run(&["--from", "x", "--to", "x", "--plan", "py311"]).fails_with(&["onto itself"]);
    run(&["--from", "2026.3-main", "--to", "stable", "--plan", "py311"])
        .fails_with(&["takes only a `<prefix>-stable` source"]);
    run(&["--from", "2026.3-main", "--to", "2026.3-stable"])
        .fails_with(&["would both write", "{prefix}"]);
    run(&["--from", "bad tag", "--to", "x"]).fails_with(&["not a valid Docker tag"]);
}
