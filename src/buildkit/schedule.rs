//! Running targets as soon as their parents allow: siblings in parallel (up to a bound), a
//! child once its parent's result is *defined*, and a failure stopping only its own
//! descendants.
//!
//! A job may announce its result before it finishes ([`Defined::send`]): BuildKit's gateway
//! returns a target's result as a definition long before the image is built and exported,
//! and a child can be solved on that definition at once, in the same graph. A job that
//! announces nothing releases its children when it succeeds (executors that chain through
//! a registry). When a parent fails after its children started, the children fail too (they
//! hold the parent's steps): they are reported as skipped because of it, as are children
//! that had not started.
//!
//! A child started on its parent's definition can finish building before its parent has
//! finished *exporting* (pushing), and the parent's export can still fail. So every job is
//! also handed its parent's [`Settled`]: a job waits on it before it commits anything
//! outside BuildKit (its export), and gives up when the parent failed. A child is then
//! never pushed on top of a parent that was not, and a descendant of a failed target is
//! never reported as succeeded: its outcome is [`Outcome::Skipped`] because of the
//! highest failed ancestor.
//!
//! Generic over what "build" means, so the scheduling is tested without an engine.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// One target to run; `parent` names a job of the same run, if its parent is one.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub parent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        duration: Duration,
    },
    Failed {
        duration: Duration,
        error: String,
    },
    /// Not run, or failed with it, because an ancestor failed.
    Skipped {
        because: String,
    },
}

/// The way a running job hands its result to its children before it finishes.
pub struct Defined<D> {
    name: String,
    tx: Option<mpsc::UnboundedSender<(String, D)>>,
}

impl<D> Defined<D> {
    /// Starts the job's children on `value`; only the first call counts.
    pub fn send(&mut self, value: D) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.name.clone(), value));
        }
    }
}

/// How a job learns that its parent (a job of the same run) finished, and how.
pub struct Settled {
    parent: Option<(String, watch::Receiver<Option<bool>>)>,
}

impl Settled {
    /// Waits until the parent finished: `Ok` when it succeeded (or there is no parent in
    /// this run), `Err` naming it when it failed.
    pub async fn wait(self) -> Result<(), String> {
        let Some((name, mut rx)) = self.parent else {
            return Ok(());
        };
        let succeeded = match rx.wait_for(Option::is_some).await {
            Ok(v) => *v == Some(true),
            // The scheduler is gone: nothing will be committed anyway.
            Err(_) => false,
        };
        if succeeded {
            Ok(())
        } else {
            Err(format!("not exported: its parent {name} failed"))
        }
    }
}

