//! Progress of solves, rendered from the build's [`Event`]s (BuildKit's `Status` stream among
//! them): a compact live view per target on a terminal (indicatif), plain lines otherwise, or
//! JSON events for machines; and the closing table ([`summary`]). It renders; what the events
//! are is [`super::event`]'s, and the command line picks the mode.
//!
//! A child solved on its parent's result carries the parent's steps in its own graph, so
//! its stream reports them too. Each step (vertex digest) is shown once, under the highest
//! target that reported it: the parent's steps under the parent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

use super::event::{BuildEvents, Event};
use super::schedule::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live line per running target (a terminal), else plain.
    Auto,
    /// One line per finished step, on stderr.
    Plain,
    /// A live line per running target.
    Tty,
    /// One JSON object per event, on stdout.
    Json,
}

#[derive(Default)]
struct VertexState {
    name: String,
    reported: bool,
    logs: Vec<String>,
}

pub struct Progress {
    mode: Mode,
    multi: Option<indicatif::MultiProgress>,
    bars: Mutex<HashMap<String, indicatif::ProgressBar>>,
    vertexes: Mutex<HashMap<(String, String), VertexState>>,
    /// Each target's parent in this run.
    parents: HashMap<String, String>,
    /// Which target shows each vertex, and the vertices already shown.
    owners: Mutex<(HashMap<String, String>, HashSet<String>)>,
}

/// How many log lines of a failed step are shown.
const ERROR_LOG_LINES: usize = 20;

