//! One run's shared machinery: the async runtime the network adapters run on, the registry
//! client every step of the run shares (its tokens, connections and retry budget), and the
//! phase timings. A command makes one [`Session`] and passes it to the flows it runs; there
//! is no process-global state, so a test can make as many sessions as it likes.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::registry::{Registry, RegistryOptions};

pub struct Session {
    registry_options: RegistryOptions,
    runtime: OnceLock<tokio::runtime::Runtime>,
    registry: OnceLock<Arc<Registry>>,
    timings: Timings,
}

impl Default for Session {
    fn default() -> Self {
        Session::new(RegistryOptions::default())
    }
}

impl Session {
    /// A session whose registry client, made on first use, has `registry_options`.
    pub fn new(registry_options: RegistryOptions) -> Session {
        Session {
            registry_options,
            runtime: OnceLock::new(),
            registry: OnceLock::new(),
            timings: Timings::from_env(),
        }
    }

    /// The async runtime, started on first use (a run that stays offline starts none).
    pub fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("cannot start", "the async runtime", e))?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// Runs `future` to completion on the session's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output> {
        Ok(self.runtime()?.block_on(future))
    }

    /// The run's registry client: one per session, so probing, the inputs tags and then
    /// promote, publish or reuse share tokens, connections and the retry budget.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .get_or_init(|| Arc::new(Registry::new(self.registry_options.clone())))
            .clone()
    }

    /// Marks the end of a phase for `STACKPLAN_TIMINGS=1` (see [`Timings`]).
    pub fn mark(&self, phase: &str) {
        self.timings.mark(phase);
    }
}

/// Where a run spends its time, phase by phase, on stderr when `STACKPLAN_TIMINGS=1`, and
/// the memory resident at the end of each: the figures behind the README's planning table
/// (`bench/plan-large-stack.sh` prints them).
struct Timings {
    /// The end of the previous phase; `None` when timings are off.
    last: Option<Mutex<Instant>>,
}

impl Timings {
    fn from_env() -> Timings {
        let on = std::env::var("STACKPLAN_TIMINGS").is_ok_and(|v| v == "1");
        Timings {
            last: on.then(|| Mutex::new(Instant::now())),
        }
    }

    fn mark(&self, phase: &str) {
        let Some(last) = &self.last else { return };
        let now = Instant::now();
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "stackplan: timing: {phase:<16} {:>8.1} ms {:>8}",
            now.duration_since(*last).as_secs_f64() * 1000.0,
            resident().map_or(String::new(), |mib| format!("{mib:.1} MiB")),
        );
        *last = now;
    }
}

/// The process's resident memory in MiB (Linux's `/proc/self/status`; none elsewhere).
fn resident() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
