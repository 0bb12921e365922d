//! Counts that only go up: what Prometheus and OpenTelemetry read.
//!
//! The statistics table starts afresh at a reset (`--reset-stats`, the UI's button), at a
//! new test in the UI, and at every delta a worker sends its master. A monitoring system
//! reads counters, which must never go down: `rate()` would read a drop as a restart and
//! lose what was counted between its last scrape and the reset. So whatever a reset clears
//! is first folded into a [`Lifetime`], shared by every test of the process, and a
//! [`MetricsSnapshot`] is the lifetime plus the table now, made by the aggregator in one
//! step, so no request is counted twice or lost between the two.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::entry::EndpointStats;
use super::generator::GeneratorReport;
use super::names::{overflow_method, OTHER_NAMES};
use super::state::StatsState;

/// Upper bounds (seconds) of the response-time histogram's buckets, then `+Inf`. From
/// 1 ms, for loopback and fast APIs, to 30 s, past which a request is broken, not slow.
pub const BUCKETS_SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The quantiles the summary reports, from the exact (HDR) histogram.
pub const SUMMARY_QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// Monotonic counts of one (method, name) row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub requests: u64,
    pub failures: u64,
    /// Requests with no answer when their test ended (not failures).
    pub unanswered: u64,
    /// Sum of response times, in microseconds.
    pub sum_us: u64,
    /// Requests per bucket of [`BUCKETS_SECONDS`], not cumulative; the last is `+Inf`.
    pub buckets: [u64; BUCKETS_SECONDS.len() + 1],
}

impl Counts {
    fn of(e: &EndpointStats) -> Self {
        let mut c = Self {
            requests: e.num_requests,
            failures: e.num_failures,
            unanswered: e.num_unanswered,
            sum_us: e.total_response_time_us,
            buckets: Default::default(),
        };
        c.add_histogram(&e.histogram);
        c
    }

    /// One pass over the recorded values, not one per bucket.
    fn add_histogram(&mut self, h: &Histogram<u64>) {
        for v in h.iter_recorded() {
            let us = h.highest_equivalent(v.value_iterated_to());
            let secs = us as f64 / 1e6;
            let i = BUCKETS_SECONDS.partition_point(|b| *b < secs);
            self.buckets[i] += v.count_since_last_iteration();
        }
    }

    fn add(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.failures += o.failures;
        self.unanswered += o.unanswered;
        self.sum_us += o.sum_us;
        for (a, b) in self.buckets.iter_mut().zip(o.buckets.iter()) {
            *a += b;
        }
    }
}

/// What resets have cleared so far: the aggregator's own, folded in at each reset (and at
/// each worker report), at most `--max-names` rows.
#[derive(Clone, Debug)]
pub struct Lifetime {
    cap: usize,
    /// Counts only: the quantiles are the table's, not a reset's.
    counted: MetricsSnapshot,
}

impl Default for Lifetime {
    fn default() -> Self {
        Self::new(super::Limits::default().max_names)
    }
}

impl Lifetime {
    /// With at most `max_names` distinct rows; others are folded into `(other names)`,
    /// so names that change at every reset cannot grow the labels without bound.
    pub fn new(max_names: usize) -> Self {
        Self {
            cap: max_names,
            counted: MetricsSnapshot::default(),
        }
    }

    /// Adds everything `state` counted; the caller then clears it.
    pub(crate) fn fold(&mut self, state: &StatsState) {
        let mut table = MetricsSnapshot::table(state);
        table.forget_quantiles();
        self.counted.add_counts(&table, self.cap);
    }
}

/// One row of a [`MetricsSnapshot`].
#[derive(Clone, Debug)]
pub struct MetricRow {
    pub method: String,
    pub name: String,
    pub counts: Counts,
    /// [`SUMMARY_QUANTILES`] in seconds, over the table since its last reset; `None`
    /// when that has no request.
    pub quantiles: Option<[f64; SUMMARY_QUANTILES.len()]>,
}

/// Everything an exporter shows, at one moment.
#[derive(Clone, Debug, Default)]
pub struct MetricsSnapshot {
    pub rows: Vec<MetricRow>,
    /// (user type, task, runs).
    pub task_runs: Vec<(String, String, u64)>,
    pub exceptions: u64,
    /// Users running, per user type.
    pub users: Vec<(String, u64)>,
    pub generator: GeneratorReport,
    /// Whether names past `--max-names` were folded into the `(other names)` row.
    pub names_capped: bool,
}

