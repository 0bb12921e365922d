//! Pass/fail rules for CI: `--threshold p95<500ms`, `fail_ratio<1%`, `rps>=200`, with an
//! optional `name:` prefix for one endpoint. A broken rule makes the run exit with code 3.

use std::fmt;
use std::str::FromStr;

use crate::stats::{EndpointStats, StatsState};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A percentile of response time, 0..=1.
    Percentile(f64),
    Avg,
    Min,
    Max,
    FailRatio,
    Failures,
    Requests,
    Rps,
    /// The generator's p99 scheduler lag (`generator_lag<5ms`): whether it kept its
    /// schedule, for the whole run whatever NAME says.
    GeneratorLag,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One rule, parsed from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The endpoint's name, or `None` for the Aggregated row.
    pub name: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// In ms for times, a fraction for `fail_ratio`, a plain number otherwise.
    pub value: f64,
    pub text: String,
}

/// The rows a verdict names when its rule matched none.
const ROWS_LISTED: usize = 20;

/// A rule's verdict.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub threshold: Threshold,
    pub actual: Option<f64>,
    pub passed: bool,
    /// When the rule's name matched no row: the rows there are, as the table prints them
    /// (`METHOD NAME`), so the fix is in the message.
    pub rows: Vec<String>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "passed" } else { "BROKEN" };
        match self.actual {
            Some(a) => write!(
                f,
                "{mark}: {} (actual {})",
                self.threshold.text,
                self.threshold.metric.format(a)
            ),
            None if self.rows.is_empty() => write!(
                f,
                "{mark}: {} (no requests with that name; there were no requests at all)",
                self.threshold.text
            ),
            None => write!(
                f,
                "{mark}: {} (no requests with that name; the rows are: {})",
                self.threshold.text,
                self.rows.join(", ")
            ),
        }
    }
}

impl Metric {
    fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "avg" | "mean" => Metric::Avg,
            "median" => Metric::Percentile(0.5),
            "min" => Metric::Min,
            "max" => Metric::Max,
            "fail_ratio" | "failure_ratio" => Metric::FailRatio,
            "failures" => Metric::Failures,
            "requests" => Metric::Requests,
            "rps" => Metric::Rps,
            "generator_lag" => Metric::GeneratorLag,
            p if p.starts_with('p') => {
                let q: f64 = p[1..].parse().ok()?;
                if !(0.0..=100.0).contains(&q) {
                    return None;
                }
                Metric::Percentile((q * 1e7).round() / 1e9)
            }
            _ => return None,
        })
    }

    fn is_time(&self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Avg | Metric::Min | Metric::Max | Metric::GeneratorLag
        )
    }

    fn format(&self, v: f64) -> String {
        match self {
            m if m.is_time() => format!("{v:.1}ms"),
            Metric::FailRatio => format!("{:.2}%", v * 100.0),
            Metric::Rps => format!("{v:.1}"),
            _ => format!("{v}"),
        }
    }

    /// The measure on row `e`; `total` (the Aggregated row) gives the test's window for
    /// the rate, as Locust's `total_rps` takes it.
    fn of(&self, e: &EndpointStats, total: &EndpointStats) -> f64 {
        match self {
            Metric::Percentile(q) => e.percentile_ms(*q),
            Metric::Avg => e.avg_ms(),
            Metric::Min => e.min_ms(),
            Metric::Max => e.max_ms(),
            Metric::FailRatio => e.fail_ratio(),
            Metric::Failures => e.num_failures as f64,
            Metric::Requests => e.num_requests as f64,
            Metric::Rps => e.total_rps(total),
            // A run-level measure, judged in `check`.
            Metric::GeneratorLag => 0.0,
        }
    }
}

fn parse_value(metric: Metric, s: &str) -> Option<f64> {
    let s = s.trim();
    let num = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if metric.is_time() {
        if let Some(v) = s.strip_suffix("ms") {
            return num(v);
        }
        if let Some(v) = s.strip_suffix('s') {
            return num(v).map(|v| v * 1000.0);
        }
        return num(s);
    }
    if metric == Metric::FailRatio {
        if let Some(v) = s.strip_suffix('%') {
            return num(v).map(|v| v / 100.0);
        }
    }
    num(s)
}

fn parse_expr(expr: &str) -> Option<(Metric, Op, f64)> {
    let ops = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let (pos, len, op) = ops
        .iter()
        .find_map(|(t, op)| expr.find(t).map(|p| (p, t.len(), *op)))?;
    let metric = Metric::parse(expr[..pos].trim())?;
    let value = parse_value(metric, &expr[pos + len..])?;
    Some((metric, op, value))
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{s}' is not a threshold; write METRIC OP VALUE such as p95<500ms, avg<=200ms, fail_ratio<1%, rps>=200, generator_lag<5ms, optionally prefixed with NAME:")
        };
        if let Some((metric, op, value)) = parse_expr(s) {
            return Ok(Threshold {
                name: None,
                metric,
                op,
                value,
                text: s.to_owned(),
            });
        }
        let (name, expr) = s.rsplit_once(':').ok_or_else(bad)?;
        let (metric, op, value) = parse_expr(expr).ok_or_else(bad)?;
        Ok(Threshold {
            name: Some(name.to_owned()),
            metric,
            op,
            value,
            text: s.to_owned(),
        })
    }
}

