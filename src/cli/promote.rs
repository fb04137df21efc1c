//! `stackplan promote` and `stackplan publish`: move tags registry-side, all or nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use futures::stream::{self, StreamExt};

use super::{Printer, StackArgs};
use crate::error::{Error, Result};
use crate::flow::planning::{self, Digests};
use crate::promote::{self, Move};
use crate::registry::Registry;
use crate::session::Session;

#[derive(Debug, Clone, Args)]
pub struct PromoteCmd {
    #[command(flatten)]
    pub stack: StackArgs,

    /// The tag every image has now (`{prefix}` stands for each target's tag prefix).
    #[arg(long, value_name = "TAG")]
    pub from: String,

    /// The tag to give it (`<prefix>-stable`, or `stable` from a `<prefix>-stable` source).
    #[arg(long, value_name = "TAG")]
    pub to: String,

    /// Promote only this plan's targets.
    #[arg(long = "plan", value_name = "NAME")]
    pub only_plan: Option<String>,

    /// Rewrite where every image_name lives: HOST or HOST/NAMESPACE.
    #[arg(long, value_name = "HOST[/NAMESPACE]")]
    pub registry: Option<String>,

    /// A registry reached over plain HTTP (repeatable); loopback registries always are.
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,

    /// The time this run may spend waiting to retry registry requests (throttled, or a
    /// gateway briefly down) before it gives up.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub registry_retry_budget: humantime::Duration,

    /// Also require each source's manifest page `DIR/<image>-<tag>.md` (stackplan manifests render).
    #[arg(long, value_name = "DIR")]
    pub require_manifests: Option<PathBuf>,

    /// Move nothing unless every source image has a passed test record for its current
    /// tests (`stackplan test-result`); otherwise name each image and what it lacks.
    #[arg(long)]
    pub require_tests: bool,

    /// List what would move (source digest → new tag) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Finish a promotion that stopped midway: tags that already point at their source's
    /// digest are left as they are.
    #[arg(long)]
    pub resume: bool,

    /// After promoting, give each image's manifest page in DIR (`<image>-<from tag>.md`) a copy
    /// for the new tag and add its row to DIR/Home.md.
    #[arg(long, value_name = "DIR")]
    pub pages: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PublishCmd {
    #[command(flatten)]
    pub plan: super::PlanArgs,

    /// The metadata file of `docker buildx bake --metadata-file` for a bake made with
    /// `stackplan bake --push-by-digest`, or of `stackplan build --push-by-digest
    /// --metadata-file`, with the same flags as this command.
    #[arg(long, value_name = "FILE")]
    pub metadata: PathBuf,

    /// List what would move and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Finish a publication that stopped midway.
    #[arg(long)]
    pub resume: bool,
}

/// Tags every built target's pushed digest (its branch tag and its inputs tag), once every
/// one of them has a digest.
pub fn publish(cmd: PublishCmd, printer: &mut Printer) -> Result<()> {
    let text = std::fs::read_to_string(&cmd.metadata)
        .map_err(|e| Error::io("cannot read", &cmd.metadata, e))?;
    let metadata: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::usage_with_help(
            format!(
                "{}: not a buildx metadata file: {e}",
                cmd.metadata.display()
            ),
            "write it with `docker buildx bake -f bake.json --metadata-file FILE`",
        )
    })?;
    let session = cmd.plan.session();
    let (plan, _) = planning::plan(&session, &cmd.plan.request(), Digests::Pinned, printer)?;
    let mut moves = Vec::new();
    let mut missing = Vec::new();
    for t in plan.to_build() {
        match metadata[&t.name]["containerimage.digest"].as_str() {
            Some(digest) if digest.starts_with("sha256:") => {
                moves.extend(t.tags.iter().map(|to| Move {
                    target: t.name.clone(),
                    image: t.image.clone(),
                    from: format!("{}@{digest}", t.image_name),
                    to: to.clone(),
                }))
            }
            _ => missing.push(t.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Build {
            message: format!(
                "nothing was published; {} target(s) to build have no pushed digest in {}: {}",
                missing.len(),
                cmd.metadata.display(),
                missing.join(", ")
            ),
        });
    }
    execute(moves, &session, cmd.dry_run, cmd.resume, printer)
}

