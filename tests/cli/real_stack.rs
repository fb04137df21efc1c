//! A stack laid out like the notebook stacks this tool replaces a script for: the spec in
//! their format (a root, two children, `integration_tests`, `prune`, `info_cmds`), a
//! `change_ignore.json` whose `BuildAll` holds shared test files, a root built FROM a public
//! image tag chosen by a build arg, and children FROM the root's `image_name:${BASE_TAG}`.

use serde_json::json;

use crate::support::{Repo, buildx_accepts};

const SPEC: &str = r#"root: datascience-notebook

images:
  datascience-notebook:
    image_name: ghcr.io/ucsd-ets/datascience-notebook
    build_args:
      PYTHON_VERSION: python-3.11.8
      PY_VER_SHORT: "3.11"
      JUPYTERHUB_VERSION: 4.0.2
    info_cmds: [PY_VER, PIP_LIST, CONDA_INFO, CONDA_LIST, APT_PKG_LIST]

  rstudio-notebook:
    image_name: ghcr.io/ucsd-ets/rstudio-notebook
    depend_on: datascience-notebook
    integration_tests: true
    info_cmds: [PY_VER, PIP_LIST, CONDA_INFO, CONDA_LIST, APT_PKG_LIST]
    prune: true

  scipy-ml-notebook:
    image_name: ghcr.io/ucsd-ets/scipy-ml-notebook
    depend_on: datascience-notebook
    integration_tests: false
    info_cmds: [PY_VER, PIP_LIST, CUDA_VERSION, CONDA_INFO, CONDA_LIST, APT_PKG_LIST]
    prune: false # comment if scipy-ml stops being the last container
    #prepull: false

tag:
  prefix: "2023.4"

all_info_cmds:
  PY_VER:
    description: Python Version
    command: python --version
  PIP_LIST:
    description: pip Packages
    command: pip list
  CONDA_INFO:
    description: Conda Info
    command: conda info
  CONDA_LIST:
    description: Conda Packages
    command: conda list
  APT_PKG_LIST:
    description: System Packages
    command: apt list --installed
  CUDA_VERSION:
    description: CUDA Version
    command: bash -c 'conda list | grep "cuda\|cudnn\|nccl"'
"#;

fn real_stack() -> Repo {
    Repo::with_files(&[
        ("images/spec.yml", SPEC),
        (
            "images/change_ignore.json",
            "{\n    \"ChangeIgnore\":[],\n    \"BuildAll\":[\"tests_common\",\"spec.yml\",\"change_ignore.json\", \"conftest.py\"]\n}",
        ),
        ("images/conftest.py", "import pytest\n"),
        ("images/builder-metainfo.json", "{}\n"),
        (
            "images/tests_common/test_packages.py",
            "def test_x(): pass\n",
        ),
        (
            "images/datascience-notebook/Dockerfile",
            "ARG PYTHON_VERSION=python-3.9.5\nFROM jupyter/datascience-notebook:$PYTHON_VERSION\nUSER root\nCOPY /scripts /usr/share/datahub/scripts/\nARG PY_VER_SHORT=3.9\nRUN echo $PY_VER_SHORT\n",
        ),
        (
            "images/datascience-notebook/scripts/install.sh",
            "#!/bin/sh\n",
        ),
        (
            "images/datascience-notebook/test/test_python.py",
            "def test(): pass\n",
        ),
        (
            "images/rstudio-notebook/Dockerfile",
            "ARG BASE_TAG=latest\nFROM ghcr.io/ucsd-ets/datascience-notebook:${BASE_TAG}\nUSER root\nRUN echo rstudio\n",
        ),
        (
            "images/rstudio-notebook/integration_tests/test_ui.py",
            "def test(): pass\n",
        ),
        (
            "images/scipy-ml-notebook/Dockerfile",
            "ARG BASE_TAG=latest\nFROM ghcr.io/ucsd-ets/datascience-notebook:$BASE_TAG\nRUN echo scipy\n",
        ),
    ])
}

#[test]
fn the_stack_checks_clean() {
    let repo = real_stack();
    let run = repo.run(&["check"]);
    run.success();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn a_child_change_rebuilds_that_child_and_the_bake_chains_nothing_else() {
    let repo = real_stack();
    repo.branch("dev/rstudio");
    repo.append("images/rstudio-notebook/Dockerfile", "RUN echo more\n")
        .commit("rstudio");
    let plan = repo.run(&["plan", "--format", "json"]);
    plan.success();
    assert_eq!(plan.rebuilds(), ["rstudio-notebook"]);
    let run = repo.run(&["bake"]);
    run.success();
    buildx_accepts(&repo, &run.stdout);
    let file = run.json();
    assert_eq!(
        file["group"]["default"]["targets"],
        json!(["rstudio-notebook"])
    );
    let target = &file["target"]["rstudio-notebook"];
    assert_eq!(target["args"]["BASE_TAG"], "2023.4-dev-rstudio");
    assert_eq!(
        target["tags"],
        json!(["ghcr.io/ucsd-ets/rstudio-notebook:2023.4-dev-rstudio"])
    );
}

#[test]
fn a_root_change_chains_both_children_to_it_in_one_bake() {
    let repo = real_stack();
    repo.branch("root");
    repo.append("images/datascience-notebook/Dockerfile", "RUN true\n")
        .commit("root");
    let run = repo.run(&["bake", "--push"]);
    run.success();
    buildx_accepts(&repo, &run.stdout);
    let file = run.json();
    assert_eq!(
        file["group"]["default"]["targets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for child in ["rstudio-notebook", "scipy-ml-notebook"] {
        assert_eq!(
            file["target"][child]["contexts"],
            json!({"ghcr.io/ucsd-ets/datascience-notebook:2023.4-root": "target:datascience-notebook"}),
            "{child}"
        );
    }
    // The root's FROM stays a public image picked by its build arg.
    assert_eq!(
        file["target"]["datascience-notebook"]["args"]["PYTHON_VERSION"],
        "python-3.11.8"
    );
}

#[test]
fn shared_test_files_rebuild_everything_and_other_files_nothing() {
    let repo = real_stack();
    repo.branch("tests");
    repo.append("images/conftest.py", "# more\n")
        .commit("conftest");
    let run = repo.run(&["plan", "--format", "json"]);
    run.success();
    assert_eq!(run.rebuilds().len(), 3);
    let repo = real_stack();
    repo.branch("meta");
    repo.write("images/builder-metainfo.json", "{\"x\": 1}\n")
        .commit("meta");
    let run = repo.run(&["plan", "--format", "json"]);
    run.success();
    assert!(run.rebuilds().is_empty());
    assert_eq!(
        run.json()["unowned_files"],
        json!(["images/builder-metainfo.json"])
    );
}

#[test]
fn the_matrix_lists_the_stacks_test_folders() {
    let repo = real_stack();
    repo.branch("m");
    repo.append("images/rstudio-notebook/Dockerfile", "RUN echo more\n")
        .commit("rstudio");
    let run = repo.run(&["matrix"]);
    run.success();
    assert_eq!(
        run.json()["include"][0]["tests"],
        json!([
            "images/tests_common",
            "images/rstudio-notebook/integration_tests"
        ])
    );
}
