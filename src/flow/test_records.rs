//! The test-record flow: writing a record for a target's current image and tests
//! (`stackplan test-result`), and reading what the records say — which retests the matrix
//! leaves out and the plans show as tested, and whether `promote --require-tests` may move
//! an image.
//!
//! The image is the manifest the target's branch tag (`<image_name>:<tag>`, the ref the
//! matrix's test job pulled) points at when the record is written; the tests are the
//! target's tests digest in this checkout. A log is recorded by its sha256 and size only,
//! never its text, so a record never carries what a test printed (tokens included). What
//! a record is, is [`crate::test_record`]'s (pure); the registry adapter writes and lists
//! them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures::stream::{self, StreamExt};

use super::Reporter;
use super::planning::{self, Digests, PlanRequest, StackRequest, report_retries};
use crate::error::{Error, Result};
use crate::plan::{Plan, Target};
use crate::promote::Move;
use crate::registry::Registry;
use crate::registry::referrers::ReferrersSource;
use crate::session::Session;
use crate::test_record::{self, LogSummary, Outcome, Record, TestStatus};

/// The tests digest of every target given, keyed by target name.
pub fn tests_digests<'a>(
    plan: &Plan,
    root: &Path,
    images_dir: &str,
    targets: impl IntoIterator<Item = &'a Target>,
) -> Result<BTreeMap<String, String>> {
    let rules = crate::test_inputs::change_rules(root, images_dir)?;
    let images: BTreeSet<String> = plan.targets.iter().map(|t| t.image.clone()).collect();
    let targets: Vec<&Target> = targets.into_iter().collect();
    let asked: BTreeSet<(String, bool)> = targets
        .iter()
        .map(|t| (t.image.clone(), t.integration_tests))
        .collect();
    let digests = crate::test_inputs::tests_digests(root, images_dir, &rules, &images, &asked)?;
    Ok(targets
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                digests[&(t.image.clone(), t.integration_tests)].clone(),
            )
        })
        .collect())
}

/// The digest of an image (`None`: it does not exist) and what its records say about one
/// tests digest (`None`: no record for these tests).
pub type Verdict = (Option<String>, Option<Outcome>);

/// What the records of `reference`'s image say about `tests`.
pub async fn verdict(registry: &Registry, reference: &str, tests: &str) -> Result<Verdict> {
    let Some(digest) = registry.digest(reference).await? else {
        return Ok((None, None));
    };
    let (referrers, _) = registry.referrers(reference, &digest).await?;
    let verdict = test_record::verdict(&referrers, tests);
    Ok((Some(digest), verdict))
}

/// A URL fit for a record: parsed, and without credentials.
pub fn checked_url(url: &str) -> Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::usage_with_help(
            format!("--url {url:?} is not a URL: {e}"),
            "give the CI run's address, like https://github.com/OWNER/REPO/actions/runs/ID",
        )
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::usage_with_help(
            "--url carries credentials (user:password@): records are readable by anyone who can pull the image",
            "give the address without them",
        ));
    }
    Ok(parsed.to_string())
}

/// The sha256 and size of a test log: all a record keeps of it.
pub fn log_summary(path: &Path) -> Result<LogSummary> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path).map_err(|e| {
        Error::usage_with_help(
            format!("--log {}: cannot read it: {e}", path.display()),
            "give the path of the test log, or drop --log",
        )
    })?;
    let mut hasher = sha2::Sha256::new();
    let size =
        std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io("cannot read", path, e))?;
    Ok(LogSummary {
        digest: format!("sha256:{:x}", hasher.finalize()),
        size,
    })
}

/// A result to record: `stackplan test-result`'s arguments, as values.
#[derive(Clone, Debug)]
pub struct RecordRequest {
    pub plan: PlanRequest,
    /// The target tested.
    pub target: String,
    pub outcome: Outcome,
    /// The CI run, for people (no credentials in it).
    pub url: Option<String>,
    /// The test log, recorded by digest and size.
    pub log: Option<PathBuf>,
}

/// A record as written.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub outcome: Outcome,
    /// The target's branch ref, the image the record is about.
    pub reference: String,
    pub image_name: String,
    pub image_digest: String,
    pub tests_digest: String,
    /// The record's own manifest digest.
    pub record_digest: String,
    /// Where the image's referrers are listed.
    pub source: ReferrersSource,
}

