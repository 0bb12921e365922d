//! Everything the aggregator knows, and the summaries it hands out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::entry::{new_histogram, record_us, EndpointStats, PERCENTILES_TO_REPORT};
use super::generator::GeneratorReport;
use super::names::{overflow_method, Table, OTHER_NAMES};
use super::window::{
    settled_second, total_until, Window, LOCAL_SETTLE_SECS, MASTER_SETTLE_SECS, WINDOW_SECS,
};
use super::Event;

/// Failures grouped by method, name and error text (Locust's failures table).
#[derive(Clone, Debug, Serialize)]
pub struct ErrorStats {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: f64,
    pub last_seen: f64,
}

/// Task errors and panics grouped by message and place (Locust's exceptions table).
#[derive(Clone, Debug, Serialize)]
pub struct ExceptionStats {
    pub count: u64,
    pub msg: String,
    pub traceback: String,
    pub nodes: Vec<String>,
}

/// One second of the run, for charts and the history CSV.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryPoint {
    pub time: f64,
    pub user_count: u64,
    /// A row per endpoint when the full history is kept, then always the Aggregated row.
    pub rows: Vec<HistoryRow>,
}

impl HistoryPoint {
    /// The Aggregated row.
    pub fn total(&self) -> &HistoryRow {
        self.rows
            .last()
            .expect("a history point always has the Aggregated row")
    }
}

/// One endpoint (or Aggregated) at one second: Locust's `_stats_history.csv` row.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryRow {
    pub method: String,
    pub name: String,
    pub current_rps: f64,
    pub current_fail_per_sec: f64,
    /// [`PERCENTILES_TO_REPORT`] over the last ten seconds for Aggregated, since the start
    /// for endpoints.
    pub percentiles: Vec<f64>,
    pub num_requests: u64,
    pub num_failures: u64,
    pub median_response_time: f64,
    pub avg_response_time: f64,
    pub min_response_time: f64,
    pub max_response_time: f64,
    pub avg_content_length: f64,
}

impl HistoryRow {
    /// The row for whole second `second`: its window's rates, and the counts up to its end
    /// (events for later seconds may already be in).
    fn of(e: &EndpointStats, second: u64, start: f64, percentiles: Vec<f64>) -> Self {
        let w = Window::ending(second, start);
        Self {
            method: e.method.clone(),
            name: e.name.clone(),
            current_rps: e.current_rps(w),
            current_fail_per_sec: e.current_fail_per_sec(w),
            percentiles,
            num_requests: total_until(e.num_requests, &e.reqs_per_sec, second),
            num_failures: total_until(e.num_failures, &e.fails_per_sec, second),
            median_response_time: e.median_ms(),
            avg_response_time: e.avg_ms(),
            min_response_time: e.min_ms(),
            max_response_time: e.max_ms(),
            avg_content_length: e.avg_content_length(),
        }
    }
}

/// Everything counted since the start (or the last reset).
#[derive(Clone, Debug)]
pub struct StatsState {
    /// Keyed by (name, method): Locust sorts rows by name, then method.
    pub entries: BTreeMap<(String, String), EndpointStats>,
    /// Every entry summed: the "Aggregated" row.
    pub total: EndpointStats,
    /// Keyed by (method, name, error).
    pub errors: BTreeMap<(String, String, String), ErrorStats>,
    /// Keyed by (message, location).
    pub exceptions: BTreeMap<(String, String), ExceptionStats>,
    /// Task runs keyed by (user type, task).
    pub task_runs: BTreeMap<(Arc<str>, Arc<str>), u64>,
    /// One point per second: the `_stats_history.csv` rows and the UI's charts.
    pub history: Vec<HistoryPoint>,
    /// Whether history points carry a row per endpoint (`--csv-full-history`).
    pub full_history: bool,
    /// Per-second histograms of the last seconds, for "current" percentiles.
    recent: VecDeque<(u64, Histogram<u64>)>,
    /// Unix time (s) the counting began.
    pub start_time: f64,
    /// The caps on names and failure texts this state keeps to.
    pub limits: Limits,
    /// Seconds after its end before a second is read (see `stats/window.rs`).
    pub settle_secs: u64,
    /// The newest second the history has a point for.
    history_through: Option<u64>,
    /// The generator's health, as of the last answer the aggregator gave.
    pub generator: GeneratorReport,
    /// Users running in the seconds not yet in the history (sampled by the aggregator),
    /// so each point shows its own second's count, not the count when it was written.
    users_per_sec: BTreeMap<u64, u64>,
}