pub fn promote(cmd: PromoteCmd, printer: &mut Printer) -> Result<()> {
    let plan = planning::targets(
        &cmd.stack.request(),
        cmd.registry.clone(),
        cmd.only_plan.clone(),
        printer,
    )?;
    let moves = promote::moves(&plan, &cmd.from, &cmd.to)?;
    if let Some(dir) = &cmd.require_manifests {
        let missing: Vec<String> = moves
            .iter()
            .filter_map(|m| {
                let tag = m.from.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
                let page = dir.join(format!("{}-{tag}.md", m.image));
                (!page.is_file()).then(|| page.display().to_string())
            })
            .collect();
        if !missing.is_empty() {
            return Err(Error::Registry {
                registry: "(manifest pages)".into(),
                message: format!(
                    "nothing was promoted; manifest pages are missing:\n  {}",
                    missing.join("\n  ")
                ),
                help: Some(
                    "render them with `stackplan manifests render`, or drop --require-manifests"
                        .into(),
                ),
            });
        }
    }
    let session = super::args::session(&cmd.insecure_registry, cmd.registry_retry_budget);
    if cmd.require_tests {
        require_tests(&plan, &moves, &cmd.stack, &session, printer)?;
    }
    execute(moves.clone(), &session, cmd.dry_run, cmd.resume, printer)?;
    match &cmd.pages {
        Some(dir) if !cmd.dry_run => copy_pages(&moves, dir, printer),
        _ => Ok(()),
    }
}

