//! Locust's CSV files, with its columns in its order. They are written once the run is over
//! (and on Ctrl-C), so unlike Locust's they include the final seconds.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::stats::{EndpointStats, StatsState, PERCENTILES_TO_REPORT};

/// `50%`, `66%`, ..., `99.9%`, `99.99%`, `100%`, as Locust labels them.
pub fn percentile_labels() -> Vec<String> {
    PERCENTILES_TO_REPORT
        .iter()
        .map(|p| {
            let pct = p * 100.0;
            if (pct - pct.round()).abs() < 1e-9 {
                format!("{}%", pct.round() as u64)
            } else {
                format!("{}%", (pct * 1e6).round() / 1e6)
            }
        })
        .collect()
}

/// Quotes a field when it holds a comma, quote or line break (RFC 4180, as Python's csv).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A float as Python prints it (`0.0`, `12.5`).
fn py_float(v: f64) -> String {
    format!("{v:?}")
}

fn percentile_fields(e: &EndpointStats, row: &mut Vec<String>) {
    for q in PERCENTILES_TO_REPORT {
        if e.num_requests == 0 {
            row.push("N/A".to_owned());
        } else {
            row.push(format!("{}", e.percentile_ms(q).round() as u64));
        }
    }
}

fn line(out: &mut String, fields: &[String]) {
    let joined: Vec<String> = fields.iter().map(|f| field(f)).collect();
    let _ = writeln!(out, "{}", joined.join(","));
}

/// `PREFIX_stats.csv`.
pub fn stats_csv(stats: &StatsState) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(percentile_labels());
    line(&mut out, &header);
    for e in stats.entries.values().chain(std::iter::once(&stats.total)) {
        let mut row = vec![
            e.method.clone(),
            e.name.clone(),
            e.num_requests.to_string(),
            e.num_failures.to_string(),
            format!("{}", e.median_ms().round() as u64),
            py_float(e.avg_ms()),
            py_float(e.min_ms()),
            py_float(e.max_ms()),
            py_float(e.avg_content_length()),
            py_float(e.total_rps(&stats.total)),
            py_float(e.total_fail_per_sec(&stats.total)),
        ];
        percentile_fields(e, &mut row);
        line(&mut out, &row);
    }
    out
}

/// `PREFIX_stats_history.csv`: a row a second (per endpoint too with `--csv-full-history`).
pub fn history_csv(stats: &StatsState) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(percentile_labels());
    header.extend(
        [
            "Total Request Count",
            "Total Failure Count",
            "Total Median Response Time",
            "Total Average Response Time",
            "Total Min Response Time",
            "Total Max Response Time",
            "Total Average Content Size",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    line(&mut out, &header);
    for point in &stats.history {
        for r in &point.rows {
            let mut row = vec![
                (point.time as u64).to_string(),
                point.user_count.to_string(),
                r.method.clone(),
                r.name.clone(),
                format!("{:.6}", r.current_rps),
                format!("{:.6}", r.current_fail_per_sec),
            ];
            for p in &r.percentiles {
                row.push(if r.num_requests == 0 {
                    "N/A".to_owned()
                } else {
                    format!("{}", p.round() as u64)
                });
            }
            row.extend([
                r.num_requests.to_string(),
                r.num_failures.to_string(),
                format!("{}", r.median_response_time.round() as u64),
                py_float(r.avg_response_time),
                py_float(r.min_response_time),
                py_float(r.max_response_time),
                py_float(r.avg_content_length),
            ]);
            line(&mut out, &row);
        }
    }
    out
}

/// `PREFIX_failures.csv`.
pub fn failures_csv(stats: &StatsState) -> String {
    let mut out = String::new();
    let header: Vec<String> = [
        "Method",
        "Name",
        "Error",
        "Occurrences",
        "First Seen",
        "Last Seen",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    line(&mut out, &header);
    let mut errors: Vec<_> = stats.errors.values().collect();
    errors.sort_by(|a, b| (&a.name, &a.method, &a.error).cmp(&(&b.name, &b.method, &b.error)));
    for e in errors {
        line(
            &mut out,
            &[
                e.method.clone(),
                e.name.clone(),
                e.error.clone(),
                e.occurrences.to_string(),
                utc(e.first_seen),
                utc(e.last_seen),
            ],
        );
    }
    out
}

/// `PREFIX_exceptions.csv`.
pub fn exceptions_csv(stats: &StatsState) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &[
            "Count".into(),
            "Message".into(),
            "Traceback".into(),
            "Nodes".into(),
        ],
    );
    for e in stats.exceptions.values() {
        line(
            &mut out,
            &[
                e.count.to_string(),
                e.msg.clone(),
                e.traceback.clone(),
                e.nodes.join(", "),
            ],
        );
    }
    out
}

/// Unix seconds as `2026-11-22T10:00:00Z`.
pub fn utc(t: f64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0.0) as u64),
    )
    .to_string()
}

/// Writes the four files next to `prefix`; returns their paths.
pub fn write_all(prefix: &Path, stats: &StatsState) -> io::Result<Vec<PathBuf>> {
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let base = prefix.to_string_lossy().into_owned();
    let files = [
        (format!("{base}_stats.csv"), stats_csv(stats)),
        (format!("{base}_stats_history.csv"), history_csv(stats)),
        (format!("{base}_failures.csv"), failures_csv(stats)),
        (format!("{base}_exceptions.csv"), exceptions_csv(stats)),
    ];
    let mut paths = Vec::new();
    for (path, body) in files {
        super::write_file(Path::new(&path), |w| {
            std::io::Write::write_all(w, body.as_bytes())
        })?;
        paths.push(PathBuf::from(path));
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_locust() {
        assert_eq!(
            percentile_labels(),
            ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
        );
    }

    #[test]
    fn fields_are_quoted_like_pythons_csv() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(py_float(0.0), "0.0");
    }
}