/// Caps that keep memory bounded whatever a target or a worker sends.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Distinct request names (`--max-names`); the excess goes to one `(other names)` row
    /// per method.
    pub max_names: usize,
    /// Distinct failure texts per entry (`--max-failure-keys`); the excess goes to one
    /// `other failures` row.
    pub max_failure_keys: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_names: 2_000,
            max_failure_keys: 100,
        }
    }
}

/// The failure text beyond `--max-failure-keys`.
pub const OTHER_FAILURES: &str = "other failures";

/// The most history points one call writes (an hour), whatever the clock did.
const MAX_CATCH_UP: u64 = 3600;

/// How many seconds of recent histograms to keep.
const RECENT_SECONDS: usize = (WINDOW_SECS + MASTER_SETTLE_SECS + 2) as usize;

impl StatsState {
    /// Nothing counted yet, from `start_time` (Unix s); `full_history` as
    /// `--csv-full-history`.
    pub fn new(start_time: f64, full_history: bool) -> Self {
        Self {
            full_history,
            entries: BTreeMap::new(),
            total: EndpointStats::new("", "Aggregated", start_time),
            errors: BTreeMap::new(),
            exceptions: BTreeMap::new(),
            task_runs: BTreeMap::new(),
            history: Vec::new(),
            recent: VecDeque::new(),
            start_time,
            limits: Limits::default(),
            settle_secs: LOCAL_SETTLE_SECS,
            history_through: None,
            users_per_sec: BTreeMap::new(),
            generator: GeneratorReport::default(),
        }
    }

    /// The current window at `now`.
    pub fn window(&self, now: f64) -> Window {
        Window::at(now, self.settle_secs, self.start_time)
    }

    /// The entry for (name, method), or the `(other names)` row once `--max-names` names
    /// exist. The key is borrowed: a row that exists is found without allocating.
    fn entry_for(&mut self, method: &str, name: &str) -> &mut EndpointStats {
        let key = (name.to_owned(), method.to_owned());
        self.entry_at(&key)
    }

    /// [`entry_for`](Self::entry_for) by the row's own key (name, method).
    fn entry_at(&mut self, key: &(String, String)) -> &mut EndpointStats {
        let start = self.start_time;
        if !self.entries.contains_key(key) {
            let key = if self.entries.len() < self.limits.max_names {
                key.clone()
            } else {
                if !self.entries.keys().any(|(n, _)| n == OTHER_NAMES) {
                    tracing::warn!(
                        "more than {} request names: the rest are counted under '{OTHER_NAMES}' (raise --max-names, or name requests with ids .name(\"/item/[id]\")); /metrics and --otel labels are bounded the same way",
                        self.limits.max_names
                    );
                }
                (OTHER_NAMES.to_owned(), overflow_method(&key.1).to_owned())
            };
            return self
                .entries
                .entry(key)
                .or_insert_with_key(|(n, m)| EndpointStats::new(m, n, start));
        }
        self.entries.get_mut(key).expect("just looked up")
    }

