//! Test records: which image digest passed (or failed) which tests, as data.
//!
//! A record ties an image's manifest digest to a **tests digest** — sha256 over a
//! canonical, versioned, length-prefixed encoding of the files the change rules tie to the
//! target's tests (its `test/` folder, its `integration_tests/` folder when the image runs
//! them, and every file under the images folder outside every image's folder that matches a
//! `BuildAll` entry and no `ChangeIgnore` one, such as `tests_common/` or `conftest.py`).
//! The same image with the same tests need not be tested again, and `promote
//! --require-tests` moves only images with a passed record.
//!
//! This module is pure: it selects test files by path, digests file ids an adapter read,
//! and builds and reads the JSON the registry stores (an in-toto Statement with the
//! test-result predicate, the OCI artifact manifest around it, and the OCI 1.1 fallback
//! index of referrers). [`crate::registry::referrers`] pushes and lists them; docs/tests.md
//! describes the layout.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::change_rules::{ChangeRules, RuleMatch};
use crate::context::{field, sha256};

/// The version of the tests digest's encoding; bump it when the encoding changes.
pub const TESTS_ENCODING_VERSION: &str = "stackplan-tests-v1";
/// The artifact type of a record: a stackplan type rather than in-toto's generic
/// `application/vnd.in-toto+json`, so a referrers list filtered by it holds only test
/// records, never other attestations (SBOMs, provenance) pushed for the same image.
pub const ARTIFACT_TYPE: &str = "application/vnd.stackplan.test-result.v1+json";
/// The media type of the record's one layer: the in-toto Statement.
pub const STATEMENT_MEDIA_TYPE: &str = "application/vnd.in-toto+json";
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The OCI empty descriptor's content, media type and digest (the config of an artifact).
pub const EMPTY_CONFIG: &[u8] = b"{}";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

pub const ANNOTATION_TESTS_DIGEST: &str = "dev.stackplan.tests.digest";
pub const ANNOTATION_RESULT: &str = "dev.stackplan.tests.result";
pub const ANNOTATION_TARGET: &str = "dev.stackplan.target";
pub const ANNOTATION_LOG_DIGEST: &str = "dev.stackplan.tests.log.digest";
pub const ANNOTATION_LOG_SIZE: &str = "dev.stackplan.tests.log.size";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// One file a target's tests read: its path relative to the repository root, and its git
/// blob id (hashed from disk by the adapter).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestFile {
    pub path: String,
    pub executable: bool,
    pub id: String,
}

/// Whether a path relative to the images folder is one of `image`'s test inputs.
/// `image_keys` are every image's folder; a file inside another image's folder is never
/// a test input, a file outside every image's folder is one when it matches `BuildAll`.
pub fn is_test_input(
    path: &str,
    image: &str,
    integration_tests: bool,
    in_some_image: bool,
    rules: &ChangeRules,
) -> bool {
    match rules.classify(path) {
        Some(RuleMatch::Ignore { .. }) => false,
        Some(RuleMatch::BuildAll { .. }) if !in_some_image => true,
        _ => {
            let Some(rest) = path.strip_prefix(image).and_then(|r| r.strip_prefix('/')) else {
                return false;
            };
            rest.starts_with("test/")
                || (integration_tests && rest.starts_with("integration_tests/"))
        }
    }
}

/// The tests digest of a set of files: equal files give equal digests on every machine.
pub fn tests_digest(files: &[TestFile]) -> String {
    let mut sorted: Vec<&TestFile> = files.iter().collect();
    sorted.sort();
    let mut out = Vec::with_capacity(64 + files.len() * 100);
    field(&mut out, TESTS_ENCODING_VERSION.as_bytes());
    field(&mut out, b"tests");
    for f in sorted {
        field(&mut out, if f.executable { b"exec" } else { b"file" });
        field(&mut out, f.path.as_bytes());
        field(&mut out, f.id.as_bytes());
    }
    sha256(&out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
}

impl Outcome {
    /// The annotation's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
        }
    }
}

/// What the records say of a target's image and current tests, as the plans show it
/// (`"tests"` in `plan --format json`). Set only online, and only on the targets the matrix
/// would retest: a target that builds has a new image, which no record can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    /// The newest record for these tests says passed: the matrix leaves the target out.
    Passed,
    /// The newest record for these tests says failed.
    Failed,
    /// No record for these tests (or none could be read).
    Untested,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Passed => "passed",
            TestStatus::Failed => "failed",
            TestStatus::Untested => "untested",
        }
    }
}

/// A test log, by digest and size only: its text may hold secrets and is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSummary {
    pub digest: String,
    pub size: u64,
}