impl Threshold {
    /// Judges the rule against the final statistics.
    pub fn check(&self, stats: &StatsState) -> Verdict {
        let actual = match &self.name {
            // The generator's p99 scheduler lag: how far behind its schedule it fell.
            _ if self.metric == Metric::GeneratorLag => Some(stats.generator.lag_p99_ms),
            None => Some(self.metric.of(&stats.total, &stats.total)),
            Some(name) => named_row(stats, name).map(|e| self.metric.of(&e, &stats.total)),
        };
        let passed = actual.is_some_and(|a| match self.op {
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
        });
        let rows = if actual.is_none() {
            // A message, not a dump: up to 2,000 names may exist (--max-names).
            let mut rows: Vec<String> = stats
                .entries
                .values()
                .take(ROWS_LISTED)
                .map(|e| format!("{} {}", e.method, e.name))
                .collect();
            if stats.entries.len() > ROWS_LISTED {
                rows.push(format!("and {} more", stats.entries.len() - ROWS_LISTED));
            }
            rows
        } else {
            Vec::new()
        };
        Verdict {
            threshold: self.clone(),
            actual,
            passed,
            rows,
        }
    }
}

/// The row a threshold names: the exact name first (all its methods merged), then
/// `METHOD NAME` as the console table prints rows (`GET 1 home`).
fn named_row(stats: &StatsState, name: &str) -> Option<EndpointStats> {
    let merged = |keep: &dyn Fn(&EndpointStats) -> bool| {
        let mut merged: Option<EndpointStats> = None;
        for e in stats.entries.values().filter(|e| keep(e)) {
            match &mut merged {
                Some(m) => m.merge(e),
                None => merged = Some(e.clone()),
            }
        }
        merged
    };
    merged(&|e| e.name == name).or_else(|| {
        // The table pads the method column: `GET      1 home` copied from it matches too.
        let (method, rest) = name.split_once(' ')?;
        let rest = rest.trim_start();
        merged(&|e| e.method.eq_ignore_ascii_case(method) && e.name == rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t: Threshold = "p95<500ms".parse().unwrap();
        assert_eq!(
            (t.metric, t.op, t.value, t.name),
            (Metric::Percentile(0.95), Op::Lt, 500.0, None)
        );
        let t: Threshold = "fail_ratio<1%".parse().unwrap();
        assert_eq!(t.value, 0.01);
        let t: Threshold = "rps>=200".parse().unwrap();
        assert_eq!((t.metric, t.op), (Metric::Rps, Op::Ge));
        let t: Threshold = "1 home:p99<2s".parse().unwrap();
        assert_eq!((t.name.as_deref(), t.value), (Some("1 home"), 2000.0));
        let t: Threshold = "/order/[order-id]/payment:p99.9<=1.5s".parse().unwrap();
        assert_eq!(t.metric, Metric::Percentile(0.999));
    }

    #[test]
    fn rejects_nonsense_naming_it() {
        for bad in ["p95", "p95<fast", "speed<3", "p101<3ms", "fail_ratio<-1%"] {
            let err = bad.parse::<Threshold>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// Two rows, `GET 1 home` (3 requests over the test's first second) and `POST 2 buy`
    /// (1 request at 10 s): Aggregated's window is the test's 10 s.
    fn two_rows() -> StatsState {
        let mut stats = StatsState::new(100.0, false);
        let mut add = |method: &str, name: &str, at: &[f64]| {
            let mut e = EndpointStats::new(method, name, 100.0);
            for t in at {
                e.record(20_000, 10, false, *t);
                stats.total.record(20_000, 10, false, *t);
            }
            stats
                .entries
                .insert((name.to_owned(), method.to_owned()), e);
        };
        add("GET", "1 home", &[100.0, 100.5, 101.0]);
        add("POST", "2 buy", &[110.0]);
        stats
    }

    #[test]
    fn a_row_is_found_by_its_name_or_as_the_table_prints_it() {
        let stats = two_rows();
        for rule in [
            "1 home:requests>=3",
            "GET 1 home:requests>=3",
            "GET 1 home:p99<60s",
        ] {
            let v = rule.parse::<Threshold>().unwrap().check(&stats);
            assert!(v.passed, "{v}");
        }
        let v = "POST 1 home:requests>=1"
            .parse::<Threshold>()
            .unwrap()
            .check(&stats);
        assert!(!v.passed);
        let said = v.to_string();
        assert!(
            said.contains("the rows are: GET 1 home, POST 2 buy"),
            "{said}"
        );
    }

    #[test]
    fn a_rows_rate_is_over_the_whole_tests_window_as_in_locust() {
        let stats = two_rows();
        // 3 requests over the test's 10 s, not over the row's own 1 s.
        let v = "1 home:rps>=0.29"
            .parse::<Threshold>()
            .unwrap()
            .check(&stats);
        assert!((v.actual.unwrap() - 0.3).abs() < 1e-9, "{v}");
        let sum: f64 = stats
            .entries
            .values()
            .map(|e| e.total_rps(&stats.total))
            .sum();
        assert!((sum - stats.total.total_rps(&stats.total)).abs() < 1e-9);
    }
}
