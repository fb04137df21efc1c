//! Where a run spends its time, phase by phase, on stderr when `STACKPLAN_TIMINGS=1`, and
//! the memory resident at the end of each: the figures behind the README's planning table
//! (`bench/plan-large-stack.sh` prints them).

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
            "stackplan: timing: {phase:<16} {:>8.1} ms {:>8}",
            now.duration_since(since).as_secs_f64() * 1000.0,
            resident().map_or(String::new(), |mib| format!("{mib:.1} MiB")),
        );
    }
    *last = Some(now);
}

/// The process's resident memory in MiB (Linux's `/proc/self/status`; none elsewhere).
fn resident() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