/// What one record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub target: String,
    /// `<registry>/<repository>`, without tag.
    pub image_name: String,
    /// The image manifest's digest (`sha256:<hex>`).
    pub image_digest: String,
    pub tests_digest: String,
    pub outcome: Outcome,
    /// The CI run, for people.
    pub url: Option<String>,
    pub log: Option<LogSummary>,
    /// RFC 3339, UTC.
    pub created: String,
}

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The in-toto Statement of a record, with the test-result predicate, as bytes.
pub fn statement(record: &Record) -> Vec<u8> {
    let mut predicate = json!({
        "result": match record.outcome {
            Outcome::Passed => "PASSED",
            Outcome::Failed => "FAILED",
        },
        "configuration": [{
            "name": "stackplan tests",
            "digest": { "sha256": hex_of(&record.tests_digest) },
            "annotations": { "target": record.target },
        }],
        "passedTests": [],
        "warnedTests": [],
        "failedTests": [],
    });
    if let Some(url) = &record.url {
        predicate["url"] = json!(url);
    }
    let value = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": record.image_name,
            "digest": { "sha256": hex_of(&record.image_digest) },
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    });
    serde_json::to_vec(&value).expect("plain data")
}

/// The annotations every record's manifest carries, so a reader filters the referrers
/// list without fetching payloads.
pub fn annotations(record: &Record) -> std::collections::BTreeMap<String, String> {
    let mut a = std::collections::BTreeMap::new();
    a.insert(ANNOTATION_TESTS_DIGEST.into(), record.tests_digest.clone());
    a.insert(ANNOTATION_RESULT.into(), record.outcome.as_str().into());
    a.insert(ANNOTATION_TARGET.into(), record.target.clone());
    a.insert(ANNOTATION_CREATED.into(), record.created.clone());
    if let Some(log) = &record.log {
        a.insert(ANNOTATION_LOG_DIGEST.into(), log.digest.clone());
        a.insert(ANNOTATION_LOG_SIZE.into(), log.size.to_string());
    }
    a
}

/// The artifact manifest of a record: the empty config, the Statement as its one layer,
/// and the image manifest as its `subject`.
pub fn manifest(record: &Record, statement: &[u8], subject: &Descriptor) -> Vec<u8> {
    let value = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": { "mediaType": EMPTY_MEDIA_TYPE, "digest": EMPTY_DIGEST, "size": 2 },
        "layers": [{
            "mediaType": STATEMENT_MEDIA_TYPE,
            "digest": sha256(statement),
            "size": statement.len(),
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": annotations(record),
    });
    serde_json::to_vec(&value).expect("plain data")
}