/// Runs every job; `start(name, parent's value, defined, parent settled)` builds one. At
/// most `parallel` run at once (0: no bound).
pub async fn run<D, F, Fut>(
    jobs: &[Job],
    parallel: usize,
    mut start: F,
) -> BTreeMap<String, Outcome>
where
    D: Clone + Send + 'static,
    F: FnMut(String, Option<D>, Defined<D>, Settled) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let names: BTreeSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut parent_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut ready: Vec<(&str, Option<D>)> = Vec::new();
    for job in jobs {
        match job.parent.as_deref().filter(|p| names.contains(p)) {
            Some(p) => {
                children.entry(p).or_default().push(&job.name);
                parent_of.insert(&job.name, p);
            }
            None => ready.push((&job.name, None)),
        }
    }
    ready.reverse(); // pop() then takes them in the given order
    let settled: BTreeMap<&str, watch::Sender<Option<bool>>> = jobs
        .iter()
        .map(|j| (j.name.as_str(), watch::channel(None).0))
        .collect();
    let limit = if parallel == 0 { usize::MAX } else { parallel };
    let mut outcomes = BTreeMap::new();
    let mut released: BTreeSet<&str> = BTreeSet::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, D)>();
    let mut running: JoinSet<(String, Duration, Result<(), String>)> = JoinSet::new();
    loop {
        while running.len() < limit {
            let Some((name, value)) = ready.pop() else {
                break;
            };
            let defined = Defined {
                name: name.to_string(),
                tx: Some(tx.clone()),
            };
            let parent_settled = Settled {
                parent: parent_of
                    .get(name)
                    .map(|p| (p.to_string(), settled[p].subscribe())),
            };
            let fut = start(name.to_string(), value, defined, parent_settled);
            let name = name.to_string();
            running.spawn(async move {
                let started = Instant::now();
                let result = fut.await;
                (name, started.elapsed(), result)
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            Some((name, value)) = rx.recv() => {
                let Some(&name) = names.get(name.as_str()) else { continue };
                if released.insert(name) {
                    release(&children, name, Some(value), &mut ready);
                }
            }
            Some(joined) = running.join_next() => {
                let (name, duration, result) = match joined {
                    Ok(done) => done,
                    Err(e) => (String::new(), Duration::ZERO, Err(format!("internal error: {e}"))),
                };
                // A value sent just before the job ended is handled first.
                while let Ok((defined, value)) = rx.try_recv() {
                    if let Some(&d) = names.get(defined.as_str())
                        && released.insert(d)
                    {
                        release(&children, d, Some(value), &mut ready);
                    }
                }
                let Some(&name) = names.get(name.as_str()) else { continue };
                settled[name].send_replace(Some(result.is_ok()));
                match result {
                    Ok(()) => {
                        outcomes.insert(name.to_string(), Outcome::Succeeded { duration });
                        if released.insert(name) {
                            release(&children, name, None, &mut ready);
                        }
                    }
                    Err(error) => {
                        outcomes.insert(name.to_string(), Outcome::Failed { duration, error });
                        released.insert(name);
                        // Descendants that have not started never will.
                        let mut stack = children.get(name).cloned().unwrap_or_default();
                        while let Some(child) = stack.pop() {
                            ready.retain(|(r, _)| *r != child);
                            stack.extend(children.get(child).cloned().unwrap_or_default());
                        }
                    }
                }
            }
        }
    }
    // Whatever an ancestor's failure stopped, started or not, is reported as skipped
    // because of the highest failed ancestor.
    let first = outcomes.clone();
    for job in jobs {
        let name = job.name.as_str();
        let mut at = name;
        let mut because = None;
        while let Some(&p) = parent_of.get(at) {
            if matches!(first.get(p), Some(Outcome::Failed { .. })) {
                because = Some(p);
            }
            at = p;
        }
        if let Some(p) = because
            && !matches!(first.get(name), Some(Outcome::Succeeded { .. }))
        {
            outcomes.insert(
                name.to_string(),
                Outcome::Skipped {
                    because: p.to_string(),
                },
            );
        }
    }
    outcomes
}

/// Puts the children of `name` first in line (in the given order), with `value`.
fn release<'a, D: Clone>(
    children: &BTreeMap<&'a str, Vec<&'a str>>,
    name: &str,
    value: Option<D>,
    ready: &mut Vec<(&'a str, Option<D>)>,
) {
    let next = children
        .get(name)
        .into_iter()
        .flatten()
        .rev()
        .map(|c| (*c, value.clone()));
    ready.extend(next);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn job(name: &str, parent: Option<&str>) -> Job {
        Job {
            name: name.into(),
            parent: parent.map(str::to_string),
        }
    }

    fn stack() -> Vec<Job> {
        vec![
            job("root", None),
            job("a", Some("root")),
            job("b", Some("root")),
            job("a1", Some("a")),
            job("other", Some("not-in-this-run")),
        ]
    }

    #[tokio::test]
    async fn children_start_after_their_parent_siblings_together() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(Mutex::new(0usize));
        let peak = Arc::new(Mutex::new(0usize));
        let outcomes = run(&stack(), 0, |name, _: Option<()>, _, _| {
            let (log, running, peak) = (log.clone(), running.clone(), peak.clone());
            async move {
                {
                    let mut r = running.lock().unwrap();
                    *r += 1;
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(*r);
                }
                log.lock().unwrap().push(format!("start {name}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().unwrap().push(format!("end {name}"));
                *running.lock().unwrap() -= 1;
                Ok(())
            }
        })
        .await;
        assert_eq!(outcomes.len(), 5);
        assert!(
            outcomes
                .values()
                .all(|o| matches!(o, Outcome::Succeeded { .. }))
        );
        let log = log.lock().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("start a") > at("end root"));
        assert!(at("start b") > at("end root"));
        assert!(at("start a1") > at("end a"));
        assert!(
            *peak.lock().unwrap() >= 2,
            "siblings (and the other root) overlap"
        );
    }

    #[tokio::test]
    async fn a_failure_skips_only_its_descendants() {
        let outcomes = run(&stack(), 1, |name, _: Option<()>, _, _| async move {
            if name == "a" {
                Err("RUN false: exit 1".to_string())
            } else {
                Ok(())
            }
        })
        .await;
        assert!(
            matches!(&outcomes["a"], Outcome::Failed { error, .. } if error.contains("exit 1"))
        );
        assert_eq!(
            outcomes["a1"],
            Outcome::Skipped {
                because: "a".into()
            }
        );
        assert!(matches!(outcomes["b"], Outcome::Succeeded { .. }));
        assert!(matches!(outcomes["root"], Outcome::Succeeded { .. }));
        assert!(matches!(outcomes["other"], Outcome::Succeeded { .. }));
    }

    #[tokio::test]
    async fn the_bound_is_respected() {
        let running = Arc::new(Mutex::new((0usize, 0usize)));
        let jobs: Vec<Job> = (0..6).map(|i| job(&format!("j{i}"), None)).collect();
        run(&jobs, 2, |_, _: Option<()>, _, _| {
            let running = running.clone();
            async move {
                {
                    let mut r = running.lock().unwrap();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                running.lock().unwrap().0 -= 1;
                Ok(())
            }
        })
        .await;
        assert_eq!(running.lock().unwrap().1, 2);
    }

    #[tokio::test]
    async fn a_child_starts_on_its_parents_definition_and_fails_with_it() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let outcomes = run(
            &stack(),
            0,
            |name, parent: Option<String>, mut defined, _| {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .push(format!("start {name} on {parent:?}"));
                    defined.send(format!("def of {name}"));
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    log.lock().unwrap().push(format!("end {name}"));
                    match name.as_str() {
                        // `a` fails after its definition went out; `a1` fails because of it.
                        "a" | "a1" => Err(format!("{name}: RUN false")),
                        _ => Ok(()),
                    }
                }
            },
        )
        .await;
        let log = log.lock().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("start a on Some(\"def of root\")") < at("end root"));
        assert!(at("start a1 on Some(\"def of a\")") < at("end a"));
        assert!(matches!(&outcomes["a"], Outcome::Failed { .. }));
        assert_eq!(
            outcomes["a1"],
            Outcome::Skipped {
                because: "a".into()
            }
        );
        assert!(matches!(outcomes["b"], Outcome::Succeeded { .. }));
    }

    #[tokio::test]
    async fn a_failure_before_the_definition_never_starts_the_children() {
        let started = Arc::new(Mutex::new(Vec::new()));
        let outcomes = run(&stack(), 0, |name, _: Option<u8>, mut defined, _| {
            let started = started.clone();
            async move {
                started.lock().unwrap().push(name.clone());
                if name == "root" {
                    return Err("Dockerfile parse error".to_string());
                }
                defined.send(1);
                Ok(())
            }
        })
        .await;
        let mut started = started.lock().unwrap().clone();
        started.sort();
        assert_eq!(started, ["other", "root"]);
        for child in ["a", "b", "a1"] {
            assert_eq!(
                outcomes[child],
                Outcome::Skipped {
                    because: "root".into()
                }
            );
        }
    }

    #[tokio::test]
    async fn a_parent_failing_at_its_export_stops_its_childrens_exports() {
        let exported = Arc::new(Mutex::new(Vec::new()));
        let outcomes = run(
            &stack(),
            0,
            |name, _: Option<()>, mut defined, settled: Settled| {
                let exported = exported.clone();
                async move {
                    // Defined at once: the children build while `a` is still exporting.
                    defined.send(());
                    if name == "a" {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return Err("pushing a: connection refused".to_string());
                    }
                    settled.wait().await?;
                    exported.lock().unwrap().push(name);
                    Ok(())
                }
            },
        )
        .await;
        let mut exported = exported.lock().unwrap().clone();
        exported.sort();
        assert_eq!(exported, ["b", "other", "root"], "a1 is not exported");
        assert!(matches!(&outcomes["a"], Outcome::Failed { .. }));
        assert_eq!(
            outcomes["a1"],
            Outcome::Skipped {
                because: "a".into()
            }
        );
        assert!(matches!(outcomes["b"], Outcome::Succeeded { .. }));
    }
}