    /// Counts `n` occurrences of a failure, or of `other failures` once the entry has
    /// `--max-failure-keys` distinct texts.
    fn count_error(
        &mut self,
        method: &str,
        name: &str,
        error: &str,
        n: u64,
        first: f64,
        last: f64,
    ) {
        let cap = self.limits.max_failure_keys;
        let entry = self.entry_for(method, name);
        let (method, name) = (entry.method.clone(), entry.name.clone());
        let mut key = (method, name, error.to_owned());
        if !self.errors.contains_key(&key) {
            let entry = self.entry_for(&key.0, &key.1);
            if entry.failure_keys >= cap {
                if entry.failure_keys == cap {
                    tracing::warn!(
                        "more than {cap} distinct failures for {} {}: the rest are counted as '{OTHER_FAILURES}' (raise --max-failure-keys)",
                        key.0, key.1
                    );
                    entry.failure_keys += 1;
                }
                key.2 = OTHER_FAILURES.to_owned();
            } else {
                entry.failure_keys += 1;
            }
        }
        let e = self
            .errors
            .entry(key)
            .or_insert_with_key(|(m, n, err)| ErrorStats {
                method: m.clone(),
                name: n.clone(),
                error: err.clone(),
                occurrences: 0,
                first_seen: first,
                last_seen: last,
            });
        e.occurrences = e.occurrences.saturating_add(n);
        e.first_seen = e.first_seen.min(first);
        e.last_seen = e.last_seen.max(last);
    }

    /// Counts one event; `names` turns its id back into its row's key.
    pub fn apply(&mut self, event: Event, node: &str, names: &Table) {
        match event {
            Event::Request {
                id,
                elapsed_us,
                content_length,
                error,
                at,
                hops,
                resent,
                timing,
                pacing_us,
            } => {
                let key = names.key(id);
                let failed = error.is_some();
                let entry = self.entry_at(key);
                entry.record(elapsed_us, content_length, failed, at);
                entry.num_hops += u64::from(hops);
                entry.num_resent += u64::from(resent);
                entry.timing.add(&timing);
                if pacing_us > 0 {
                    entry.record_corrected(elapsed_us, pacing_us);
                    self.total.record_corrected(elapsed_us, pacing_us);
                }
                self.total.record(elapsed_us, content_length, failed, at);
                self.total.num_hops += u64::from(hops);
                self.total.num_resent += u64::from(resent);
                self.total.timing.add(&timing);
                self.record_recent(elapsed_us, at);
                if let Some(error) = error {
                    self.count_error(&key.1, &key.0, &error, 1, at, at);
                }
            }
            Event::Unanswered { id, hops, mid_body } => {
                let entry = self.entry_at(names.key(id));
                entry.num_unanswered += 1;
                entry.num_unanswered_mid_body += u64::from(mid_body);
                entry.num_hops += u64::from(hops);
                self.total.num_unanswered += 1;
                self.total.num_unanswered_mid_body += u64::from(mid_body);
                self.total.num_hops += u64::from(hops);
            }
            Event::TaskRun { user_type, task } => {
                // The key's `Arc`s are the runner's own: counting allocates nothing.
                *self.task_runs.entry((user_type, task)).or_default() += 1;
            }
            Event::Exception { message, location } => {
                let e = self
                    .exceptions
                    .entry((message.clone(), location.clone()))
                    .or_insert_with(|| ExceptionStats {
                        count: 0,
                        msg: message,
                        traceback: location,
                        nodes: Vec::new(),
                    });
                e.count += 1;
                if !e.nodes.iter().any(|n| n == node) {
                    e.nodes.push(node.to_owned());
                }
            }
        }
    }

    fn record_recent(&mut self, elapsed_us: u64, at: f64) {
        let second = at as u64;
        match self.recent.iter_mut().rev().find(|(s, _)| *s == second) {
            Some((_, h)) => record_us(h, elapsed_us),
            None => {
                let mut h = new_histogram();
                record_us(&mut h, elapsed_us);
                self.recent.push_back((second, h));
                self.recent.make_contiguous().sort_by_key(|(s, _)| *s);
                while self.recent.len() > RECENT_SECONDS {
                    self.recent.pop_front();
                }
            }
        }
    }

