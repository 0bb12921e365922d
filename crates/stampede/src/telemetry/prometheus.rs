//! The Prometheus exposition (text format 0.0.4), which `web/metrics.rs` serves on the web
//! UI's port and on `--prometheus-listen` for headless runs, masters and workers. `docs/telemetry.md` lists
//! every metric.
//!
//! Labels are bounded: request names are capped by `--max-names` (the rest share the
//! `(other names)` row, and `stampede_names_capped` says so), and failure texts are not
//! labels at all, so a plan that puts ids in its URLs cannot explode Prometheus.

use std::fmt::Write as _;

use super::Reading;
use crate::runner::RunnerState;
use crate::stats::{Counts, MetricRow, MetricsSnapshot, BUCKETS_SECONDS, SUMMARY_QUANTILES};

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every state `stampede_state` has a series for.
const STATES: [RunnerState; 5] = [
    RunnerState::Ready,
    RunnerState::Spawning,
    RunnerState::Running,
    RunnerState::Stopping,
    RunnerState::Stopped,
];

/// The exposition text of `r`.
pub fn render(r: &Reading) -> String {
    let m = &r.metrics;
    let mut out = String::with_capacity(512 + m.rows.len() * 1200);
    let o = &mut out;
    per_row(
        o,
        m,
        "stampede_requests_total",
        "Requests made, answered or failed, by method and name.",
        |c| c.requests,
    );
    per_row(
        o,
        m,
        "stampede_failures_total",
        "Requests that failed: no answer, a status of 400 or more, or a failed check.",
        |c| c.failures,
    );
    per_row(
        o,
        m,
        "stampede_unanswered_total",
        "Requests still waiting for an answer when their test ended (not failures).",
        |c| c.unanswered,
    );
    histogram(o, m);
    summary(o, m);
    family(
        o,
        "stampede_task_runs_total",
        "counter",
        "Task runs, by user type and task.",
    );
    for (u, t, n) in &m.task_runs {
        sample(
            o,
            "stampede_task_runs_total",
            &[("user_type", u), ("task", t)],
            *n as f64,
        );
    }
    single(
        o,
        "stampede_exceptions_total",
        "counter",
        "Errors and panics raised by tasks.",
        m.exceptions as f64,
    );
    family(o, "stampede_users", "gauge", "Users running, by user type.");
    for (u, n) in &m.users {
        sample(o, "stampede_users", &[("user_type", u)], *n as f64);
    }
    family(
        o,
        "stampede_state",
        "gauge",
        "The run's state: 1 for the current one.",
    );
    for s in STATES {
        sample(
            o,
            "stampede_state",
            &[("state", s.as_str())],
            flag(s == r.state),
        );
    }
    let g = &m.generator;
    single(
        o,
        "stampede_generator_saturated",
        "gauge",
        "1 while the load generator is saturated: it sends less load than asked.",
        flag(g.saturated_now),
    );
    single(
        o,
        "stampede_generator_saturated_seconds_total",
        "counter",
        "Seconds the generator was saturated (scheduler lag over 10 ms or CPU over 90 %).",
        g.saturated_secs as f64,
    );
    single(
        o,
        "stampede_generator_lag_p99_seconds",
        "gauge",
        "99th percentile of the generator's scheduler lag.",
        g.lag_p99_ms / 1000.0,
    );
    single(
        o,
        "stampede_generator_lag_max_seconds",
        "gauge",
        "The generator's worst scheduler lag.",
        g.worst_lag_ms / 1000.0,
    );
    single(
        o,
        "stampede_generator_cpu_peak_ratio",
        "gauge",
        "The generator's peak CPU use, as a share of the cores it may use.",
        g.peak_cpu_percent / 100.0,
    );
    single(
        o,
        "stampede_generator_cores",
        "gauge",
        "Cores the generator may use.",
        g.cores as f64,
    );
    single(o, "stampede_names_capped", "gauge", "1 once more request names than --max-names were seen: the rest are counted under name=\"(other names)\".", flag(m.names_capped));
    out
}