impl MetricsSnapshot {
    /// The lifetime plus `state`, which the lifetime does not hold yet.
    pub(crate) fn of(
        lifetime: &Lifetime,
        state: &StatsState,
        users: Vec<(String, u64)>,
        generator: GeneratorReport,
    ) -> Self {
        let mut m = lifetime.counted.clone();
        m.add_counts(&Self::table(state), lifetime.cap);
        m.users = users;
        m.generator = generator;
        m
    }

    /// The table as it stands: rows in (method, name) order, with its quantiles.
    fn table(state: &StatsState) -> Self {
        let mut rows: Vec<MetricRow> = state
            .entries
            .values()
            .map(|e| MetricRow {
                method: e.method.clone(),
                name: e.name.clone(),
                counts: Counts::of(e),
                quantiles: (!e.histogram.is_empty())
                    .then(|| SUMMARY_QUANTILES.map(|q| e.percentile_ms(q) / 1000.0)),
            })
            .collect();
        rows.sort_by(|a, b| (&a.method, &a.name).cmp(&(&b.method, &b.name)));
        Self {
            names_capped: rows.iter().any(|r| r.name == OTHER_NAMES),
            rows,
            task_runs: state
                .task_runs
                .iter()
                .map(|((u, t), n)| (u.to_string(), t.to_string(), *n))
                .collect(),
            exceptions: state.exceptions.values().map(|e| e.count).sum(),
            ..Self::default()
        }
    }

