//! The JSON outputs: Locust's list of stats entries (`--json`, `--json-file`) and Stampede's
//! full report (`--report-json`), whose schema is committed in `schema/report.schema.json`.

use serde::Serialize;
use serde_json::{json, Value};

use crate::stats::{locust_entry, EndpointStats, StatsState, TimingTotals, PERCENTILES_TO_REPORT};
use crate::threshold::Verdict;
use crate::user::UserTypeInfo;

/// Locust's `--json` output: the entries, without the Aggregated row (as Locust does).
pub fn locust_json(stats: &StatsState) -> Value {
    Value::Array(stats.entries.values().map(locust_entry).collect())
}

/// What the report needs besides the statistics.
pub struct ReportContext<'a> {
    pub host: &'a str,
    pub user_types: &'a [UserTypeInfo],
    /// Users per type at the peak of the run.
    pub peak_users: &'a [u64],
    pub funnel: &'a [String],
    pub verdicts: &'a [Verdict],
    pub end_time: f64,
    pub exit_code: i32,
}

#[derive(Serialize)]
struct RequestRow {
    method: String,
    name: String,
    num_requests: u64,
    num_failures: u64,
    fail_ratio: f64,
    avg_response_time_ms: f64,
    min_response_time_ms: f64,
    max_response_time_ms: f64,
    median_response_time_ms: f64,
    percentiles_ms: serde_json::Map<String, Value>,
    /// Corrected for coordinated omission (`--correct-omission`, paced users); else null.
    percentiles_corrected_ms: Option<serde_json::Map<String, Value>>,
    avg_content_length: f64,
    total_rps: f64,
    total_fail_per_sec: f64,
    unanswered: u64,
    server_hits: u64,
    resent: u64,
    timing: TimingRow,
}

/// How the requests were timed, and the average of each part (oha's breakdown).
#[derive(Serialize)]
pub(crate) struct TimingRow {
    /// Requests timed by the kernel's receive timestamps; the rest by the monotonic clock.
    pub kernel_timed: u64,
    pub connections_opened: u64,
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub ttfb_ms: f64,
}

pub(crate) fn timing_row(t: &TimingTotals) -> TimingRow {
    let avg = |sum: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1000.0
        }
    };
    TimingRow {
        kernel_timed: t.kernel_timed,
        connections_opened: t.connections,
        dns_ms: avg(t.dns_us, t.connections),
        connect_ms: avg(t.connect_us, t.connections),
        tls_ms: avg(t.tls_us, t.connections),
        ttfb_ms: avg(t.ttfb_us, t.ttfb_n),
    }
}

/// A row of the report; `total` is the Aggregated row, whose window the rates use.
fn request_row(e: &EndpointStats, total: &EndpointStats) -> RequestRow {
    let by_label = |f: &dyn Fn(f64) -> f64| {
        let mut m = serde_json::Map::new();
        for (label, q) in super::csv::percentile_labels()
            .into_iter()
            .zip(PERCENTILES_TO_REPORT)
        {
            m.insert(label.trim_end_matches('%').to_owned(), json!(f(q)));
        }
        m
    };
    let percentiles_ms = by_label(&|q| e.percentile_ms(q));
    let percentiles_corrected_ms = e
        .corrected
        .is_some()
        .then(|| by_label(&|q| e.corrected_percentile_ms(q).unwrap_or(0.0)));
    RequestRow {
        method: e.method.clone(),
        name: e.name.clone(),
        num_requests: e.num_requests,
        num_failures: e.num_failures,
        fail_ratio: e.fail_ratio(),
        avg_response_time_ms: e.avg_ms(),
        min_response_time_ms: e.min_ms(),
        max_response_time_ms: e.max_ms(),
        median_response_time_ms: e.median_ms(),
        percentiles_ms,
        percentiles_corrected_ms,
        avg_content_length: e.avg_content_length(),
        total_rps: e.total_rps(total),
        total_fail_per_sec: e.total_fail_per_sec(total),
        unanswered: e.num_unanswered,
        server_hits: e.num_hops,
        resent: e.num_resent,
        timing: timing_row(&e.timing),
    }
}