fn histogram(o: &mut String, m: &MetricsSnapshot) {
    let name = "stampede_request_duration_seconds";
    family(o, name, "histogram", "Response times, by method and name.");
    let bucket = format!("{name}_bucket");
    for row in &m.rows {
        let mut cumulative = 0;
        for (i, n) in row.counts.buckets.iter().enumerate() {
            cumulative += n;
            let le = BUCKETS_SECONDS
                .get(i)
                .map_or("+Inf".to_owned(), |b| b.to_string());
            sample(
                o,
                &bucket,
                &row_labels(row, Some(("le", &le))),
                cumulative as f64,
            );
        }
        sum_and_count(o, name, row);
    }
}

fn summary(o: &mut String, m: &MetricsSnapshot) {
    let name = "stampede_request_percentiles_seconds";
    family(
        o,
        name,
        "summary",
        "Exact response-time percentiles since the statistics' last reset, by method and name.",
    );
    for row in &m.rows {
        for (i, q) in SUMMARY_QUANTILES.iter().enumerate() {
            let v = row.quantiles.map_or(f64::NAN, |qs| qs[i]);
            sample(
                o,
                name,
                &row_labels(row, Some(("quantile", &q.to_string()))),
                v,
            );
        }
        sum_and_count(o, name, row);
    }
}

/// A counter family with a sample per row.
fn per_row(o: &mut String, m: &MetricsSnapshot, name: &str, help: &str, value: fn(&Counts) -> u64) {
    family(o, name, "counter", help);
    for row in &m.rows {
        sample(o, name, &row_labels(row, None), value(&row.counts) as f64);
    }
}

/// A family of one unlabelled sample.
fn single(o: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    family(o, name, kind, help);
    sample(o, name, &[], value);
}

/// A histogram's or summary's `_sum` and `_count` for a row.
fn sum_and_count(o: &mut String, name: &str, row: &MetricRow) {
    let labels = row_labels(row, None);
    sample(
        o,
        &format!("{name}_sum"),
        &labels,
        row.counts.sum_us as f64 / 1e6,
    );
    sample(
        o,
        &format!("{name}_count"),
        &labels,
        row.counts.requests as f64,
    );
}

/// A row's `method` and `name`, and one more label if given.
fn row_labels<'a>(
    row: &'a MetricRow,
    extra: Option<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut l = vec![("method", row.method.as_str()), ("name", row.name.as_str())];
    l.extend(extra);
    l
}

fn flag(on: bool) -> f64 {
    f64::from(u8::from(on))
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

fn sample(o: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    o.push_str(name);
    if !labels.is_empty() {
        o.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(k);
            o.push_str("=\"");
            escape(o, v);
            o.push('"');
        }
        o.push('}');
    }
    o.push(' ');
    if value.is_nan() {
        o.push_str("NaN");
    } else {
        let _ = write!(o, "{value}");
    }
    o.push('\n');
}

/// A label value's escapes: backslash, double quote and line feed.
fn escape(o: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Counts, MetricRow, MetricsSnapshot};

    fn reading() -> Reading {
        let mut counts = Counts {
            requests: 3,
            failures: 1,
            sum_us: 1_500_000,
            ..Default::default()
        };
        counts.buckets[0] = 2;
        counts.buckets[BUCKETS_SECONDS.len()] = 1;
        Reading {
            metrics: MetricsSnapshot {
                rows: vec![MetricRow {
                    method: "GET".into(),
                    name: "/a \"b\"\\\n".into(),
                    counts,
                    quantiles: None,
                }],
                users: vec![("Visitor".into(), 4)],
                ..Default::default()
            },
            state: RunnerState::Running,
        }
    }

    #[test]
    fn labels_are_escaped_and_buckets_cumulative() {
        let text = render(&reading());
        let l = r#"method="GET",name="/a \"b\"\\\n""#;
        assert!(
            text.contains(&format!("stampede_requests_total{{{l}}} 3\n")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "stampede_request_duration_seconds_bucket{{{l},le=\"0.001\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "stampede_request_duration_seconds_bucket{{{l},le=\"10\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "stampede_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3\n"
        )));
        assert!(text.contains(&format!(
            "stampede_request_duration_seconds_sum{{{l}}} 1.5\n"
        )));
        assert!(text.contains(&format!(
            "stampede_request_percentiles_seconds{{{l},quantile=\"0.99\"}} NaN\n"
        )));
        assert!(text.contains("stampede_state{state=\"running\"} 1\n"));
        assert!(text.contains("stampede_state{state=\"stopped\"} 0\n"));
        assert!(text.contains("stampede_users{user_type=\"Visitor\"} 4\n"));
    }
}
