//! Property tests of every parser that reads user input: spec.yml, change_ignore.json,
//! Dockerfiles, .dockerignore, references and tags. Arbitrary input never panics and every
//! error says where (a file, and a line for line-based formats); well-formed input built
//! from random parts parses back to the parts it was built from.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use stackplan::change_rules::ChangeRules;
use stackplan::dockerfile::Dockerfile;
use stackplan::dockerignore::Dockerignore;
use stackplan::{Error, reference, tag};

/// Every diagnostic of an `Invalid` error names the file it is about.
fn located(e: &Error, file: &str) -> bool {
    match e {
        Error::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .all(|d| d.file.as_deref() == Some(Path::new(file))),
        _ => true,
    }
}

/// Text made of the pieces these formats are made of, so generated input reaches past the
/// first syntax check more often than random characters do.
fn pieces() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("images:\n".to_string()),
        Just("  a: {image_name: ghcr.io/o/a}\n".to_string()),
        Just("  b: {image_name: ghcr.io/o/b, depend_on: a}\n".to_string()),
        Just("tag: {prefix: '1'}\n".to_string()),
        Just("plans: {p: {tag_prefix: '2'}}\n".to_string()),
        Just("root: a\n".to_string()),
        Just("    integration_tests: maybe\n".to_string()),
        Just("  - x\n".to_string()),
        Just(": : :\n".to_string()),
        Just("\t\"'{[\n".to_string()),
        "[ -~]{0,12}\n",
        "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..14).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_spec_text_parses_or_fails_with_a_location(text in pieces()) {
        if let Err(e) = stackplan::spec::Spec::parse(&text, Path::new("images/spec.yml")) {
            prop_assert!(located(&e, "images/spec.yml"), "{e:?}");
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn any_change_ignore_text_parses_or_fails_with_a_location(
        text in prop_oneof![
            "\\PC{0,40}",
            prop::collection::vec("[a-z*/!.]{0,8}", 0..4).prop_map(|v| format!(
                r#"{{"ChangeIgnore": {v:?}, "BuildAll": ["spec.yml"]}}"#
            )),
        ]
    ) {
        if let Err(e) = ChangeRules::parse(&text, Path::new("images/change_ignore.json")) {
            prop_assert!(located(&e, "images/change_ignore.json"), "{e:?}");
        }
    }

    #[test]
    fn any_dockerfile_text_parses_or_fails_on_one_of_its_lines(
        text in prop::collection::vec(prop_oneof![
            Just("FROM busybox\n"),
            Just("FROM a AS b\n"),
            Just("ARG X=1\n"),
            Just("ARG\n"),
            Just("RUN <<EOF\n"),
            Just("EOF\n"),
            Just("# escape=`\n"),
            Just("RUN echo \\\n"),
            Just("COPY --from=${X} / /\n"),
            Just("ADD https://example.com/x /x\n"),
            Just("FROM a b c d\n"),
            Just("\n"),
        ], 0..12).prop_map(|v| v.concat())
    ) {
        match Dockerfile::parse(&text) {
            Ok(df) => {
                let args = BTreeMap::from([("X".to_string(), "y".to_string())]);
                prop_assert_eq!(df.resolve_bases(&args).len(), df.stages.len());
                let _ = df.resolve_sources(&args);
            }
            Err(e) => prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1)),
        }
    }

    #[test]
    fn a_dockerfile_built_from_parts_reads_back_its_args_and_bases(
        args in prop::collection::btree_map("[A-Z][A-Z0-9_]{0,6}", "[a-z0-9.]{1,8}", 0..4),
        stages in prop::collection::vec(("[a-z][a-z0-9]{0,6}", "[a-z0-9]{1,6}"), 1..4),
        continued in any::<bool>(),
    ) {
        let mut text = String::from("# syntax=docker/dockerfile:1\n");
        for (name, default) in &args {
            if continued {
                text.push_str(&format!("ARG \\\n  {name}={default}\n"));
            } else {
                text.push_str(&format!("ARG {name}={default}\n"));
            }
        }
        for (i, (image, tag)) in stages.iter().enumerate() {
            text.push_str(&format!("FROM {image}:{tag} AS s{i}\nRUN <<EOF\nFROM not-an-instruction\nEOF\n"));
        }
        let df = Dockerfile::parse(&text).unwrap();
        prop_assert_eq!(df.global_args.len(), args.len());
        let resolved: Vec<String> = df
            .resolve_bases(&BTreeMap::new())
            .into_iter()
            .map(|b| b.reference)
            .collect();
        let expected: Vec<String> = stages.iter().map(|(i, t)| format!("{i}:{t}")).collect();
        prop_assert_eq!(resolved, expected);
    }

    #[test]
    fn any_dockerignore_text_parses_or_fails_with_a_location(text in "\\PC{0,60}") {
        match Dockerignore::parse(&text, Path::new("images/a/.dockerignore")) {
            Ok(rules) => {
                let _ = rules.excludes("a/b/c");
            }
            Err(e) => prop_assert!(located(&e, "images/a/.dockerignore"), "{e:?}"),
        }
    }

    #[test]
    fn any_branch_becomes_a_valid_tag_or_a_clear_error(branch in "\\PC{0,40}") {
        match tag::branch_tag(&branch) {
            Ok(t) => prop_assert!(tag::is_valid_tag(&t), "{t}"),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn references_normalize_and_go_back_to_their_familiar_form(
        host in prop_oneof![Just(""), Just("ghcr.io/"), Just("localhost:5000/"), Just("docker.io/library/")],
        path in "[a-z][a-z0-9]{0,6}(/[a-z][a-z0-9]{0,6}){0,2}",
        tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}",
    ) {
        let written = format!("{host}{path}:{tag}");
        let normalized = reference::normalize(&written);
        prop_assert!(normalized.is_some(), "{written}");
        let normalized = normalized.unwrap();
        let again = reference::normalize(&normalized);
        prop_assert_eq!(again.as_deref(), Some(normalized.as_str()));
        prop_assert_eq!(reference::familiar(&normalized), reference::familiar(&written));
    }

    #[test]
    fn arbitrary_references_never_panic(text in "\\PC{0,40}") {
        let _ = reference::normalize(&text);
        let _ = reference::familiar(&text);
        let _ = reference::familiar_repository(&text);
        let _ = reference::check_repository(&text);
        let _ = reference::registry_of(&text);
    }
}
