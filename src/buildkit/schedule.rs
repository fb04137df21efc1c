//! Running targets as soon as their parents are done: siblings in parallel (up to a bound),
//! a child after its parent, and a failure stopping only its own descendants.
//!
//! Generic over what "build" means, so the scheduling is tested without an engine.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

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
    /// Not run because an ancestor failed.
    Skipped {
        because: String,
    },
}

/// Runs every job; `start(name)` builds one. At most `parallel` run at once (0: no bound).
pub async fn run<F, Fut>(jobs: &[Job], parallel: usize, mut start: F) -> BTreeMap<String, Outcome>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let names: BTreeSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut ready: Vec<&str> = Vec::new();
    for job in jobs {
        match job.parent.as_deref().filter(|p| names.contains(p)) {
            Some(p) => children.entry(p).or_default().push(&job.name),
            None => ready.push(&job.name),
        }
    }
    ready.reverse(); // pop() then takes them in the given order
    let limit = if parallel == 0 { usize::MAX } else { parallel };
    let mut outcomes = BTreeMap::new();
    let mut running: JoinSet<(String, Duration, Result<(), String>)> = JoinSet::new();
    loop {
        while running.len() < limit {
            let Some(name) = ready.pop() else { break };
            let fut = start(name.to_string());
            let name = name.to_string();
            running.spawn(async move {
                let started = Instant::now();
                let result = fut.await;
                (name, started.elapsed(), result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (name, duration, result) = match joined {
            Ok(done) => done,
            Err(e) => (
                String::new(),
                Duration::ZERO,
                Err(format!("internal error: {e}")),
            ),
        };
        let Some(&name) = names.get(name.as_str()) else {
            continue;
        };
        match result {
            Ok(()) => {
                outcomes.insert(name.to_string(), Outcome::Succeeded { duration });
                let mut next = children.get(name).cloned().unwrap_or_default();
                next.reverse();
                ready.extend(next);
            }
            Err(error) => {
                outcomes.insert(name.to_string(), Outcome::Failed { duration, error });
                let mut stack = children.get(name).cloned().unwrap_or_default();
                while let Some(child) = stack.pop() {
                    outcomes.insert(
                        child.to_string(),
                        Outcome::Skipped {
                            because: name.to_string(),
                        },
                    );
                    stack.extend(children.get(child).cloned().unwrap_or_default());
                }
            }
        }
    }
    outcomes
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
        let outcomes = run(&stack(), 0, |name| {
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
        let outcomes = run(&stack(), 1, |name| async move {
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
        run(&jobs, 2, |_| {
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
}
