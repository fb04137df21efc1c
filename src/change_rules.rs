//! `images/change_ignore.json`: which changed paths never rebuild and which rebuild all.
//!
//! The format is the one stacks already have, `{"ChangeIgnore": [...], "BuildAll": [...]}`.
//! Entries are globs relative to `images/` (globset, `*` also crossing `/` as the old
//! script's fnmatch did); an entry also matches everything below it, so a bare folder name
//! covers the folder. A stack without the file gets [`ChangeRules::without_file`].

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Position};
use crate::error::{Error, Result};

/// Which rule a path matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleMatch {
    /// A `ChangeIgnore` entry: the change never triggers a rebuild.
    Ignore { pattern: String },
    /// A `BuildAll` entry: the change rebuilds every image.
    BuildAll { pattern: String },
}

#[derive(Clone, Debug)]
pub struct ChangeRules {
    ignore: Rules,
    build_all: Rules,
}

#[derive(Clone, Debug)]
struct Rules {
    patterns: Vec<String>,
    set: GlobSet,
}

#[derive(Deserialize)]
struct RawRules {
    #[serde(rename = "ChangeIgnore", default)]
    change_ignore: Vec<String>,
    #[serde(rename = "BuildAll", default)]
    build_all: Vec<String>,
}

impl ChangeRules {
    /// Reads change_ignore.json; unknown keys come back as warnings.
    pub fn parse(text: &str, file: &Path) -> Result<(ChangeRules, Vec<Diagnostic>)> {
        let mut ignored = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawRules = serde_ignored::deserialize(&mut de, |path| ignored.push(path.to_string()))
            .and_then(|raw| de.end().map(|_| raw))
            .map_err(|e| {
                Error::Invalid {
                    diagnostics: vec![Diagnostic::error(format!("invalid change_ignore.json: {e}"))
                        .in_file(file)
                        .at(Some(Position { line: e.line(), column: e.column() }))
                        .help(r#"the format is {"ChangeIgnore": ["path", ...], "BuildAll": ["path", ...]}"#)],
                    sources: vec![(file.to_path_buf(), text.to_string())],
                }
            })?;
        let warnings = ignored
            .into_iter()
            .map(|key| {
                Diagnostic::warning(format!(
                    "unknown key `{key}` in change_ignore.json is ignored"
                ))
                .in_file(file)
                .help("known keys: ChangeIgnore, BuildAll (`--strict` makes this an error)")
            })
            .collect();
        let mut errors = Vec::new();
        let ignore = Rules::new(raw.change_ignore, "ChangeIgnore", file, &mut errors);
        let build_all = Rules::new(raw.build_all, "BuildAll", file, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Invalid {
                diagnostics: errors,
                sources: vec![(file.to_path_buf(), text.to_string())],
            });
        }
        Ok((ChangeRules { ignore, build_all }, warnings))
    }

    /// The rules of a stack without change_ignore.json: nothing is ignored, and a change
    /// to `spec.yml` rebuilds everything (it can change any image's build args or tags).
    pub fn without_file() -> ChangeRules {
        let mut errors = Vec::new();
        let none = Path::new("");
        ChangeRules {
            ignore: Rules::new(Vec::new(), "ChangeIgnore", none, &mut errors),
            build_all: Rules::new(vec!["spec.yml".into()], "BuildAll", none, &mut errors),
        }
    }

    /// Classifies a path relative to `images/`. `ChangeIgnore` wins over `BuildAll`.
    pub fn classify(&self, path: &str) -> Option<RuleMatch> {
        if let Some(pattern) = self.ignore.first_match(path) {
            return Some(RuleMatch::Ignore { pattern });
        }
        self.build_all
            .first_match(path)
            .map(|pattern| RuleMatch::BuildAll { pattern })
    }
}

impl Rules {
    fn new(patterns: Vec<String>, list: &str, file: &Path, errors: &mut Vec<Diagnostic>) -> Rules {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for pattern in patterns {
            let trimmed = pattern
                .trim()
                .trim_start_matches("./")
                .trim_end_matches('/');
            if trimmed.is_empty() {
                errors.push(
                    Diagnostic::error(format!("{list} has an empty entry"))
                        .in_file(file)
                        .help("remove it; an entry is a path or glob relative to images/"),
                );
                continue;
            }
            let globs = [trimmed.to_string(), format!("{trimmed}/**")]
                .map(|glob| GlobBuilder::new(&glob).literal_separator(false).build());
            match globs {
                [Ok(whole), Ok(below)] => {
                    builder.add(whole);
                    builder.add(below);
                    kept.push(trimmed.to_string());
                }
                [Err(e), _] | [_, Err(e)] => errors.push(
                    Diagnostic::error(format!(
                        "{list} entry `{pattern}` is not a valid glob: {}",
                        e.kind()
                    ))
                    .in_file(file)
                    .help("entries are globs relative to images/, like `tests_common` or `*/README.md`"),
                ),
            }
        }
        Rules {
            patterns: kept,
            set: builder.build().unwrap_or_else(|_| GlobSet::empty()),
        }
    }

    /// The first pattern matching `path`; every pattern added two globs (`P`, `P/**`).
    fn first_match(&self, path: &str) -> Option<String> {
        let hit = self.set.matches(path).into_iter().min()?;
        self.patterns.get(hit / 2).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> ChangeRules {
        ChangeRules::parse(json, Path::new("images/change_ignore.json"))
            .unwrap()
            .0
    }

    #[test]
    fn bare_names_cover_folders_and_files() {
        let r = rules(
            r#"{"ChangeIgnore": ["docs", "*.md"], "BuildAll": ["tests_common", "spec.yml", "conftest.py"]}"#,
        );
        assert_eq!(
            r.classify("docs/a/b.txt"),
            Some(RuleMatch::Ignore {
                pattern: "docs".into()
            })
        );
        assert_eq!(
            r.classify("base/README.md"),
            Some(RuleMatch::Ignore {
                pattern: "*.md".into()
            })
        );
        assert_eq!(
            r.classify("tests_common/test_x.py"),
            Some(RuleMatch::BuildAll {
                pattern: "tests_common".into()
            })
        );
        assert_eq!(
            r.classify("spec.yml"),
            Some(RuleMatch::BuildAll {
                pattern: "spec.yml".into()
            })
        );
        assert_eq!(r.classify("base/Dockerfile"), None);
        assert_eq!(r.classify("docsx/a"), None);
    }

    #[test]
    fn ignore_wins_over_build_all() {
        let r = rules(r#"{"ChangeIgnore": ["tests_common/*.md"], "BuildAll": ["tests_common"]}"#);
        assert!(matches!(
            r.classify("tests_common/README.md"),
            Some(RuleMatch::Ignore { .. })
        ));
    }

    #[test]
    fn both_keys_are_optional_and_unknown_keys_warn() {
        let (r, w) = ChangeRules::parse(r#"{"Buildall": ["x"]}"#, Path::new("c.json")).unwrap();
        assert_eq!(r.classify("x"), None);
        assert!(w[0].message.contains("`Buildall`"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = ChangeRules::parse("{\n \"BuildAll\": [x]\n}", Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("c.json:2:"), "{err}");
        let err = ChangeRules::parse(r#"{"BuildAll": ["a[b"]}"#, Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("not a valid glob"), "{err}");
    }

    #[test]
    fn no_file_means_spec_changes_rebuild_all() {
        let r = ChangeRules::without_file();
        assert!(matches!(
            r.classify("spec.yml"),
            Some(RuleMatch::BuildAll { .. })
        ));
        assert_eq!(r.classify("a/Dockerfile"), None);
    }
}
