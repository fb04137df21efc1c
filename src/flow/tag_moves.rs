//! The tag-moving flow: one all-or-nothing writer of tags, registry-side (manifest copies,
//! no layer moves), for `promote`, `publish`, `reuse` and `build --push`'s reused targets.
//! Which tag moves where is [`crate::promote`]'s (pure); this flow checks every source,
//! writes every tag and says exactly what moved. It also holds what `promote` and
//! `publish` read besides the registry: buildx's metadata file and the manifest pages.

use std::collections::BTreeMap;
use std::path::Path;

use futures::stream::{self, StreamExt};

use super::Reporter;
use super::planning::report_retries;
use crate::error::{Error, Result};
use crate::manifests;
use crate::promote::{Move, tag_of};
use crate::registry::Registry;
use crate::session::Session;

/// How the writer treats the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write every tag.
    Write,
    /// Write every tag that does not point at its source's digest yet (a run that stopped
    /// midway finishes).
    Resume,
    /// Write nothing: say what would move.
    DryRun,
}

impl Mode {
    /// The mode of a command's `--dry-run` and `--resume` (`--dry-run` wins).
    pub fn of(dry_run: bool, resume: bool) -> Mode {
        match (dry_run, resume) {
            (true, _) => Mode::DryRun,
            (false, true) => Mode::Resume,
            (false, false) => Mode::Write,
        }
    }
}

/// What a run of the writer did: one line per tag, in the order of the tags.
#[derive(Debug)]
pub struct TagReport {
    pub mode: Mode,
    /// `moved A -> B (digest)`, `kept  B (digest): already moved`, or with
    /// [`Mode::DryRun`] `would move A (digest) -> B (new|moves|already there)`.
    pub lines: Vec<String>,
    /// `<to>: <error>` for every tag that was not written.
    pub failed: Vec<String>,
    /// The registries written to, for the error.
    pub hosts: Vec<String>,
    pub elapsed: std::time::Duration,
}

impl TagReport {
    /// The lines, each ending in a newline: the command's product.
    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }

    /// An error naming every tag that was not written, if any was not.
    pub fn check(&self) -> Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        Err(Error::Registry {
            registry: self.hosts.join(", "),
            message: format!(
                "{} tag(s) moved, {} did not:\n  {}",
                self.lines.len(),
                self.failed.len(),
                self.failed.join("\n  ")
            ),
            help: Some("run the same command again with --resume to finish".into()),
        })
    }

    /// The closing note: `promoted N tag(s) in X ms` (`checked` for a dry run).
    pub fn summary(&self) -> String {
        format!(
            "{} {} tag(s) in {} ms",
            if self.mode == Mode::DryRun {
                "checked"
            } else {
                "promoted"
            },
            self.lines.len(),
            self.elapsed.as_millis()
        )
    }
}

/// Verifies every source, then writes every tag. A missing source is an error and nothing
/// is written; a tag that fails to be written does not stop the others and is in the
/// report's `failed` (see [`TagReport::check`]).
pub fn write(
    session: &Session,
    moves: Vec<Move>,
    mode: Mode,
    reporter: &mut dyn Reporter,
) -> Result<TagReport> {
    let registry = &*session.registry();
    let started = std::time::Instant::now();
    let mut hosts: Vec<String> = moves
        .iter()
        .map(|m| crate::reference::registry_of(&m.from))
        .collect();
    hosts.sort();
    hosts.dedup();
    let (lines, failed) = session.block_on(transaction(registry, moves, mode, &hosts))??;
    report_retries(registry, reporter);
    Ok(TagReport {
        mode,
        lines,
        failed,
        hosts,
        elapsed: started.elapsed(),
    })
}

/// The lines of what moved (or would), and the tags that failed.
async fn transaction(
    registry: &Registry,
    moves: Vec<Move>,
    mode: Mode,
    hosts: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
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
    let current = if mode == Mode::Write {
        BTreeMap::new()
    } else {
        digests(registry, moves.iter().map(|m| m.to.clone())).await?
    };
    let mut lines = Vec::new();
    if mode == Mode::DryRun {
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
    let mut results: Vec<(Move, Result<String>, bool)> = stream::iter(by_source.into_values())
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
    results.sort_by(|a, b| a.0.to.cmp(&b.0.to));
    for (m, r, already) in results {
        match r {
            Ok(digest) if already => {
                lines.push(format!("kept  {} ({digest}): already moved", m.to))
            }
            Ok(digest) => lines.push(format!("moved {} -> {} ({digest})", m.from, m.to)),
            Err(e) => failed.push(format!("{}: {e}", m.to)),
        }
    }
    Ok((lines, failed))
}

/// The digest each ref has now (`None`: it does not exist).
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

/// buildx's metadata file (`--metadata-file`) of a bake or build pushed by digest.
pub fn read_metadata(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::usage_with_help(
            format!("{}: not a buildx metadata file: {e}", path.display()),
            "write it with `docker buildx bake -f bake.json --metadata-file FILE`",
        )
    })
}