/// Requests per funnel step (all methods), with conversion from the step before.
pub fn funnel_rows(stats: &StatsState, funnel: &[String]) -> Vec<Value> {
    funnel_from(
        |step| {
            stats
                .entries
                .values()
                .filter(|e| e.name == step)
                .map(|e| e.num_requests)
                .sum()
        },
        funnel,
    )
}

/// [`funnel_rows`] from any source of request counts by name (the live summary, too).
pub fn funnel_from(count_of: impl Fn(&str) -> u64, funnel: &[String]) -> Vec<Value> {
    let mut prev: Option<u64> = None;
    funnel
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let count = count_of(step);
            let conversion = prev.map(|p| if p == 0 { 0.0 } else { count as f64 / p as f64 });
            prev = Some(count);
            json!({ "step": i + 1, "name": step, "count": count, "conversion": conversion })
        })
        .collect()
}

/// Each type's tasks: declared weight share against observed run share.
pub fn task_rows(stats: &StatsState, types: &[UserTypeInfo]) -> Vec<Value> {
    tasks_from(|t, k| runs(stats, t, k), types)
}

/// [`task_rows`] from any source of task run counts.
pub fn tasks_from(runs: impl Fn(&str, &str) -> u64, types: &[UserTypeInfo]) -> Vec<Value> {
    let mut rows = Vec::new();
    for t in types {
        let total_weight: u32 = t.tasks.iter().map(|k| k.weight).sum();
        let total_runs: u64 = t.tasks.iter().map(|k| runs(&t.name, &k.name)).sum();
        for k in &t.tasks {
            let n = runs(&t.name, &k.name);
            rows.push(json!({
                "user_type": t.name,
                "task": k.name,
                "weight": k.weight,
                "runs": n,
                "declared_ratio": if total_weight == 0 { 0.0 } else { k.weight as f64 / total_weight as f64 },
                "observed_ratio": if total_runs == 0 { 0.0 } else { n as f64 / total_runs as f64 },
            }));
        }
    }
    rows
}

fn runs(stats: &StatsState, user_type: &str, task: &str) -> u64 {
    stats
        .task_runs
        .iter()
        .find(|((u, t), _)| **u == *user_type && **t == *task)
        .map_or(0, |(_, n)| *n)
}

/// Stampede's report.
pub fn report_json(stats: &StatsState, ctx: &ReportContext<'_>) -> Value {
    let user_types: Vec<Value> = ctx
        .user_types
        .iter()
        .zip(ctx.peak_users)
        .map(|(t, n)| json!({ "name": t.name, "weight": t.weight, "fixed_count": t.fixed_count, "users": n }))
        .collect();
    json!({
        "stampede_version": env!("CARGO_PKG_VERSION"),
        "host": ctx.host,
        "start_time": stats.start_time,
        "end_time": ctx.end_time,
        "duration_s": (ctx.end_time - stats.start_time).max(0.0),
        "requests": stats.entries.values().map(|e| request_row(e, &stats.total)).collect::<Vec<_>>(),
        "total": request_row(&stats.total, &stats.total),
        "user_types": user_types,
        "tasks": task_rows(stats, ctx.user_types),
        "failures": stats.errors.values().collect::<Vec<_>>(),
        "exceptions": stats.exceptions.values().collect::<Vec<_>>(),
        "funnel": funnel_rows(stats, ctx.funnel),
        "thresholds": ctx.verdicts.iter().map(|v| json!({
            "expr": v.threshold.text, "passed": v.passed, "actual": v.actual
        })).collect::<Vec<_>>(),
        "generator": stats.generator,
        "exit_code": ctx.exit_code,
    })
}

/// One second of history as the UI's charts read it (live and in the HTML report).
pub fn history_point(p: &crate::stats::HistoryPoint) -> Value {
    let t = p.total();
    json!({
        "time": p.time,
        "user_count": p.user_count,
        "current_rps": t.current_rps,
        "current_fail_per_sec": t.current_fail_per_sec,
        "p50": t.percentiles[0],
        "p95": t.percentiles[5],
        "p99": t.percentiles[7],
    })
}
