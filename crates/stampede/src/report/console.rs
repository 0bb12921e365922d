//! The tables printed in the terminal: the live one every few seconds and the final summary.

use std::fmt::Write as _;

use crate::stats::{RowSummary, Summary, PERCENTILES_TO_REPORT};

fn truncate(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_owned()
    } else {
        let keep: String = name.chars().take(width.saturating_sub(1)).collect();
        format!("{keep}…")
    }
}

/// The live request table, as Locust prints it: rates over the last seconds.
pub fn stats_table(summary: &Summary) -> String {
    table(summary, true)
}

/// The final request table: rates over the whole run, as Locust's summary shows them (the
/// current rate is 0 once the run has stopped).
pub fn final_table(summary: &Summary) -> String {
    table(summary, false)
}

fn table(summary: &Summary, current: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<40} {:>8} {:>14} | {:>7} {:>7} {:>7} {:>7} | {:>8} {:>11}",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    );
    let rule = format!("{}|{}|{}", "-".repeat(73), "-".repeat(33), "-".repeat(21));
    let _ = writeln!(out, "{rule}");
    let row = |out: &mut String, r: &RowSummary| {
        let fails = format!("{}({:.2}%)", r.num_failures, r.fail_ratio * 100.0);
        let _ = writeln!(
            out,
            "{:<8} {:<40} {:>8} {:>14} | {:>7.0} {:>7.0} {:>7.0} {:>7.0} | {:>8.2} {:>11.2}",
            truncate(&r.method, 8),
            truncate(&r.name, 40),
            r.num_requests,
            fails,
            r.avg_response_time,
            r.min_response_time,
            r.max_response_time,
            r.median_response_time,
            if current { r.current_rps } else { r.total_rps },
            if current {
                r.current_fail_per_sec
            } else {
                r.total_fail_per_sec
            }
        );
    };
    for r in &summary.rows {
        row(&mut out, r);
    }
    let _ = writeln!(out, "{rule}");
    row(&mut out, &summary.total);
    out
}

/// The percentile table of the final summary (ms).
pub fn percentile_table(summary: &Summary) -> String {
    let mut out = String::new();
    let labels = super::csv::percentile_labels();
    let _ = write!(out, "{:<8} {:<40}", "Type", "Name");
    for l in &labels {
        let _ = write!(out, " {l:>7}");
    }
    let _ = writeln!(out, " {:>8}", "# reqs");
    let _ = writeln!(out, "{}", "-".repeat(50 + 8 * labels.len() + 9));
    for r in summary.rows.iter().chain(std::iter::once(&summary.total)) {
        let _ = write!(
            out,
            "{:<8} {:<40}",
            truncate(&r.method, 8),
            truncate(&r.name, 40)
        );
        for (i, _) in PERCENTILES_TO_REPORT.iter().enumerate() {
            let _ = write!(out, " {:>7}", fmt_ms(r.percentiles[i]));
        }
        let _ = writeln!(out, " {:>8}", r.num_requests);
    }
    out
}

/// Milliseconds: one decimal below 10 ms, whole above.
fn fmt_ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Failures, exceptions and unanswered requests, if any.
pub fn problems(summary: &Summary) -> String {
    let mut out = String::new();
    if summary.total.num_unanswered > 0 {
        let _ = writeln!(
            out,
            "{} requests had no answer when the run ended (not counted as failures):",
            summary.total.num_unanswered
        );
        for r in summary.rows.iter().filter(|r| r.num_unanswered > 0) {
            let _ = writeln!(out, "{:>8}  {} {}", r.num_unanswered, r.method, r.name);
        }
        let mid_body = summary.total.num_unanswered_mid_body;
        if mid_body > 0 {
            let _ = writeln!(
                out,
                "{mid_body} of them had their response head, and the body was still arriving when the run ended: an endless or very slow body (a response keeps at most --max-body bytes; the rest is read and dropped)."
            );
        }
        if summary.total.num_requests == 0 && mid_body < summary.total.num_unanswered {
            let _ = writeln!(
                out,
                "No request was answered: the target accepted requests but never responded."
            );
        }
    }
    if !summary.errors.is_empty() {
        let _ = writeln!(out, "Error report\n{:>8}  Error", "# occ");
        for e in &summary.errors {
            let _ = writeln!(
                out,
                "{:>8}  {} {}: {}",
                e.occurrences,
                e.method,
                e.name,
                unwrapped(&e.error)
            );
        }
    }
    if !summary.exceptions.is_empty() {
        let _ = writeln!(out, "Exceptions\n{:>8}  Message (where)", "# occ");
        for e in &summary.exceptions {
            let _ = writeln!(out, "{:>8}  {} ({})", e.count, e.msg, e.traceback);
        }
    }
    out
}

/// A failure's text as Locust's error report names it (`StatsError.to_name`): a
/// locustfile's `response.failure("...")` reads as its message, not as the
/// `CatchResponseError('...')` the CSV keeps.
fn unwrapped(error: &str) -> &str {
    error
        .strip_prefix("CatchResponseError(")
        .and_then(|e| e.strip_suffix(')'))
        .map(|e| {
            e.strip_prefix('\'')
                .and_then(|e| e.strip_suffix('\''))
                .or_else(|| e.strip_prefix('"').and_then(|e| e.strip_suffix('"')))
                .unwrap_or(e)
        })
        .unwrap_or(error)
}

/// How the response times were measured, and the average parts of a request.
pub fn timing_line(total: &crate::stats::EndpointStats) -> String {
    let t = super::json::timing_row(&total.timing);
    let clock = if t.kernel_timed == total.num_requests {
        "the kernel's receive timestamps".to_owned()
    } else if t.kernel_timed == 0 {
        "the monotonic clock (no kernel timestamps)".to_owned()
    } else {
        format!(
            "the kernel's receive timestamps for {} of {} requests, the monotonic clock for the rest",
            t.kernel_timed, total.num_requests
        )
    };
    format!(
        "Timed by {clock}. {} connections opened (average DNS {:.2} ms, connect {:.2} ms, TLS {:.2} ms); average time to first byte {:.2} ms",
        t.connections_opened, t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms,
    )
}

/// The corrected percentiles, next to the raw ones (`--correct-omission`).
pub fn corrected_line(total: &crate::stats::EndpointStats) -> Option<String> {
    let p = |q| total.corrected_percentile_ms(q);
    Some(format!(
        "Corrected for coordinated omission (paced users, --correct-omission): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (raw: p50 {:.1}, p95 {:.1}, p99 {:.1}, max {:.1})",
        p(0.5)?, p(0.95)?, p(0.99)?, p(1.0)?,
        total.percentile_ms(0.5), total.percentile_ms(0.95), total.percentile_ms(0.99), total.max_ms()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_caught_failure_reads_as_its_message_as_in_locusts_error_report() {
        use super::unwrapped;
        assert_eq!(unwrapped("CatchResponseError('bad JSON')"), "bad JSON");
        assert_eq!(unwrapped("CatchResponseError(\"it's bad\")"), "it's bad");
        assert_eq!(
            unwrapped("HTTPError('500 Server Error')"),
            "HTTPError('500 Server Error')"
        );
        assert_eq!(unwrapped("HTTP 500"), "HTTP 500");
    }
}
