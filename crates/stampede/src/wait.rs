//! How long a user waits between tasks: Locust's `wait_time` functions.

use std::time::Duration;

use rand::Rng;

/// A wait-time policy.
#[derive(Clone, Debug, PartialEq)]
pub enum WaitTime {
    /// A uniformly random wait in `[min, max]` (Locust's `between`).
    Between(Duration, Duration),
    /// Always the same wait (`constant`).
    Constant(Duration),
    /// Start a task every interval, whatever the task took (`constant_pacing`).
    ConstantPacing(Duration),
}

/// A random wait of `min` to `max` seconds.
pub fn between(min_secs: f64, max_secs: f64) -> WaitTime {
    let (a, b) = (secs(min_secs), secs(max_secs));
    WaitTime::Between(a.min(b), a.max(b))
}

/// The same wait every time.
pub fn constant(secs_: f64) -> WaitTime {
    WaitTime::Constant(secs(secs_))
}

/// One task every `secs` seconds, counting the task's own time.
pub fn constant_pacing(secs_: f64) -> WaitTime {
    WaitTime::ConstantPacing(secs(secs_))
}

/// `per_sec` tasks per second per user (the inverse of [`constant_pacing`]).
pub fn constant_throughput(per_sec: f64) -> WaitTime {
    if per_sec > 0.0 {
        WaitTime::ConstantPacing(Duration::from_secs_f64(1.0 / per_sec))
    } else {
        WaitTime::Constant(Duration::ZERO)
    }
}

/// Seconds as a duration: NaN and negatives are no wait, too many to hold is forever (a
/// huge `--wait-scale` must not wrap round to running flat out).
fn secs(s: f64) -> Duration {
    match Duration::try_from_secs_f64(s.max(0.0)) {
        Ok(d) => d,
        Err(_) if s > 0.0 => Duration::MAX,
        Err(_) => Duration::ZERO,
    }
}

impl Default for WaitTime {
    /// No wait, as a Locust user without `wait_time`.
    fn default() -> Self {
        WaitTime::Constant(Duration::ZERO)
    }
}

impl WaitTime {
    /// The wait after a task that started `since_task_start` ago.
    pub fn next(&self, since_task_start: Duration, rng: &mut impl Rng) -> Duration {
        match self {
            WaitTime::Between(a, b) if a == b => *a,
            WaitTime::Between(a, b) => secs(rng.random_range(a.as_secs_f64()..=b.as_secs_f64())),
            WaitTime::Constant(d) => *d,
            WaitTime::ConstantPacing(d) => d.saturating_sub(since_task_start),
        }
    }

    /// The same policy with every duration multiplied by `factor` (0 removes the waits).
    pub fn scaled(&self, factor: f64) -> Self {
        let f = |d: &Duration| secs(d.as_secs_f64() * factor);
        match self {
            WaitTime::Between(a, b) => WaitTime::Between(f(a), f(b)),
            WaitTime::Constant(d) => WaitTime::Constant(f(d)),
            WaitTime::ConstantPacing(d) => WaitTime::ConstantPacing(f(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_stays_within_bounds_and_scales() {
        let mut rng = rand::rng();
        let w = between(5.0, 9.0);
        for _ in 0..1000 {
            let d = w.next(Duration::ZERO, &mut rng);
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_secs(9),
                "{d:?}"
            );
        }
        assert_eq!(w.scaled(0.0).next(Duration::ZERO, &mut rng), Duration::ZERO);
        assert_eq!(between(9.0, 5.0), w);
        // A scale too large for a duration waits forever, never zero.
        assert_eq!(
            constant(1.0).scaled(1e20).next(Duration::ZERO, &mut rng),
            Duration::MAX
        );
        assert!(w.scaled(1e300).next(Duration::ZERO, &mut rng) >= Duration::from_secs(5 << 40));
    }

    #[test]
    fn pacing_subtracts_the_task_time() {
        let mut rng = rand::rng();
        let w = constant_throughput(2.0);
        assert_eq!(
            w.next(Duration::from_millis(100), &mut rng),
            Duration::from_millis(400)
        );
        assert_eq!(w.next(Duration::from_secs(3), &mut rng), Duration::ZERO);
    }
}
