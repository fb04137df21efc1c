use super::validate::relative_path_problem;
use super::*;

fn parse(text: &str) -> Result<(Spec, Vec<Diagnostic>)> {
    Spec::parse(text, Path::new("images/spec.yml"))
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Err(Error::Invalid { diagnostics, .. }) => {
            diagnostics.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected errors, got {other:?}"),
    }
}

const BASIC: &str = r#"
root: datascience-notebook
images:
  datascience-notebook:
    image_name: ghcr.io/ucsd-ets/datascience-notebook
    build_args: {PYTHON_VERSION: python-3.11.8, PY_VER_SHORT: "3.11"}
    info_cmds: [PY_VER, PIP_LIST]
  scipy-ml-notebook:
    image_name: ghcr.io/ucsd-ets/scipy-ml-notebook
    depend_on: datascience-notebook
    integration_tests: false
    prune: false
    prepull: true
tag:
  prefix: "2026.3"
all_info_cmds:
  PY_VER: {description: Python Version, command: python --version}
  PIP_LIST: {description: pip Packages, command: pip list}
"#;

#[test]
fn non_boolean_flags_are_read_as_the_old_tooling_did() {
    let text = BASIC
        .replace(
            "integration_tests: false",
            "integration_tests: TORCH_AUD_VER",
        )
        .replace("prepull: true", "prepull: yes")
        .replace("prune: false", "prune: 1");
    let (spec, warnings) = parse(&text).unwrap();
    let child = spec
        .images
        .values()
        .find(|i| i.depend_on.is_some())
        .unwrap();
    assert!(!child.integration_tests && !child.prune && child.prepull);
    // `yes` is YAML 1.1's true, which serde-saphyr reads as PyYAML did: no warning.
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let w = warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(w.contains("`integration_tests` of image"), "{w}");
    assert!(
        w.contains("is `TORCH_AUD_VER`, not a boolean: read as false"),
        "{w}"
    );
    assert!(
        w.contains("`prune` of image `scipy-ml-notebook` is `1`"),
        "{w}"
    );
    assert!(w.contains(":11:"), "{w}");
}

#[test]
fn parses_the_format_stacks_use_today() {
    let (spec, warnings) = parse(BASIC).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(spec.roots, ["datascience-notebook"]);
    assert_eq!(spec.tag_prefix, "2026.3");
    let child = &spec.images["scipy-ml-notebook"];
    assert_eq!(child.depend_on.as_deref(), Some("datascience-notebook"));
    assert!(child.prepull && !child.prune && !child.integration_tests);
    assert_eq!(child.dockerfile, "Dockerfile");
    let root = &spec.images["datascience-notebook"];
    assert_eq!(root.build_args["PY_VER_SHORT"], "3.11");
    assert_eq!(root.info_cmds, ["PY_VER", "PIP_LIST"]);
}

#[test]
fn unquoted_numbers_keep_their_spelling() {
    let text = BASIC
        .replace("\"2026.3\"", "2026.10")
        .replace("\"3.11\"", "3.10");
    let (spec, _) = parse(&text).unwrap();
    assert_eq!(spec.tag_prefix, "2026.10");
    assert_eq!(
        spec.images["datascience-notebook"].build_args["PY_VER_SHORT"],
        "3.10"
    );
}

#[test]
fn root_defaults_to_images_without_parent_and_accepts_a_list() {
    let text = BASIC.replace("root: datascience-notebook\n", "");
    assert_eq!(parse(&text).unwrap().0.roots, ["datascience-notebook"]);
    let text = BASIC.replace("root: datascience-notebook", "root: [datascience-notebook]");
    assert_eq!(parse(&text).unwrap().0.roots, ["datascience-notebook"]);
}

#[test]
fn unknown_keys_warn_with_the_closest_known_key_and_line() {
    let text = BASIC.replace("    prepull: true", "    prepul: true");
    let (_, warnings) = parse(&text).unwrap();
    assert_eq!(warnings.len(), 1);
    let w = warnings[0].to_string();
    assert!(w.contains("images.scipy-ml-notebook.prepul"), "{w}");
    assert!(w.contains("did you mean `prepull`"), "{w}");
    assert!(w.contains("spec.yml:13:5"), "{w}");
}

#[test]
fn unknown_keys_at_every_level_warn_in_the_order_of_the_text() {
    let text = "\
images:
  b:
    image_name: x/b
    variants:
      gpu:
        contxt: gpu
  a:
    image_name: x/a
    colour: red
plans:
  p:
    tag_prefix: '1'
    tag_prefx: '2'
tag:
  prefix: '1'
  suffix: x
extra: {nested: [1, 2]}
";
    let (_, warnings) = parse(text).unwrap();
    let messages: Vec<String> = warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "unknown key `images.b.variants.gpu.contxt` is ignored",
            "unknown key `images.a.colour` is ignored",
            "unknown key `plans.p.tag_prefx` is ignored",
            "unknown key `tag.suffix` is ignored",
            "unknown key `extra` is ignored",
        ]
    );
    let lines: Vec<usize> = warnings.iter().map(|w| w.position.unwrap().line).collect();
    assert_eq!(lines, [6, 9, 13, 16, 17]);
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    let errs = errors("tag: {prefix: '1'}\nimages:\n  a: {image_name: x\n  b: c\n");
    assert!(errs[0].contains("images/spec.yml:4:"), "{errs:?}");
    let errs = errors("images:\n  a: [1, 2]\n");
    assert!(
        errs[0].contains("images/spec.yml:2:6: invalid YAML"),
        "{errs:?}"
    );
}