    /// Percentile (ms) of the requests completed in window `w`.
    pub fn current_percentile_ms(&self, quantile: f64, w: Window) -> f64 {
        let mut merged = new_histogram();
        for (s, h) in &self.recent {
            if w.contains(*s) {
                merged.add(h).expect("auto-resizing histograms always add");
            }
        }
        if merged.is_empty() {
            0.0
        } else {
            merged.value_at_quantile(quantile) as f64 / 1000.0
        }
    }

    /// Notes how many users run at `now`, for that second's history point.
    pub fn note_users(&mut self, now: f64, user_count: u64) {
        self.users_per_sec.insert(now.max(0.0) as u64, user_count);
    }

    /// Appends a history point for every second settled by `now` and not yet written.
    pub fn push_history(&mut self, now: f64, user_count: u64) {
        self.note_users(now, user_count);
        self.history_to(settled_second(now, self.settle_secs), user_count);
    }

    /// Writes the history up to the running second: the run is over and nothing more will
    /// arrive, so the last seconds are as settled as they will get.
    pub fn close_history(&mut self, now: f64, user_count: u64) {
        self.history_to(now.max(0.0) as u64, user_count);
    }

    fn history_to(&mut self, last: u64, user_count: u64) {
        let begin = self.start_time.max(0.0) as u64;
        let from = self.history_through.map_or(begin, |s| s + 1);
        // A clock that jumped does not make an unbounded number of points.
        let from = from.max(last.saturating_sub(MAX_CATCH_UP));
        for second in from..=last {
            if second < begin {
                continue;
            }
            // The count sampled in that second, else the latest before it.
            let users = self
                .users_per_sec
                .range(..=second)
                .next_back()
                .map_or(user_count, |(_, n)| *n);
            self.push_point(second, users);
            self.history_through = Some(second);
        }
        // Keep the newest sample at or before `last`: it stands for the seconds after it.
        if let Some((&s, _)) = self.users_per_sec.range(..=last).next_back() {
            self.users_per_sec = self.users_per_sec.split_off(&s);
        }
    }

    /// The point for whole second `second`, stamped with its end.
    fn push_point(&mut self, second: u64, user_count: u64) {
        let start = self.start_time;
        let mut rows = Vec::new();
        if self.full_history {
            for e in self.entries.values() {
                let p = PERCENTILES_TO_REPORT
                    .iter()
                    .map(|q| e.percentile_ms(*q))
                    .collect();
                rows.push(HistoryRow::of(e, second, start, p));
            }
        }
        let w = Window::ending(second, start);
        let current = PERCENTILES_TO_REPORT
            .iter()
            .map(|q| self.current_percentile_ms(*q, w))
            .collect();
        rows.push(HistoryRow::of(&self.total, second, start, current));
        self.history.push(HistoryPoint {
            time: (second + 1) as f64,
            user_count,
            rows,
        });
    }

    /// Adds another node's state (distributed mode, or tests of merging).
    pub fn merge(&mut self, other: &StatsState) {
        for e in other.entries.values() {
            self.entry_for(&e.method, &e.name).merge(e);
        }
        self.total.merge(&other.total);
        for e in other.errors.values() {
            self.count_error(
                &e.method,
                &e.name,
                &e.error,
                e.occurrences,
                e.first_seen,
                e.last_seen,
            );
        }
        for (k, e) in &other.exceptions {
            let mine = self
                .exceptions
                .entry(k.clone())
                .or_insert_with(|| ExceptionStats {
                    count: 0,
                    nodes: Vec::new(),
                    ..e.clone()
                });
            mine.count += e.count;
            for n in &e.nodes {
                if !mine.nodes.contains(n) {
                    mine.nodes.push(n.clone());
                }
            }
        }
        for (k, n) in &other.task_runs {
            *self.task_runs.entry(k.clone()).or_default() += n;
        }
        // A delta arriving now counts towards the "current" percentiles of the charts.
        if other.total.num_requests > 0 {
            let second = super::unix_now() as u64;
            let mut h = new_histogram();
            h.add(&other.total.histogram)
                .expect("auto-resizing histograms always add");
            match self.recent.iter_mut().find(|(s, _)| *s == second) {
                Some((_, mine)) => mine.add(&h).expect("auto-resizing histograms always add"),
                None => {
                    self.recent.push_back((second, h));
                    while self.recent.len() > RECENT_SECONDS {
                        self.recent.pop_front();
                    }
                }
            }
        }
    }

