//! Where a run spends its time, phase by phase, on stderr when `STACKPLAN_TIMINGS=1`:
//! the figures behind the README's planning table (`bench/plan-large-stack.sh` prints them).

use std::sync::Mutex;
use std::time::Instant;

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("STACKPLAN_TIMINGS").is_ok_and(|v| v == "1"))
}

/// Marks the end of `phase`: prints the time since the previous mark (or since the first
/// call, which only starts the clock when `phase` is empty).
pub fn mark(phase: &str) {
    if !enabled() {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let (Some(since), false) = (*last, phase.is_empty()) {
        eprintln!(
            "stackplan: timing: {phase:<16} {:>8.1} ms",
            now.duration_since(since).as_secs_f64() * 1000.0
        );
    }
    *last = Some(now);
}
