//! `stackplan test-result TARGET --passed|--failed`: records that the target's current
//! image passed (or failed) its current tests, in the registry next to the image.
//!
//! The image is the manifest the target's branch tag (`<image_name>:<tag>`, the ref the
//! matrix's test job pulled) points at when the command runs; the tests are the target's
//! tests digest in this checkout. `--log FILE` records only the log's sha256 and size,
//! never its text, so a record never carries what a test printed (tokens included).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{PlanArgs, Printer};
use crate::error::{Error, Result};
use crate::flow::planning::{self, Digests};
use crate::plan::{Plan, Target};
use crate::registry::Registry;
use crate::session::Session;
use crate::test_record::{self, LogSummary, Outcome, Record};

#[derive(Debug, Clone, Args)]
pub struct TestResultCmd {
    #[command(flatten)]
    pub plan: PlanArgs,

    /// The target tested (`stackplan plan` lists them).
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The tests passed.
    #[arg(
        long,
        conflicts_with = "failed",
        required_unless_present = "failed",
        help_heading = "Result"
    )]
    pub passed: bool,

    /// The tests failed.
    #[arg(long, help_heading = "Result")]
    pub failed: bool,

    /// The CI run that tested it, for people (no credentials in it).
    #[arg(long, value_name = "URL", help_heading = "Result")]
    pub url: Option<String>,

    /// The test log: only its sha256 and size are recorded, never its text.
    #[arg(long, value_name = "FILE", help_heading = "Result")]
    pub log: Option<PathBuf>,
}

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
fn checked_url(url: &str) -> Result<String> {
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

fn log_summary(path: &Path) -> Result<LogSummary> {
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

pub fn run(cmd: TestResultCmd, printer: &mut Printer) -> Result<()> {
    let url = cmd.url.as_deref().map(checked_url).transpose()?;
    let log = cmd.log.as_deref().map(log_summary).transpose()?;
    if cmd.plan.offline {
        return Err(Error::usage_with_help(
            "stackplan test-result writes to the registry: it cannot run with --offline",
            "drop --offline (and unset STACKPLAN_OFFLINE)",
        ));
    }
    let session = cmd.plan.session();
    let (plan, root) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let Some(target) = plan.target(&cmd.target) else {
        let names: Vec<&str> = plan.targets.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::usage_with_help(
            format!("no target `{}` in the plan", cmd.target),
            format!("the targets are: {}", names.join(", ")),
        ));
    };
    let images_dir = crate::change_set::normalize(&cmd.plan.stack.images);
    let tests = tests_digests(&plan, &root, &images_dir, [target])?.remove(&target.name);
    let tests = tests.unwrap_or_default();
    let registry = session.registry();
    let reference = target.reference().to_string();
    let outcome = if cmd.failed {
        Outcome::Failed
    } else {
        Outcome::Passed
    };
    let written = session.runtime()?.block_on(async {
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
    })?;
    planning::report_retries(&registry, printer);
    let (image_digest, written) = written;
    let where_ = match written.source {
        crate::registry::referrers::ReferrersSource::Api => "the referrers API".to_string(),
        crate::registry::referrers::ReferrersSource::FallbackTag => format!(
            "the fallback tag {}:{}",
            target.image_name,
            test_record::fallback_tag(&image_digest)
        ),
    };
    printer.product(
        &format!(
            "recorded {} for {reference} ({image_digest}), tests {tests}: {}@{} (listed by {where_})\n",
            outcome.as_str(),
            target.image_name,
            written.digest
        ),
        None,
    )
}

/// The targets of `matrix`'s retest jobs whose image has a passed record for their current
/// tests: the image a reused target gets (its inputs tag's), or the one its tag has. A
/// record that cannot be read leaves the job in, with a warning: testing again is safe.
pub(super) fn tested(
    plan: &Plan,
    root: &Path,
    images_dir: &str,
    matrix: &crate::emit::matrix::Matrix,
    session: &Session,
    printer: &mut Printer,
) -> Result<BTreeSet<String>> {
    use futures::stream::{self, StreamExt};
    let retests: Vec<&Target> = matrix
        .include
        .iter()
        .filter(|j| j.action == "retest")
        .filter_map(|j| plan.target(&j.target))
        .collect();
    if retests.is_empty() {
        return Ok(BTreeSet::new());
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
    let answers: Vec<(String, String, Result<Verdict>)> = session.runtime()?.block_on(
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
    );
    let mut out = BTreeSet::new();
    for (name, reference, answer) in answers {
        match answer {
            Ok((_, Some(Outcome::Passed))) => {
                out.insert(name);
            }
            Ok(_) => {}
            Err(e) => printer.status(&format!(
                "warning: the test records of {reference} could not be read, {name} is tested again: {e}"
            )),
        }
    }
    printer.status(&format!(
        "tests: {} of {} retest(s) left out, their image passed these tests already ({} ms)",
        out.len(),
        retests.len(),
        started.elapsed().as_millis()
    ));
    planning::report_retries(&registry, printer);
    Ok(out)
}