/// The OCI 1.1 fallback tag of a subject: `sha256-<hex>`.
pub fn fallback_tag(subject_digest: &str) -> String {
    subject_digest.replacen(':', "-", 1)
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// The referrers an index lists (the referrers API's answer, or the fallback tag's).
pub fn referrers_of(index: &[u8]) -> Result<Vec<Descriptor>, String> {
    serde_json::from_slice::<Index>(index)
        .map(|i| i.manifests)
        .map_err(|e| format!("not an OCI image index: {e}"))
}

/// The fallback index with `added` in it: read-modify-write of what the tag held
/// (`None`: no tag yet). Other referrers are kept as they were; `added` is not listed
/// twice. Returns `None` when the index already lists it (nothing to write).
pub fn with_referrer(
    existing: Option<&[u8]>,
    added: &Descriptor,
) -> Result<Option<Vec<u8>>, String> {
    let mut index: Value = match existing {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| format!("the fallback tag does not hold JSON: {e}"))?,
        None => json!({ "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [] }),
    };
    let Some(object) = index.as_object_mut() else {
        return Err("the fallback tag does not hold an OCI image index".into());
    };
    let manifests = object.entry("manifests").or_insert_with(|| json!([]));
    let Some(list) = manifests.as_array_mut() else {
        return Err("the fallback tag's `manifests` is not a list".into());
    };
    if list.iter().any(|d| d["digest"] == added.digest.as_str()) {
        return Ok(None);
    }
    list.push(serde_json::to_value(added).expect("plain data"));
    object
        .entry("mediaType")
        .or_insert_with(|| json!(INDEX_MEDIA_TYPE));
    Ok(Some(serde_json::to_vec(&index).expect("plain data")))
}

/// What the records of one image say about one tests digest: the newest record decides
/// (a pass after a failure is a pass, a failure after a pass a failure); at equal times a
/// failure wins. `None` when no record has these tests.
pub fn verdict(referrers: &[Descriptor], tests_digest: &str) -> Option<Outcome> {
    referrers
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
        .filter(|d| {
            d.annotations
                .get(ANNOTATION_TESTS_DIGEST)
                .map(String::as_str)
                == Some(tests_digest)
        })
        .filter_map(|d| {
            let outcome = match d.annotations.get(ANNOTATION_RESULT)?.as_str() {
                "passed" => Outcome::Passed,
                "failed" => Outcome::Failed,
                _ => return None,
            };
            let created = d
                .annotations
                .get(ANNOTATION_CREATED)
                .cloned()
                .unwrap_or_default();
            Some((created, outcome == Outcome::Failed, outcome))
        })
        .max_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)))
        .map(|(_, _, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn record(outcome: Outcome) -> Record {
        Record {
            target: "base-notebook-py311".into(),
            image_name: "localhost:5000/ns/base-notebook".into(),
            image_digest: format!("sha256:{}", "a".repeat(64)),
            tests_digest: format!("sha256:{}", "b".repeat(64)),
            outcome,
            url: Some("https://ci.example/run/1".into()),
            log: Some(LogSummary {
                digest: format!("sha256:{}", "c".repeat(64)),
                size: 42,
            }),
            created: "2026-12-04T03:00:00Z".into(),
        }
    }

    fn subject() -> Descriptor {
        Descriptor {
            media_type: MANIFEST_MEDIA_TYPE.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 1234,
            artifact_type: None,
            annotations: Default::default(),
        }
    }

    #[test]
    fn the_tests_digest_is_canonical_and_moves_with_every_field() {
        let f = |path: &str, exec: bool, id: &str| TestFile {
            path: path.into(),
            executable: exec,
            id: id.into(),
        };
        let a = vec![
            f("images/a/test/t.sh", true, "1"),
            f("images/tests_common/c.sh", false, "2"),
        ];
        let mut reversed = a.clone();
        reversed.reverse();
        assert_eq!(tests_digest(&a), tests_digest(&reversed));
        let base = tests_digest(&a);
        assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
        for changed in [
            vec![
                f("images/a/test/t.sh", false, "1"),
                f("images/tests_common/c.sh", false, "2"),
            ],
            vec![
                f("images/a/test/u.sh", true, "1"),
                f("images/tests_common/c.sh", false, "2"),
            ],
            vec![
                f("images/a/test/t.sh", true, "3"),
                f("images/tests_common/c.sh", false, "2"),
            ],
            vec![f("images/a/test/t.sh", true, "1")],
        ] {
            assert_ne!(tests_digest(&changed), base, "{changed:?}");
        }
        // Length prefixes: a path cannot run into the id.
        assert_ne!(
            tests_digest(&[f("ab", false, "c")]),
            tests_digest(&[f("a", false, "bc")])
        );
        // Pinned: a change of encoding must bump TESTS_ENCODING_VERSION.
        assert_eq!(
            tests_digest(&a[..1]),
            "sha256:ef2f811981595759977e6a85382938538d6ccf1b89a83908141a1e3f1b1e2a25"
        );
    }

    #[test]
    fn test_inputs_follow_the_change_rules() {
        let (rules, _) = ChangeRules::parse(
            r#"{"ChangeIgnore": ["*.md", "*/manual_tests"], "BuildAll": ["tests_common", "conftest.py", "spec.yml"]}"#,
            Path::new("images/change_ignore.json"),
        )
        .unwrap();
        let input = |p: &str, integration: bool, in_image: bool| {
            is_test_input(p, "base", integration, in_image, &rules)
        };
        assert!(input("base/test/t.sh", false, true));
        assert!(input("tests_common/c.sh", false, false));
        assert!(input("conftest.py", false, false));
        assert!(input("spec.yml", false, false));
        assert!(!input("tests_common/README.md", false, false));
        assert!(!input("base/integration_tests/i.sh", false, true));
        assert!(input("base/integration_tests/i.sh", true, true));
        assert!(!input("base/Dockerfile", false, true));
        assert!(!input("base/manual_tests/m.sh", false, true));
        assert!(!input("other/test/t.sh", false, true));
        assert!(!input("basement/test/t.sh", false, true));
        assert!(!input("unrelated.txt", false, false));
    }

    /// The record's bytes are a contract: readers (oras, crane, curl) see exactly these.
    #[test]
    fn record_encoding_golden() {
        let r = record(Outcome::Passed);
        let st = statement(&r);
        let expected_statement = r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"localhost:5000/ns/base-notebook","digest":{"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}],"predicateType":"https://in-toto.io/attestation/test-result/v0.1","predicate":{"result":"PASSED","configuration":[{"name":"stackplan tests","digest":{"sha256":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"annotations":{"target":"base-notebook-py311"}}],"passedTests":[],"warnedTests":[],"failedTests":[],"url":"https://ci.example/run/1"}}"#;
        assert_eq!(String::from_utf8(st.clone()).unwrap(), expected_statement);
        let m = manifest(&r, &st, &subject());
        let expected_manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.stackplan.test-result.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}},"layers":[{{"mediaType":"application/vnd.in-toto+json","digest":"{}","size":{}}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":1234}},"annotations":{{"dev.stackplan.target":"base-notebook-py311","dev.stackplan.tests.digest":"sha256:{}","dev.stackplan.tests.log.digest":"sha256:{}","dev.stackplan.tests.log.size":"42","dev.stackplan.tests.result":"passed","org.opencontainers.image.created":"2026-12-04T03:00:00Z"}}}}"#,
            sha256(expected_statement.as_bytes()),
            expected_statement.len(),
            "a".repeat(64),
            "b".repeat(64),
            "c".repeat(64),
        );
        assert_eq!(String::from_utf8(m).unwrap(), expected_manifest);
        assert_eq!(sha256(EMPTY_CONFIG), EMPTY_DIGEST);
        assert_eq!(
            fallback_tag(&format!("sha256:{}", "a".repeat(64))),
            format!("sha256-{}", "a".repeat(64))
        );
    }

    fn referrer(digest: char, outcome: Outcome, created: &str, tests: char) -> Descriptor {
        let mut r = record(outcome);
        r.created = created.into();
        r.tests_digest = format!("sha256:{}", tests.to_string().repeat(64));
        Descriptor {
            media_type: MANIFEST_MEDIA_TYPE.into(),
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            size: 500,
            artifact_type: Some(ARTIFACT_TYPE.into()),
            annotations: annotations(&r),
        }
    }

    #[test]
    fn the_fallback_index_is_read_modified_and_written() {
        let first = referrer('1', Outcome::Failed, "2026-12-04T03:00:00Z", 'b');
        let made = with_referrer(None, &first).unwrap().unwrap();
        let listed = referrers_of(&made).unwrap();
        assert_eq!(listed, vec![first.clone()]);
        let index: Value = serde_json::from_slice(&made).unwrap();
        assert_eq!(index["mediaType"], INDEX_MEDIA_TYPE);
        assert_eq!(index["schemaVersion"], 2);
        // Someone else's referrer (a signature) and unknown fields are kept.
        let foreign = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:9999999999999999999999999999999999999999999999999999999999999999","size":9,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json"}],"annotations":{"x":"y"}}"#;
        let second = referrer('2', Outcome::Passed, "2026-12-04T03:01:00Z", 'b');
        let updated = with_referrer(Some(foreign), &second).unwrap().unwrap();
        let listed = referrers_of(&updated).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1], second);
        assert_eq!(
            serde_json::from_slice::<Value>(&updated).unwrap()["annotations"]["x"],
            "y"
        );
        // Writing the same record again changes nothing.
        assert_eq!(with_referrer(Some(&updated), &second).unwrap(), None);
        assert!(with_referrer(Some(b"[]"), &second).is_err());
        assert!(with_referrer(Some(b"not json"), &second).is_err());
    }

    #[test]
    fn the_newest_record_of_the_current_tests_decides() {
        let fail = referrer('1', Outcome::Failed, "2026-12-04T03:00:00Z", 'b');
        let pass = referrer('2', Outcome::Passed, "2026-12-04T03:01:00Z", 'b');
        let other_tests = referrer('3', Outcome::Passed, "2026-12-04T03:02:00Z", 'e');
        let tests = format!("sha256:{}", "b".repeat(64));
        assert_eq!(verdict(&[], &tests), None);
        assert_eq!(
            verdict(std::slice::from_ref(&fail), &tests),
            Some(Outcome::Failed)
        );
        assert_eq!(
            verdict(&[pass.clone(), fail.clone()], &tests),
            Some(Outcome::Passed)
        );
        assert_eq!(verdict(std::slice::from_ref(&other_tests), &tests), None);
        let late_fail = referrer('4', Outcome::Failed, "2026-12-04T03:05:00Z", 'b');
        assert_eq!(
            verdict(&[pass.clone(), late_fail], &tests),
            Some(Outcome::Failed)
        );
        let same_time_fail = referrer('5', Outcome::Failed, "2026-12-04T03:01:00Z", 'b');
        assert_eq!(
            verdict(&[pass.clone(), same_time_fail], &tests),
            Some(Outcome::Failed)
        );
        // Another artifact type with the same annotations is not a record.
        let mut signature = pass;
        signature.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
        assert_eq!(verdict(&[signature], &tests), None);
    }
}