/// Refuses, naming every source image and what it lacks, unless each has a passed test
/// record for its target's current tests.
fn require_tests(
    plan: &crate::plan::Plan,
    moves: &[Move],
    stack: &StackArgs,
    session: &Session,
    printer: &mut Printer,
) -> Result<()> {
    use crate::test_record::Outcome;
    let registry = &*session.registry();
    let root = planning::repo_root(&stack.request())?;
    let images_dir = crate::change_set::normalize(&stack.images);
    let targets = moves.iter().filter_map(|m| plan.target(&m.target));
    let tests = super::test_result::tests_digests(plan, &root, &images_dir, targets)?;
    let verdicts: Vec<(&Move, Result<super::test_result::Verdict>)> = session.runtime()?.block_on(
        stream::iter(moves)
            .map(|m| {
                let tests = &tests[&m.target];
                async move {
                    let v = super::test_result::verdict(registry, &m.from, tests).await;
                    (m, v)
                }
            })
            .buffer_unordered(16)
            .collect(),
    );
    planning::report_retries(registry, printer);
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
        printer.status(&format!(
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

/// The tag part of a ref.
fn tag_of(reference: &str) -> &str {
    reference
        .rsplit_once(':')
        .map(|(_, t)| t)
        .unwrap_or_default()
}

/// Copies the source tags' manifest pages to the promoted tags and adds their Home.md rows.
fn copy_pages(moves: &[Move], dir: &std::path::Path, printer: &mut Printer) -> Result<()> {
    use crate::manifests;
    let mut rows = Vec::new();
    for m in moves {
        let (from, to) = (tag_of(&m.from), tag_of(&m.to));
        let source = dir.join(format!("{}.md", manifests::page_name(&m.image, from)));
        let Ok(text) = std::fs::read_to_string(&source) else {
            printer.status(&format!(
                "warning: no page {}; none written for {}",
                source.display(),
                m.to
            ));
            continue;
        };
        let text = text.replacen(
            &format!("# {}:{from}", m.image),
            &format!("# {}:{to}", m.image),
            1,
        );
        crate::fs::write_atomic(
            &dir.join(format!("{}.md", manifests::page_name(&m.image, to))),
            &text,
        )?;
        rows.push((m.image.clone(), to.to_string()));
    }
    let home = dir.join("Home.md");
    let existing = std::fs::read_to_string(&home).ok();
    crate::fs::write_atomic(&home, &manifests::home(existing.as_deref(), &rows))?;
    printer.status(&format!(
        "added {} page(s) to {}",
        rows.len(),
        dir.display()
    ));
    Ok(())
}

/// Verifies every source, then writes every tag; reports exactly what moved.
pub fn execute(
    moves: Vec<Move>,
    session: &Session,
    dry_run: bool,
    resume: bool,
    printer: &mut Printer,
) -> Result<()> {
    let registry = &*session.registry();
    let started = std::time::Instant::now();
    let mut hosts: Vec<String> = moves
        .iter()
        .map(|m| crate::reference::registry_of(&m.from))
        .collect();
    hosts.sort();
    hosts.dedup();
    let report = session.runtime()?.block_on(async {
        // 1. Every source must exist: otherwise nothing changes.
        let sources = digests(registry, moves.iter().map(|m| m.from.clone())).await?;
        let missing: Vec<&str> = moves
            .iter()
            .filter(|m| sources[&m.from].is_none())
            .map(|m| m.from.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Registry {
                registry: hosts.join(", "),
                message: format!(
                    "nothing was promoted; {} source tag(s) do not exist:\n  {}",
                    missing.len(),
                    missing.join("\n  ")
                ),
                help: Some("build and push them first, or check --from and --registry".into()),
            });
        }
        let current = if resume || dry_run {
            digests(registry, moves.iter().map(|m| m.to.clone())).await?
        } else {
            BTreeMap::new()
        };
        let mut lines = Vec::new();
        if dry_run {
            for m in &moves {
                let digest = sources[&m.from].as_deref().unwrap_or_default();
                let note = match current.get(&m.to) {
                    Some(Some(d)) if d == digest => " (already there)",
                    Some(Some(_)) => " (moves)",
                    _ => " (new)",
                };
                lines.push(format!(
                    "would move {} ({digest}) -> {}{note}",
                    m.from, m.to
                ));
            }
            return Ok((lines, Vec::new()));
        }
        // 2. Write every tag; a failure does not stop the others, and is reported. The tags
        // of one source are written one after the other: each PUT of a manifest rewrites
        // its revision in the registry, and a registry whose storage does not write files
        // atomically (distribution's filesystem driver) can fail a concurrent read of it.
        let mut by_source: BTreeMap<String, Vec<Move>> = BTreeMap::new();
        for m in moves {
            by_source.entry(m.from.clone()).or_default().push(m);
        }
        let results: Vec<(Move, Result<String>, bool)> = stream::iter(by_source.into_values())
            .map(|group| {
                let (sources, current) = (&sources, &current);
                async move {
                    let mut out = Vec::with_capacity(group.len());
                    for m in group {
                        let source = sources[&m.from].clone().unwrap_or_default();
                        if current.get(&m.to).cloned().flatten() == Some(source.clone()) {
                            out.push((m, Ok(source), true));
                            continue;
                        }
                        let r = registry.copy_manifest(&m.from, &m.to).await;
                        out.push((m, r, false));
                    }
                    out
                }
            })
            .buffer_unordered(8)
            .flat_map(stream::iter)
            .collect()
            .await;
        let mut failed = Vec::new();
        let mut sorted = results;
        sorted.sort_by(|a, b| a.0.to.cmp(&b.0.to));
        for (m, r, already) in sorted {
            match r {
                Ok(digest) if already => {
                    lines.push(format!("kept  {} ({digest}): already moved", m.to))
                }
                Ok(digest) => lines.push(format!("moved {} -> {} ({digest})", m.from, m.to)),
                Err(e) => failed.push(format!("{}: {e}", m.to)),
            }
        }
        Ok((lines, failed))
    })?;
    planning::report_retries(registry, printer);
    let (lines, failed) = report;
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    printer.product(&text, None)?;
    if !failed.is_empty() {
        return Err(Error::Registry {
            registry: hosts.join(", "),
            message: format!(
                "{} tag(s) moved, {} did not:\n  {}",
                lines.len(),
                failed.len(),
                failed.join("\n  ")
            ),
            help: Some("run the same command again with --resume to finish".into()),
        });
    }
    printer.status(&format!(
        "{} {} tag(s) in {} ms",
        if dry_run { "checked" } else { "promoted" },
        lines.len(),
        started.elapsed().as_millis()
    ));
    Ok(())
}

async fn digests(
    registry: &Registry,
    refs: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, Option<String>>> {
    let results: Vec<(String, Result<Option<String>>)> = stream::iter(refs)
        .map(|r| async move {
            let d = registry.digest(&r).await;
            (r, d)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut out = BTreeMap::new();
    for (r, d) in results {
        out.insert(r, d?);
    }
    Ok(out)
}