/// Refuses, moving nothing, unless every source has its manifest page
/// `DIR/<image>-<tag>.md` (`promote --require-manifests`).
pub fn require_manifests(moves: &[Move], dir: &Path) -> Result<()> {
    let missing: Vec<String> = moves
        .iter()
        .filter_map(|m| {
            let page = dir.join(format!(
                "{}.md",
                manifests::page_name(&m.image, tag_of(&m.from))
            ));
            (!page.is_file()).then(|| page.display().to_string())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Registry {
        registry: "(manifest pages)".into(),
        message: format!(
            "nothing was promoted; manifest pages are missing:\n  {}",
            missing.join("\n  ")
        ),
        help: Some(
            "render them with `stackplan manifests render`, or drop --require-manifests".into(),
        ),
    })
}

/// Copies the source tags' manifest pages in `dir` to the promoted tags and adds their
/// Home.md rows (`promote --pages`).
pub fn copy_pages(moves: &[Move], dir: &Path, reporter: &mut dyn Reporter) -> Result<()> {
    let mut rows = Vec::new();
    for m in moves {
        let (from, to) = (tag_of(&m.from), tag_of(&m.to));
        let source = dir.join(format!("{}.md", manifests::page_name(&m.image, from)));
        let Ok(text) = std::fs::read_to_string(&source) else {
            reporter.status(&format!(
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
    reporter.status(&format!(
        "added {} page(s) to {}",
        rows.len(),
        dir.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(mode: Mode, lines: &[&str], failed: &[&str]) -> TagReport {
        TagReport {
            mode,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            failed: failed.iter().map(|l| l.to_string()).collect(),
            hosts: vec!["r.io".into()],
            elapsed: std::time::Duration::from_millis(7),
        }
    }

    #[test]
    fn a_dry_run_wins_over_resume() {
        assert_eq!(Mode::of(true, true), Mode::DryRun);
        assert_eq!(Mode::of(false, true), Mode::Resume);
        assert_eq!(Mode::of(false, false), Mode::Write);
    }

    #[test]
    fn the_report_says_what_moved_and_names_every_tag_that_did_not() {
        let moved = report(
            Mode::Write,
            &["moved a -> b (d)", "kept  c (d): already moved"],
            &[],
        );
        assert_eq!(
            moved.text(),
            "moved a -> b (d)\nkept  c (d): already moved\n"
        );
        assert!(moved.check().is_ok());
        assert_eq!(moved.summary(), "promoted 2 tag(s) in 7 ms");
        assert_eq!(report(Mode::DryRun, &[], &[]).text(), "");
        assert_eq!(
            report(Mode::DryRun, &["would move a (d) -> b (new)"], &[]).summary(),
            "checked 1 tag(s) in 7 ms"
        );
        let half = report(Mode::Write, &["moved a -> b (d)"], &["r.io/x:c: denied"]);
        let err = half.check().unwrap_err();
        assert_eq!(
            err.to_string(),
            "registry r.io: 1 tag(s) moved, 1 did not:\n  r.io/x:c: denied"
        );
        assert_eq!(
            err.help(),
            Some("run the same command again with --resume to finish")
        );
    }

    #[test]
    fn a_missing_manifest_page_refuses_the_promotion() {
        let dir = tempfile::tempdir().unwrap();
        let moves = [Move {
            target: "img".into(),
            image: "img".into(),
            from: "r.io/o/img:1-main".into(),
            to: "r.io/o/img:1-stable".into(),
        }];
        let err = require_manifests(&moves, dir.path()).unwrap_err();
        assert!(err.to_string().contains("img-1-main.md"), "{err}");
        std::fs::write(dir.path().join("img-1-main.md"), "# img:1-main\n").unwrap();
        require_manifests(&moves, dir.path()).unwrap();
    }
}
