//! When and how long to wait before asking a registry again.
//!
//! A registry that throttles (429) or whose front is briefly down (502/503/504, a reset
//! connection, a timeout) is asked again after an exponential backoff with jitter, or after
//! the `Retry-After` it sent. What bounds the retries is not a count but a time budget for
//! the whole run ([`Budget`]): the time during which at least one request was waiting to be
//! retried or was in an attempt that then failed (a registry that accepts a connection and
//! never answers costs a read timeout per attempt), so sixteen requests throttled together
//! spend the budget once, not sixteen times.
//! Answers that will not change (401, 403, 404, a certificate failure) are never retried;
//! deciding that is [`super::failure`]'s job.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The first backoff; each retry of the same request doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// A `Retry-After` longer than this is not waited for even with budget left: the registry
/// is telling us to come back much later.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The retry time of one run, shared by every request of it, and what was retried.
#[derive(Debug)]
pub struct Budget {
    total: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The time charged: the union of the spans of failed attempts and planned waits.
    spent: Duration,
    /// The end of the latest span charged; what comes before it is not charged again.
    charged_until: Option<Instant>,
    /// Retries by cause ("429 Too Many Requests", "connection reset", ...).
    causes: BTreeMap<String, u32>,
}

impl State {
    /// What charging the span `from..to` would add: its part after the spans charged.
    fn extra(&self, from: Instant, to: Instant) -> Duration {
        let from = self.charged_until.map_or(from, |c| c.max(from));
        to.saturating_duration_since(from)
    }

    fn charge(&mut self, from: Instant, to: Instant) {
        let extra = self.extra(from, to);
        if !extra.is_zero() {
            self.spent += extra;
            self.charged_until = Some(to);
        }
    }

    /// The time charged up to `now` (a planned wait is charged when it is planned).
    fn spent_by(&self, now: Instant) -> Duration {
        let ahead = self
            .charged_until
            .map_or(Duration::ZERO, |c| c.saturating_duration_since(now));
        self.spent.saturating_sub(ahead)
    }
}

/// What was retried in a run: for the status line and the failure messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryReport {
    pub retries: u32,
    pub causes: BTreeMap<String, u32>,
    pub waited: Duration,
    pub budget: Duration,
}

impl std::fmt::Display for RetryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let causes: Vec<String> = self
            .causes
            .iter()
            .map(|(cause, n)| format!("{cause} ×{n}"))
            .collect();
        write!(
            f,
            "{} retr{} ({}), {:.1} s of the {} s retry budget",
            self.retries,
            if self.retries == 1 { "y" } else { "ies" },
            causes.join(", "),
            self.waited.as_secs_f64(),
            self.budget.as_secs()
        )
    }
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget {
            total,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long to wait before retry number `attempt` (1 for the first) of a request whose
    /// attempt started at `attempt_started` failed because of `cause`, or `None` when the
    /// budget cannot pay for it (then the request fails). The failed attempt is charged
    /// first: a registry that times out spends the budget as one that throttles does. The
    /// registry's `retry_after` wins over the backoff; the wait is charged when planned.
    pub fn plan_wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        cause: &str,
        attempt_started: Instant,
    ) -> Option<Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        state.charge(attempt_started, now);
        let wait = match retry_after {
            Some(d) if d > MAX_RETRY_AFTER => return None,
            Some(d) => d,
            None => backoff(attempt),
        };
        if state.spent + state.extra(now, now + wait) > self.total {
            return None;
        }
        state.charge(now, now + wait);
        *state.causes.entry(cause.to_string()).or_default() += 1;
        Some(wait)
    }

    /// Waits `wait` (charged by [`Budget::plan_wait`]).
    pub async fn wait(&self, wait: Duration) {
        tokio::time::sleep(wait).await;
    }

    pub fn report(&self) -> RetryReport {
        let state = self.lock();
        RetryReport {
            retries: state.causes.values().sum(),
            causes: state.causes.clone(),
            waited: state.spent_by(Instant::now()),
            budget: self.total,
        }
    }
}

/// The backoff before retry number `attempt`: exponential, with "equal jitter" (half fixed,
/// half random) so requests throttled together do not come back together.
pub fn backoff(attempt: u32) -> Duration {
    let exp = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for attempt in 1..20 {
            let exp = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            let b = backoff(attempt);
            assert!(b >= exp / 2 && b <= exp, "attempt {attempt}: {b:?}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn the_budget_bounds_the_waits_of_a_run() {
        let budget = Budget::new(Duration::from_secs(2));
        let now = Instant::now();
        assert_eq!(budget.plan_wait(1, secs(1), "429", now), secs(1));
        assert_eq!(budget.plan_wait(1, secs(3), "429", now), None);
        assert_eq!(budget.plan_wait(1, secs(600), "429", now), None);
        let report = budget.report();
        assert_eq!(report.retries, 1);
        assert_eq!(report.causes["429"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn parallel_waits_spend_the_budget_once() {
        let budget = Budget::new(Duration::from_secs(10));
        let started = Instant::now();
        let waits = (0..8).map(|_| async {
            let wait = budget.plan_wait(1, secs(4), "503", started).unwrap();
            budget.wait(wait).await
        });
        futures::future::join_all(waits).await;
        let spent = budget.report().waited;
        assert!(
            spent >= Duration::from_secs(4) && spent < Duration::from_secs(5),
            "{spent:?}"
        );
        let now = Instant::now();
        assert!(budget.plan_wait(1, secs(5), "503", now).is_some());
        assert!(budget.plan_wait(1, secs(7), "503", now).is_none());
    }

    /// A registry that accepts connections and never answers: each attempt ends with the
    /// client's read timeout (20 s). Those attempts spend the budget; before, only the
    /// backoffs between them did, and a 60 s budget let a run stall for 200 s.
    #[tokio::test(start_paused = true)]
    async fn attempts_that_time_out_spend_the_budget() {
        let budget = Budget::new(Duration::from_secs(60));
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = Instant::now();
            tokio::time::advance(Duration::from_secs(20)).await;
            match budget.plan_wait(attempt, None, "timeout", sent) {
                Some(wait) => budget.wait(wait).await,
                None => break,
            }
        }
        let took = started.elapsed();
        assert_eq!(attempt, 3, "{took:?}");
        assert!(took <= Duration::from_secs(61), "{took:?}");
        let report = budget.report();
        assert_eq!(report.retries, 2);
        assert!(report.waited >= Duration::from_secs(60), "{report:?}");
    }
}