#[test]
fn depend_on_must_name_an_image() {
    let text = BASIC.replace(
        "depend_on: datascience-notebook",
        "depend_on: datascience-notebok",
    );
    let errs = errors(&text);
    assert!(
        errs[0].contains("depend_on names `datascience-notebok`"),
        "{errs:?}"
    );
    assert!(
        errs[0].contains("did you mean `datascience-notebook`"),
        "{errs:?}"
    );
    assert!(errs[0].contains("spec.yml:10:16"), "{errs:?}");
}

#[test]
fn info_cmds_must_be_defined() {
    let text = BASIC.replace("[PY_VER, PIP_LIST]", "[PY_VER, PIP_LSIT]");
    let errs = errors(&text);
    assert!(
        errs[0].contains("`PIP_LSIT` is not defined in all_info_cmds"),
        "{errs:?}"
    );
    assert!(errs[0].contains("did you mean `PIP_LIST`"), "{errs:?}");
}

#[test]
fn image_name_must_be_a_repository() {
    for bad in ["ghcr.io/UCSD/x", "ghcr.io/ucsd-ets/x:tag", "''", "a//b"] {
        let text = BASIC.replace("ghcr.io/ucsd-ets/scipy-ml-notebook", bad);
        let errs = errors(&text);
        assert!(errs[0].contains("invalid image_name"), "{bad}: {errs:?}");
    }
}

#[test]
fn dockerfile_must_stay_in_the_image_folder() {
    let text = BASIC.replace(
        "    prepull: true",
        "    prepull: true\n    dockerfile: ../x/Dockerfile",
    );
    assert!(errors(&text)[0].contains("escapes the image folder"));
    let text = BASIC.replace(
        "    prepull: true",
        "    prepull: true\n    dockerfile: /etc/passwd",
    );
    assert!(errors(&text)[0].contains("is absolute"));
}

const PLANS: &str = r#"
plans:
  py311: {tag_prefix: "2026.3", build_args: {PYTHON_VERSION: python-3.11.8}}
  py39:  {tag_prefix: "2026.3-py39", build_args: {PYTHON_VERSION: python-3.9.5}}
"#;

#[test]
fn plans_and_skip_plans() {
    let text = format!("{BASIC}{PLANS}").replace(
        "    prepull: true",
        "    prepull: true\n    skip_plans: [py39]\n    plan_build_args: {py311: {TORCH: '2'}}",
    );
    let (spec, _) = parse(&text).unwrap();
    assert_eq!(spec.plans["py39"].tag_prefix, "2026.3-py39");
    let child = &spec.images["scipy-ml-notebook"];
    let plans: Vec<_> = spec
        .plans_of(child)
        .into_iter()
        .map(|p| p.unwrap().name.clone())
        .collect();
    assert_eq!(plans, ["py311"]);
}

#[test]
fn skip_plans_must_name_a_plan() {
    let text = format!("{BASIC}{PLANS}").replace(
        "    prepull: true",
        "    prepull: true\n    skip_plans: [py38]",
    );
    let errs = errors(&text);
    assert!(
        errs[0].contains("skip_plans names `py38`, which is not a plan"),
        "{errs:?}"
    );
    assert!(errs[0].contains("did you mean `py39`"), "{errs:?}");
}

#[test]
fn a_child_cannot_be_built_in_a_plan_its_parent_skips() {
    let text = format!("{BASIC}{PLANS}").replace(
        "    info_cmds: [PY_VER, PIP_LIST]",
        "    info_cmds: [PY_VER, PIP_LIST]\n    skip_plans: [py39]",
    );
    let errs = errors(&text);
    assert!(
        errs[0].contains("its parent `datascience-notebook` skips that plan"),
        "{errs:?}"
    );
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let text = BASIC
        .replace("depend_on: datascience-notebook", "depend_on: nope")
        .replace("[PY_VER, PIP_LIST]", "[NOPE]");
    assert_eq!(errors(&text).len(), 2);
}

#[test]
fn missing_tag_prefix_is_an_error() {
    let text = BASIC.replace("tag:\n  prefix: \"2026.3\"\n", "");
    assert!(errors(&text)[0].contains("missing `tag.prefix`"));
}

#[test]
fn path_problems() {
    assert_eq!(
        relative_path_problem("a/../../b"),
        Some("escapes the image folder")
    );
    assert_eq!(relative_path_problem("a/../b"), None);
    assert_eq!(relative_path_problem("docker/Dockerfile.gpu"), None);
}
