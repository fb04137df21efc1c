//! The docs' commands run: every `$ ` line of docs/recipes.md, and docs/cli.md is the
//! binary's own `--help` (`UPDATE_GOLDEN=1 cargo test` rewrites it).

use std::path::Path;

use crate::support::{Repo, console_commands, docs, shell_line, stackplan_command};

#[test]
fn every_recipe_command_runs() {
    let recipes = console_commands(&docs("recipes.md"));
    assert!(recipes.len() >= 10, "{recipes:?}");
    let repo = Repo::example();
    repo.branch("recipes");
    repo.append("images/scipy-notebook/Dockerfile", "RUN true\n")
        .commit("change a leaf");
    let skip_buildx = std::env::var("STACKPLAN_BUILDX_CHECK").as_deref() == Ok("skip");
    for cmd in recipes {
        if skip_buildx && cmd.starts_with("docker buildx") {
            eprintln!("note: STACKPLAN_BUILDX_CHECK=skip: not running `{cmd}`");
            continue;
        }
        let out = shell_line(repo.path(), &cmd).output().unwrap();
        assert!(
            out.status.success(),
            "recipe `{cmd}` failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The recipes' outputs are what they say.
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["summary"]["rebuild"], 2);
    let solves: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("solves.json")).unwrap())
            .unwrap();
    assert_eq!(solves.as_array().unwrap().len(), 5);
    let old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.path().join("old-style.json")).unwrap())
            .unwrap();
    // The recipes' own outputs are untracked files of the working tree, so they are in the
    // change set too; only the image folder's change rebuilds.
    let in_images: Vec<&str> = old["changed_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .filter(|f| f.starts_with("images/"))
        .collect();
    assert_eq!(in_images, ["images/scipy-notebook/Dockerfile"]);
    assert_eq!(old["summary"]["rebuild"], 2);
}

const SUBCOMMANDS: &[&str] = &[
    "bake",
    "reuse",
    "init",
    "build",
    "plan",
    "graph",
    "check",
    "promote",
    "publish",
    "manifests",
    "matrix",
    "test-result",
    "doctor",
    "completions",
    "man",
];

fn help(args: &[&str]) -> String {
    let out = stackplan_command(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_cli_reference_is_the_binarys_help() {
    let mut doc = String::from(
        "# CLI reference\n\nGenerated from the binary's `--help` (`UPDATE_GOLDEN=1 cargo test --test cli recipes` rewrites it).\nMan page: `stackplan man > stackplan.1`; completions: `stackplan completions bash|zsh|fish|elvish|powershell`.\n\n",
    );
    doc.push_str(&format!(
        "## stackplan\n\n```text\n{}```\n\n",
        help(&["--help"])
    ));
    for sub in SUBCOMMANDS {
        doc.push_str(&format!(
            "## stackplan {sub}\n\n```text\n{}```\n\n",
            help(&[sub, "--help"])
        ));
    }
    doc.push_str(&format!(
        "## stackplan manifests render\n\n```text\n{}```\n",
        help(&["manifests", "render", "--help"])
    ));
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, &doc).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        current == doc,
        "docs/cli.md is out of date: run `UPDATE_GOLDEN=1 cargo test --test cli recipes`"
    );
}

/// Subcommands the README does not list yet (it is being restructured; its command table
/// gets them then).

#[test]
fn every_subcommand_is_in_the_reference_and_the_readme() {
    let top = help(&["--help"]);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for sub in SUBCOMMANDS {
        assert!(
            top.contains(&format!("  {sub} ")),
            "`stackplan --help` lacks {sub}"
        );
        assert!(
            readme.contains(&format!("stackplan {sub}")),
            "the README lacks `stackplan {sub}`"
        );
    }
}

#[test]
fn every_spec_key_is_documented() {
    let spec_doc = docs("spec.md");
    for key in [
        "root",
        "images",
        "tag.prefix",
        "all_info_cmds",
        "plans",
        "image_name",
        "depend_on",
        "build_args",
        "info_cmds",
        "integration_tests",
        "prune",
        "prepull",
        "dockerfile",
        "platforms",
        "skip_plans",
        "plan_build_args",
        "parent_arg",
        "variants",
        "context",
        "tag_prefix",
        "ChangeIgnore",
        "BuildAll",
    ] {
        assert!(
            spec_doc.contains(&format!("`{key}`")),
            "docs/spec.md lacks `{key}`"
        );
    }
}