impl Recorded {
    /// Where the record is listed, for people: the referrers API, or the fallback tag.
    pub fn listed_by(&self) -> String {
        match self.source {
            ReferrersSource::Api => "the referrers API".to_string(),
            ReferrersSource::FallbackTag => format!(
                "the fallback tag {}:{}",
                self.image_name,
                test_record::fallback_tag(&self.image_digest)
            ),
        }
    }
}

/// Plans, then records `request.outcome` for the target's current image and tests.
pub fn record(
    session: &Session,
    request: &RecordRequest,
    reporter: &mut dyn Reporter,
) -> Result<Recorded> {
    let url = request.url.as_deref().map(checked_url).transpose()?;
    let log = request.log.as_deref().map(log_summary).transpose()?;
    if request.plan.offline {
        return Err(Error::usage_with_help(
            "stackplan test-result writes to the registry: it cannot run with --offline",
            "drop --offline (and unset STACKPLAN_OFFLINE)",
        ));
    }
    let (plan, root) = planning::plan(session, &request.plan, Digests::Pinned, reporter)?;
    let Some(target) = plan.target(&request.target) else {
        let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::usage_with_help(
            format!("no target `{}` in the plan", request.target),
            format!("the targets are: {}", names.join(", ")),
        ));
    };
    let images_dir = crate::change_set::normalize(&request.plan.stack.images);
    let tests = tests_digests(&plan, &root, &images_dir, [target])?.remove(&target.name);
    let tests = tests.unwrap_or_default();
    let registry = session.registry();
    let reference = target.reference().to_string();
    let outcome = request.outcome;
    let written = session.block_on(async {
        let Some(subject) = registry.subject(&reference).await? else {
            return Err(Error::Registry {
                registry: crate::reference::registry_of(&reference),
                message: format!("{reference} does not exist: there is no image to record a result for"),
                help: Some(
                    "push the target's image first (stackplan reuse, then the bake or build), and run test-result with the same planning flags".into(),
                ),
            });
        };
        let record = Record {
            target: target.name.clone(),
            image_name: target.image_name.clone(),
            image_digest: subject.digest.clone(),
            tests_digest: tests.clone(),
            outcome,
            url,
            log,
            created: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        };
        let written = registry.push_record(&reference, &record, &subject).await?;
        Ok((subject.digest, written))
    })??;
    report_retries(&registry, reporter);
    let (image_digest, written) = written;
    Ok(Recorded {
        outcome,
        reference,
        image_name: target.image_name.clone(),
        image_digest,
        tests_digest: tests,
        record_digest: written.digest,
        source: written.source,
    })
}

/// What the records said of the plan's retests (see [`mark_retests`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetestCounts {
    /// Targets asked about: those not built whose tests changed.
    pub asked: usize,
    pub passed: usize,
    pub failed: usize,
    pub elapsed: std::time::Duration,
}

/// Gives every target the matrix would retest (not built, a file its tests read changed)
/// its test status: `passed` when its image — the inputs tag's for a reused target, the
/// branch tag's otherwise — has a passed record for its current tests, `failed` when the
/// newest such record is a failure, `untested` otherwise. A record that cannot be read
/// leaves the target untested, with a warning: testing again is always safe. Other
/// targets keep no status.
pub fn mark_retests(
    session: &Session,
    plan: &mut Plan,
    root: &Path,
    images_dir: &str,
    reporter: &mut dyn Reporter,
) -> Result<RetestCounts> {
    let retests: Vec<&Target> = plan
        .targets
        .iter()
        .filter(|t| t.retest_reason().is_some())
        .collect();
    if retests.is_empty() {
        return Ok(RetestCounts::default());
    }
    let tests = tests_digests(plan, root, images_dir, retests.iter().copied())?;
    let registry = session.registry();
    let asked: Vec<(String, String, String)> = retests
        .iter()
        .map(|t| {
            let reference = match t.action {
                crate::plan::action::Action::Reuse => t
                    .inputs_reference()
                    .unwrap_or_else(|| t.reference().to_string()),
                _ => t.reference().to_string(),
            };
            (t.name.clone(), reference, tests[&t.name].clone())
        })
        .collect();
    let started = std::time::Instant::now();
    let answers: Vec<(String, String, Result<Verdict>)> = session.block_on(
        stream::iter(asked)
            .map(|(name, reference, tests)| {
                let registry = registry.clone();
                async move {
                    let v = verdict(&registry, &reference, &tests).await;
                    (name, reference, v)
                }
            })
            .buffer_unordered(16)
            .collect(),
    )?;
    let mut counts = RetestCounts {
        asked: answers.len(),
        ..RetestCounts::default()
    };
    let mut statuses = BTreeMap::new();
    for (name, reference, answer) in answers {
        let status = match answer {
            Ok((_, Some(Outcome::Passed))) => TestStatus::Passed,
            Ok((_, Some(Outcome::Failed))) => TestStatus::Failed,
            Ok(_) => TestStatus::Untested,
            Err(e) => {
                reporter.status(&format!(
                    "warning: the test records of {reference} could not be read, {name} is tested again: {e}"
                ));
                TestStatus::Untested
            }
        };
        match status {
            TestStatus::Passed => counts.passed += 1,
            TestStatus::Failed => counts.failed += 1,
            TestStatus::Untested => {}
        }
        statuses.insert(name, status);
    }
    for t in &mut plan.targets {
        if let Some(status) = statuses.get(&t.name) {
            t.tests = Some(*status);
        }
    }
    counts.elapsed = started.elapsed();
    Ok(counts)
}