    /// The table as people read it, at time `now`.
    pub fn summary(&self, now: f64, user_count: u64, users_by_type: Vec<(String, u64)>) -> Summary {
        let w = self.window(now);
        Summary {
            time: now,
            user_count,
            users_by_type,
            rows: self
                .entries
                .values()
                .map(|e| RowSummary::of(e, &self.total, w))
                .collect(),
            total: RowSummary::of(&self.total, &self.total, w),
            errors: self.errors.values().cloned().collect(),
            exceptions: self.exceptions.values().cloned().collect(),
            task_runs: self
                .task_runs
                .iter()
                .map(|((u, t), n)| (u.to_string(), t.to_string(), *n))
                .collect(),
            current_p50_ms: self.current_percentile_ms(0.5, w),
            current_p95_ms: self.current_percentile_ms(0.95, w),
            generator: self.generator.clone(),
        }
    }
}

/// A computed row of the statistics table (all times in ms).
#[derive(Clone, Debug, Serialize)]
pub struct RowSummary {
    pub method: String,
    pub name: String,
    pub num_requests: u64,
    pub num_failures: u64,
    pub avg_response_time: f64,
    pub min_response_time: f64,
    pub max_response_time: f64,
    pub median_response_time: f64,
    /// The values for [`PERCENTILES_TO_REPORT`], in that order.
    pub percentiles: Vec<f64>,
    pub avg_content_length: f64,
    pub current_rps: f64,
    pub current_fail_per_sec: f64,
    pub total_rps: f64,
    pub total_fail_per_sec: f64,
    pub fail_ratio: f64,
    /// Requests with no answer when the run ended (not failures).
    pub num_unanswered: u64,
    /// Of those, the ones with a response head and a body still arriving.
    pub num_unanswered_mid_body: u64,
    pub timing: super::TimingTotals,
}

impl RowSummary {
    /// The row of `e`, with its total rates over the test's window (`total`'s).
    pub fn of(e: &EndpointStats, total: &EndpointStats, w: Window) -> Self {
        Self {
            method: e.method.clone(),
            name: e.name.clone(),
            num_requests: e.num_requests,
            num_failures: e.num_failures,
            avg_response_time: e.avg_ms(),
            min_response_time: e.min_ms(),
            max_response_time: e.max_ms(),
            median_response_time: e.median_ms(),
            percentiles: PERCENTILES_TO_REPORT
                .iter()
                .map(|q| e.percentile_ms(*q))
                .collect(),
            avg_content_length: e.avg_content_length(),
            current_rps: e.current_rps(w),
            current_fail_per_sec: e.current_fail_per_sec(w),
            total_rps: e.total_rps(total),
            total_fail_per_sec: e.total_fail_per_sec(total),
            fail_ratio: e.fail_ratio(),
            num_unanswered: e.num_unanswered,
            num_unanswered_mid_body: e.num_unanswered_mid_body,
            timing: e.timing,
        }
    }

    /// The value (ms) for quantile `q` if it is one of the reported ones.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        PERCENTILES_TO_REPORT
            .iter()
            .position(|p| (p - q).abs() < 1e-9)
            .map(|i| self.percentiles[i])
    }
}

/// A consistent picture of the run at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub time: f64,
    pub user_count: u64,
    pub users_by_type: Vec<(String, u64)>,
    pub rows: Vec<RowSummary>,
    pub total: RowSummary,
    pub errors: Vec<ErrorStats>,
    pub exceptions: Vec<ExceptionStats>,
    /// (user type, task, runs).
    pub task_runs: Vec<(String, String, u64)>,
    pub current_p50_ms: f64,
    pub current_p95_ms: f64,
    pub generator: GeneratorReport,
}