impl Progress {
    pub fn new(mode: Mode) -> Progress {
        let mode = match mode {
            Mode::Auto if std::io::IsTerminal::is_terminal(&std::io::stderr()) => Mode::Tty,
            Mode::Auto => Mode::Plain,
            other => other,
        };
        Progress {
            mode,
            multi: (mode == Mode::Tty).then(indicatif::MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
            vertexes: Mutex::new(HashMap::new()),
            parents: HashMap::new(),
            owners: Mutex::new((HashMap::new(), HashSet::new())),
        }
    }

    /// Tells which target is whose parent (child → parent), so a step shared through an
    /// in-graph chain is shown under the parent only.
    pub fn with_parents(mut self, parents: impl IntoIterator<Item = (String, String)>) -> Self {
        self.parents = parents.into_iter().collect();
        self
    }

    fn is_ancestor(&self, ancestor: &str, of: &str) -> bool {
        let mut at = of;
        while let Some(p) = self.parents.get(at) {
            if p == ancestor {
                return true;
            }
            at = p;
        }
        false
    }

    /// Whether `target` shows `digest`: the first target to mention a vertex shows it,
    /// unless an ancestor of that target mentions it too.
    fn shows(&self, target: &str, digest: &str) -> bool {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        let owner = owners
            .0
            .entry(digest.to_string())
            .or_insert_with(|| target.to_string());
        if owner != target && self.is_ancestor(target, owner) {
            *owner = target.to_string();
        }
        owner == target
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    fn json(&self, value: serde_json::Value) {
        let _ = writeln!(std::io::stdout(), "{value}");
    }

    /// A note about the whole run.
    fn note(&self, text: &str) {
        match self.mode {
            Mode::Json => self.json(serde_json::json!({"event": "note", "note": text})),
            _ => self.line(&format!("note: {text}")),
        }
    }

    fn started(&self, target: &str) {
        match self.mode {
            Mode::Json => self.json(serde_json::json!({"target": target, "event": "started"})),
            Mode::Tty => {
                if let Some(m) = &self.multi {
                    let bar = m.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} {prefix:.bold} {wide_msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(target.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(target.to_string(), bar);
                }
            }
            _ => self.line(&format!("[{target}] started")),
        }
    }

    /// One message of a target's status stream.
    fn status(&self, target: &str, status: &StatusResponse) {
        let mut vertexes = self.vertexes.lock().unwrap_or_else(|e| e.into_inner());
        for log in &status.logs {
            let v = vertexes
                .entry((target.to_string(), log.vertex.clone()))
                .or_default();
            let text = String::from_utf8_lossy(&log.msg);
            v.logs.extend(text.lines().map(str::to_string));
            let excess = v.logs.len().saturating_sub(ERROR_LOG_LINES);
            v.logs.drain(..excess);
        }
        for vertex in &status.vertexes {
            if !self.shows(target, &vertex.digest) {
                continue;
            }
            let v = vertexes
                .entry((target.to_string(), vertex.digest.clone()))
                .or_default();
            v.name = vertex.name.clone();
            if self.mode == Mode::Tty
                && vertex.started.is_some()
                && vertex.completed.is_none()
                && let Some(bar) = self
                    .bars
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(target)
            {
                bar.set_message(vertex.name.clone());
            }
            let done = vertex.completed.is_some() || vertex.cached || !vertex.error.is_empty();
            if !done || v.reported {
                continue;
            }
            v.reported = true;
            if !self
                .owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .insert(vertex.digest.clone())
            {
                continue;
            }
            let state = if !vertex.error.is_empty() {
                "ERROR"
            } else if vertex.cached {
                "CACHED"
            } else {
                "DONE"
            };
            let secs = match (&vertex.started, &vertex.completed) {
                (Some(s), Some(c)) => {
                    let ns = (c.seconds - s.seconds) as f64 + f64::from(c.nanos - s.nanos) / 1e9;
                    Some(ns.max(0.0))
                }
                _ => None,
            };
            match self.mode {
                Mode::Json => self.json(serde_json::json!({
                    "target": target, "event": "vertex", "state": state.to_lowercase(),
                    "name": vertex.name, "digest": vertex.digest, "seconds": secs,
                    "error": (!vertex.error.is_empty()).then_some(&vertex.error),
                })),
                _ => {
                    let time = secs.map(|s| format!(" {s:.1}s")).unwrap_or_default();
                    self.line(&format!("[{target}] {state:<6}{time} {}", vertex.name));
                    if state == "ERROR" {
                        for l in &v.logs {
                            self.line(&format!("[{target}]   | {l}"));
                        }
                        self.line(&format!("[{target}]   {}", vertex.error));
                    }
                }
            }
        }
    }

    fn finished(&self, target: &str, outcome: &Outcome) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target)
        {
            bar.finish_and_clear();
        }
        let (state, detail) = describe(outcome);
        match self.mode {
            Mode::Json => self.json(serde_json::json!({"target": target, "event": "finished", "state": state, "detail": detail})),
            _ => self.line(&format!("[{target}] {state} {detail}")),
        }
    }
}

impl BuildEvents for Progress {
    fn event(&self, event: Event) {
        match event {
            Event::Note(text) => self.note(&text),
            Event::Started { target } => self.started(&target),
            Event::Status { target, status } => self.status(&target, &status),
            Event::Finished { target, outcome } => self.finished(&target, &outcome),
        }
    }
}

/// The closing table: every target of `order`, its result and its duration.
pub fn summary(outcomes: &BTreeMap<String, Outcome>, order: &[String]) -> String {
    let width = order.iter().map(String::len).max().unwrap_or(6).max(6);
    let mut s = format!(
        "{:<width$}  {:<9}  {:>8}  detail\n",
        "target", "result", "time"
    );
    for name in order {
        let Some(o) = outcomes.get(name) else {
            continue;
        };
        let (state, detail) = describe(o);
        let time = match o {
            Outcome::Succeeded { duration } | Outcome::Failed { duration, .. } => {
                format!("{:.1}s", duration.as_secs_f64())
            }
            Outcome::Skipped { .. } => "-".into(),
        };
        s.push_str(&format!(
            "{name:<width$}  {state:<9}  {time:>8}  {detail}\n"
        ));
    }
    s
}

fn describe(outcome: &Outcome) -> (&'static str, String) {
    match outcome {
        Outcome::Succeeded { .. } => ("succeeded", String::new()),
        Outcome::Failed { error, .. } => ("FAILED", first_line(error)),
        Outcome::Skipped { because } => ("skipped", format!("because {because} failed")),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_buildkit_proto::moby::buildkit::v1::Vertex;

    #[test]
    fn a_parents_step_in_a_childs_stream_belongs_to_the_parent() {
        let p = Progress::new(Mode::Plain).with_parents([
            ("kid".to_string(), "base".to_string()),
            ("grandkid".to_string(), "kid".to_string()),
        ]);
        // The child's stream mentions the parent's step first; the parent then claims it.
        assert!(p.shows("grandkid", "sha256:run-base"));
        assert!(p.shows("base", "sha256:run-base"));
        assert!(!p.shows("grandkid", "sha256:run-base"));
        assert!(!p.shows("kid", "sha256:run-base"));
        assert!(p.shows("kid", "sha256:run-kid"));
        assert!(!p.shows("grandkid", "sha256:run-kid"));
        // Unrelated targets do not take each other's steps.
        assert!(p.shows("other", "sha256:x"));
        assert!(!p.shows("base", "sha256:x"));
        let done = |digest: &str| StatusResponse {
            vertexes: vec![Vertex {
                digest: digest.into(),
                name: "RUN".into(),
                cached: true,
                ..Vertex::default()
            }],
            ..StatusResponse::default()
        };
        p.status("base", &done("sha256:run-base"));
        p.status("kid", &done("sha256:run-base"));
        assert_eq!(p.owners.lock().unwrap().1.len(), 1);
    }
}