/// Refuses, naming every source image and what it lacks, unless each has a passed test
/// record for its target's current tests in the checkout `stack` names
/// (`promote --require-tests`).
pub fn require_passed(
    session: &Session,
    plan: &Plan,
    moves: &[Move],
    stack: &StackRequest,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let registry = &*session.registry();
    let root = planning::repo_root(stack)?;
    let images_dir = crate::change_set::normalize(&stack.images);
    let targets = moves.iter().filter_map(|m| plan.target(&m.target));
    let tests = tests_digests(plan, &root, &images_dir, targets)?;
    let verdicts: Vec<(&Move, Result<Verdict>)> = session.block_on(
        stream::iter(moves)
            .map(|m| {
                let tests = &tests[&m.target];
                async move {
                    let v = verdict(registry, &m.from, tests).await;
                    (m, v)
                }
            })
            .buffer_unordered(16)
            .collect(),
    )?;
    report_retries(registry, reporter);
    let mut lacking = Vec::new();
    for (m, verdict) in verdicts {
        let tests = crate::inputs_digest::short(&tests[&m.target]);
        match verdict? {
            (Some(_), Some(Outcome::Passed)) => {}
            (Some(digest), Some(Outcome::Failed)) => lacking.push(format!(
                "{} ({digest}, target {}): its newest record for tests {tests} is a failure",
                m.from, m.target
            )),
            (Some(digest), None) => lacking.push(format!(
                "{} ({digest}, target {}): no test record for tests {tests}",
                m.from, m.target
            )),
            (None, _) => lacking.push(format!("{} (target {}): does not exist", m.from, m.target)),
        }
    }
    if lacking.is_empty() {
        reporter.status(&format!(
            "tests: every one of {} image(s) passed its current tests",
            moves.len()
        ));
        return Ok(());
    }
    lacking.sort();
    Err(Error::Registry {
        registry: "(test records)".into(),
        message: format!(
            "nothing was promoted; {} of {} image(s) lack a passed test record:\n  {}",
            lacking.len(),
            moves.len(),
            lacking.join("\n  ")
        ),
        help: Some(
            "test them and record the result with `stackplan test-result TARGET --passed`, or drop --require-tests".into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_with_credentials_is_refused() {
        assert_eq!(
            checked_url("https://ci.example/runs/1").unwrap(),
            "https://ci.example/runs/1"
        );
        let err = checked_url("https://user:token@ci.example/runs/1").unwrap_err();
        assert!(err.to_string().contains("carries credentials"), "{err}");
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn a_log_is_kept_as_its_digest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("test.log");
        std::fs::write(&log, "GITHUB_TOKEN=ghp_secret\n").unwrap();
        let summary = log_summary(&log).unwrap();
        assert_eq!(summary.size, 24);
        assert!(summary.digest.starts_with("sha256:"), "{summary:?}");
        assert_eq!(summary.digest.len(), 7 + 64);
        let err = log_summary(&dir.path().join("none.log")).unwrap_err();
        assert!(err.to_string().contains("cannot read it"), "{err}");
    }
}