    /// Adds the counts of `other` (the table now, a reset's, another test's): its rows,
    /// task runs, exceptions and saturated seconds. A row takes `other`'s quantiles if it
    /// has none. Users and the rest of the generator's health stay this snapshot's. The one
    /// cap rule of the exporters: a name with its own row keeps it; past `cap` rows, a new
    /// name goes to its method's `(other names)` (see [`overflow_method`]).
    pub fn add_counts(&mut self, other: &MetricsSnapshot, cap: usize) {
        let mut rows: BTreeMap<(String, String), MetricRow> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|r| ((r.method.clone(), r.name.clone()), r))
            .collect();
        for o in &other.rows {
            let mut key = (o.method.clone(), o.name.clone());
            let capped = !rows.contains_key(&key) && rows.len() >= cap;
            if capped {
                key = (
                    overflow_method(&o.method).to_owned(),
                    OTHER_NAMES.to_owned(),
                );
                self.names_capped = true;
            }
            let row = rows
                .entry(key)
                .or_insert_with_key(|(method, name)| MetricRow {
                    method: method.clone(),
                    name: name.clone(),
                    counts: Counts::default(),
                    quantiles: None,
                });
            row.counts.add(&o.counts);
            if !capped {
                row.quantiles = row.quantiles.or(o.quantiles);
            }
        }
        self.rows = rows.into_values().collect();
        let mut runs: BTreeMap<(String, String), u64> = std::mem::take(&mut self.task_runs)
            .into_iter()
            .map(|(u, t, n)| ((u, t), n))
            .collect();
        for (u, t, n) in &other.task_runs {
            *runs.entry((u.clone(), t.clone())).or_default() += n;
        }
        self.task_runs = runs.into_iter().map(|((u, t), n)| (u, t, n)).collect();
        self.exceptions += other.exceptions;
        self.names_capped |= other.names_capped;
        self.generator.saturated_secs += other.generator.saturated_secs;
    }

    /// Drops the quantiles: a test that ended keeps its counts, not its percentiles.
    pub fn forget_quantiles(&mut self) {
        for row in &mut self.rows {
            row.quantiles = None;
        }
    }

    /// Requests and failures over every row.
    pub fn totals(&self) -> (u64, u64) {
        self.rows.iter().fold((0, 0), |(r, f), row| {
            (r + row.counts.requests, f + row.counts.failures)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Event;

    /// A request of row `id`, `us` long.
    fn request(id: crate::stats::NameId, us: u64, failed: bool) -> Event {
        Event::Request {
            id,
            elapsed_us: us,
            content_length: 0,
            error: failed.then(|| "boom".to_owned()),
            at: 1.0,
            hops: 1,
            resent: 0,
            timing: Default::default(),
            pacing_us: 0,
        }
    }

    fn state_with(us: &[u64], failed: usize) -> StatsState {
        let mut s = StatsState::new(0.0, false);
        let names = crate::stats::Names::new(100);
        let id = names.intern("GET", "/x");
        let table = names.read();
        for (i, v) in us.iter().enumerate() {
            s.apply(request(id, *v, i < failed), "n", &table);
        }
        s
    }

    #[test]
    fn buckets_hold_each_value_once_below_its_bound() {
        // 0.5 ms, exactly 1 ms, 3 ms, 40 s.
        let s = state_with(&[500, 1_000, 3_000, 40_000_000], 1);
        let snap = MetricsSnapshot::of(&Lifetime::default(), &s, vec![], Default::default());
        let c = &snap.rows[0].counts;
        assert_eq!(c.buckets[0], 2, "0.5 ms and 1 ms are <= 0.001 s");
        assert_eq!(c.buckets[2], 1, "3 ms is in (2.5 ms, 5 ms]");
        assert_eq!(c.buckets[BUCKETS_SECONDS.len()], 1, "40 s is past 30 s");
        assert_eq!(c.buckets.iter().sum::<u64>(), 4);
        assert_eq!((c.requests, c.failures), (4, 1));
    }

    #[test]
    fn a_fold_keeps_counts_across_a_reset() {
        let mut life = Lifetime::default();
        life.fold(&state_with(&[1_000; 3], 2));
        let after = state_with(&[2_000; 5], 0);
        let snap = MetricsSnapshot::of(&life, &after, vec![], Default::default());
        assert_eq!(snap.totals(), (8, 2));
        assert_eq!(snap.rows[0].counts.sum_us, 3 * 1_000 + 5 * 2_000);
        // The quantiles describe the table since the reset only.
        assert_eq!(snap.rows[0].quantiles.unwrap()[0], 0.002);
    }

    #[test]
    fn names_that_change_at_every_reset_stay_bounded() {
        let mut life = Lifetime::new(3);
        for reset in 0..10u64 {
            let mut s = StatsState::new(0.0, false);
            let names = crate::stats::Names::new(100);
            let id = names.intern("GET", &format!("/order/{reset}"));
            s.apply(request(id, 1_000, false), "n", &names.read());
            life.fold(&s);
        }
        let snap = MetricsSnapshot::of(
            &life,
            &StatsState::new(0.0, false),
            vec![],
            Default::default(),
        );
        assert_eq!(snap.rows.len(), 4, "three names, then (other names)");
        assert!(snap.names_capped);
        assert_eq!(snap.totals(), (10, 0), "nothing is lost");
        let mut more = snap.clone();
        more.add_counts(&snap, 4);
        assert_eq!(more.rows.len(), 4);
        assert_eq!(more.totals(), (20, 0));
    }

    #[test]
    fn invented_methods_past_the_cap_share_one_row() {
        let names = crate::stats::Names::new(3);
        let mut s = StatsState::new(0.0, false);
        s.limits.max_names = 3;
        for i in 0..500 {
            let method = if i % 2 == 0 {
                "GET".to_owned()
            } else {
                format!("M{i}")
            };
            let id = names.intern(&method, &format!("/x/{i}"));
            s.apply(request(id, 1_000, false), "n", &names.read());
        }
        assert!(
            s.entries.len() <= 3 + 2,
            "{:?}",
            s.entries.keys().collect::<Vec<_>>()
        );
        assert_eq!(s.total.num_requests, 500, "nothing is lost");
        let mut life = Lifetime::new(3);
        life.fold(&s);
        let snap = MetricsSnapshot::of(&life, &s, vec![], Default::default());
        assert!(snap.rows.len() <= 5, "{}", snap.rows.len());
        assert_eq!(snap.totals(), (1000, 0));
    }

    #[test]
    fn an_ended_test_adds_to_the_next() {
        let none = Lifetime::default();
        let old = MetricsSnapshot::of(
            &none,
            &state_with(&[1_000; 2], 1),
            vec![],
            Default::default(),
        );
        let mut now =
            MetricsSnapshot::of(&none, &state_with(&[3_000], 0), vec![], Default::default());
        let mut ended = old;
        ended.forget_quantiles();
        let mut total = ended.clone();
        total.add_counts(&now, 100);
        assert_eq!(total.totals(), (3, 1));
        assert_eq!(total.rows.len(), 1);
        assert_eq!(
            total.rows[0].quantiles.unwrap()[0],
            0.003,
            "the running test's"
        );
        now.add_counts(&ended, 100);
        assert_eq!(
            now.rows[0].quantiles.unwrap()[0],
            0.003,
            "kept when it has its own"
        );
    }
}
