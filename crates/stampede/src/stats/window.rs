//! One definition of "current", used by the console, the API, the UI and the history CSV:
//! the last ten whole seconds that have settled.
//!
//! A request counts in the second it completed, whenever its event arrives. Events reach
//! the aggregator within a quarter of a second locally (it pulls them), and within a
//! report interval from a worker, so a second is only read once that much time has passed
//! after its end. Reading it earlier would under-count it for good: Locust's charts do.

use std::collections::BTreeMap;

/// Whole seconds in the current window (Locust's current RPS averages ten seconds).
pub const WINDOW_SECS: u64 = 10;
/// How long after its end a second is settled, in a local run.
pub const LOCAL_SETTLE_SECS: u64 = 1;
/// On a master: workers report every 3 s (Locust's interval), plus a second for transit.
pub const MASTER_SETTLE_SECS: u64 = 4;

/// An inclusive range of unix seconds; empty when `first > last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: u64,
    pub last: u64,
}

/// The newest second whose counts are settled at unix time `now`: `[s, s + 1)` ended at
/// least `settle` seconds ago.
pub fn settled_second(now: f64, settle: u64) -> u64 {
    (now.max(0.0) as u64).saturating_sub(1 + settle)
}

impl Window {
    /// The ten seconds ending with `last`, none of them before the run began (its first,
    /// partial second included only once whole).
    pub fn ending(last: u64, start_time: f64) -> Self {
        let first = last
            .saturating_sub(WINDOW_SECS - 1)
            .max(start_time.max(0.0).ceil() as u64);
        Self { first, last }
    }

    /// The current window at `now`.
    pub fn at(now: f64, settle: u64, start_time: f64) -> Self {
        Self::ending(settled_second(now, settle), start_time)
    }

    pub fn len(&self) -> u64 {
        (self.last + 1).saturating_sub(self.first)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, second: u64) -> bool {
        (self.first..=self.last).contains(&second)
    }

    /// The per-second average of `per_sec` over the window.
    pub fn average(&self, per_sec: &BTreeMap<u64, u64>) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let sum: u64 = per_sec.range(self.first..=self.last).map(|(_, n)| n).sum();
        sum as f64 / self.len() as f64
    }
}

/// What `per_sec` counted up to the end of `second`, given its total now.
pub fn total_until(total: u64, per_sec: &BTreeMap<u64, u64>, second: u64) -> u64 {
    let later: u64 = per_sec.range(second + 1..).map(|(_, n)| n).sum();
    total.saturating_sub(later)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_a_settle_before_the_running_second() {
        // At 110.2 the running second is 110, and 109 is still settling.
        assert_eq!(settled_second(110.2, 1), 108);
        let w = Window::at(110.2, 1, 100.0);
        assert_eq!((w.first, w.last), (100, 108));
        let w = Window::at(130.0, 1, 100.0);
        assert_eq!((w.first, w.last, w.len()), (119, 128, 10));
        assert!(Window::at(101.5, 1, 100.4).is_empty());
    }

    #[test]
    fn totals_until_a_second_leave_out_later_ones() {
        let per_sec = BTreeMap::from([(100, 3), (101, 4), (102, 5)]);
        assert_eq!(total_until(12, &per_sec, 101), 7);
        assert_eq!(total_until(12, &per_sec, 99), 0);
    }
}
