//! The open workload model: users arrive at a rate, whatever the response times, as in k6's
//! arrival-rate executors and Gatling's injection profiles. Neither Locust nor Goose has it.
//!
//! In the closed model a stalling server slows the users down, so it receives fewer
//! requests and the slowness hides (coordinated omission). Here each arrival is a new user
//! that runs `on_start`, one task (or every task in order for a sequential type), `on_stop`,
//! and leaves; arrivals keep coming on schedule. If the generator itself falls behind, the
//! lag is added to the arrival's first request, so latency is measured from the intended start.

use std::time::Duration;

/// When users of an open-model type arrive.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrivals {
    /// Arrivals per second at the start.
    pub from: f64,
    /// Arrivals per second after `over`.
    pub to: f64,
    /// Length of the linear ramp from `from` to `to` (zero: constant rate `to`).
    pub over: Duration,
    /// At most this many of its users at once; further arrivals are dropped and reported.
    pub max_users: u64,
}

impl Arrivals {
    pub fn constant(per_sec: f64) -> Self {
        Self {
            from: per_sec,
            to: per_sec,
            over: Duration::ZERO,
            max_users: 10_000,
        }
    }

    pub fn ramp(from: f64, to: f64, over: Duration) -> Self {
        Self {
            from,
            to,
            over,
            max_users: 10_000,
        }
    }

    /// Seconds from the start at which arrival number `n` (from 0) is due, or `None` if the
    /// rate has dropped to zero before it.
    pub fn due(&self, n: u64) -> Option<f64> {
        let n = n as f64;
        let (a, b, t) = (
            self.from.max(0.0),
            self.to.max(0.0),
            self.over.as_secs_f64(),
        );
        if t <= 0.0 || a == b {
            let r = if t <= 0.0 { b } else { a };
            return (r > 0.0).then(|| n / r);
        }
        // Arrivals by time x within the ramp: a*x + (b-a)*x^2/(2t).
        let in_ramp = (a + b) * t / 2.0;
        if n < in_ramp {
            let k = (b - a) / t;
            let disc = a * a + 2.0 * k * n;
            return Some((-a + disc.max(0.0).sqrt()) / k);
        }
        (b > 0.0).then(|| t + (n - in_ramp) / b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_spaces_arrivals_evenly() {
        let a = Arrivals::constant(4.0);
        assert_eq!(a.due(0), Some(0.0));
        assert_eq!(a.due(8), Some(2.0));
        assert_eq!(Arrivals::constant(0.0).due(1), None);
    }

    #[test]
    fn a_ramp_accelerates_then_holds() {
        // 0 -> 10/s over 10 s: 50 arrivals in the ramp, then 10/s.
        let a = Arrivals::ramp(0.0, 10.0, Duration::from_secs(10));
        assert!((a.due(50).unwrap() - 10.0).abs() < 1e-9);
        assert!((a.due(60).unwrap() - 11.0).abs() < 1e-9);
        // Half the ramp's arrivals come in its last 30 %: 25 arrivals by ~7.07 s.
        assert!((a.due(25).unwrap() - 50f64.sqrt()).abs() < 1e-9);
        let down = Arrivals::ramp(10.0, 0.0, Duration::from_secs(10));
        assert!(down.due(49).is_some());
        assert_eq!(down.due(50), None);
    }
}
