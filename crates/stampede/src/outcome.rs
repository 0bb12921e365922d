//! How a run ends, whatever its front or role: the final tables, the thresholds' verdicts,
//! every report written, and the exit code. Headless runs, the web UI and workers all
//! finish here, so the rules live in one place.

use url::Url;

use crate::plan::{Plan, SelectionError};
use crate::report::{console, csv, html, json};
use crate::stats::{unix_now, StatsState};
use crate::threshold::Verdict;

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("could not write a report: {0}")]
    Report(#[from] std::io::Error),
    #[error("{0}")]
    Web(String),
}

/// What a finished run leaves behind.
pub struct Outcome {
    /// What the process exits with: 3 for a failed threshold, `--exit-code-on-error` for
    /// failures or exceptions, else 0.
    pub exit_code: i32,
    /// The final statistics, as the reports show them.
    pub stats: StatsState,
    /// Each `--threshold`'s verdict, in the order given.
    pub verdicts: Vec<Verdict>,
}

/// What the command line asks of a run's end: the reports to write, the thresholds to
/// judge, the exit code for failures.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    /// `--csv PREFIX`.
    pub csv: Option<std::path::PathBuf>,
    /// `--json`: the stats as JSON on stdout.
    pub json: bool,
    /// `--json-file PATH` (`.json` appended).
    pub json_file: Option<std::path::PathBuf>,
    /// `--report-json PATH`.
    pub report_json: Option<std::path::PathBuf>,
    /// `--html PATH`.
    pub html: Option<std::path::PathBuf>,
    /// `--threshold`s, in the order given.
    pub thresholds: Vec<crate::threshold::Threshold>,
    /// `--exit-code-on-error`.
    pub exit_code_on_error: i32,
}

/// Prints the final tables and thresholds, writes every report, and works out the exit code.
pub(crate) fn finish_run(
    opts: &ReportSettings,
    plan: &Plan,
    final_stats: StatsState,
    host: &Url,
    peak: &[u64],
) -> Result<Outcome, RunError> {
    let summary = final_stats.summary(unix_now(), 0, Vec::new());
    println!("{}", console::final_table(&summary));
    println!(
        "Response time percentiles (ms)\n{}",
        console::percentile_table(&summary)
    );
    if final_stats.total.num_requests > 0 {
        println!("{}", console::timing_line(&final_stats.total));
    }
    if let Some(line) = console::corrected_line(&final_stats.total) {
        println!("{line}");
    }
    println!("{}", final_stats.generator);
    let problems = console::problems(&summary);
    if !problems.is_empty() {
        println!("{problems}");
    }

    let verdicts: Vec<Verdict> = opts
        .thresholds
        .iter()
        .map(|t| t.check(&final_stats))
        .collect();
    for v in &verdicts {
        println!("Threshold {v}");
    }
    let exit_code = exit_code(&final_stats, &verdicts, opts.exit_code_on_error);
    write_reports(opts, plan, &final_stats, host, peak, &verdicts, exit_code)?;
    Ok(Outcome {
        exit_code,
        stats: final_stats,
        verdicts,
    })
}

/// 3 for a broken threshold, the error code for failures or exceptions, or for a run whose
/// requests were sent and none answered; else 0.
pub(crate) fn exit_code(stats: &StatsState, verdicts: &[Verdict], on_error: i32) -> i32 {
    let none_answered = stats.total.num_requests == 0 && stats.total.num_unanswered > 0;
    if verdicts.iter().any(|v| !v.passed) {
        3
    } else if stats.total.num_failures > 0 || !stats.exceptions.is_empty() || none_answered {
        on_error
    } else {
        0
    }
}

fn write_reports(
    opts: &ReportSettings,
    plan: &Plan,
    stats: &StatsState,
    host: &Url,
    peak: &[u64],
    verdicts: &[Verdict],
    exit_code: i32,
) -> Result<(), std::io::Error> {
    if let Some(prefix) = &opts.csv {
        for p in csv::write_all(prefix, stats)? {
            eprintln!("Wrote {}", p.display());
        }
    }
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json::locust_json(stats)).unwrap_or_default()
        );
    }
    if let Some(path) = &opts.json_file {
        let path = format!("{}.json", path.display());
        write_json(std::path::Path::new(&path), &json::locust_json(stats))?;
        eprintln!("Wrote {path}");
    }
    if opts.report_json.is_some() || opts.html.is_some() {
        let infos = plan.user_types();
        let shown = crate::values::redacted_host(host);
        let ctx = json::ReportContext {
            host: &shown,
            user_types: &infos,
            peak_users: peak,
            funnel: plan.funnel_steps(),
            verdicts,
            end_time: unix_now(),
            exit_code,
        };
        let report = json::report_json(stats, &ctx);
        if let Some(path) = &opts.report_json {
            write_json(path, &report)?;
            eprintln!("Wrote {}", path.display());
        }
        if let Some(path) = &opts.html {
            let page = html::render(&report, &stats.history);
            crate::report::write_file(path, |w| std::io::Write::write_all(w, page.as_bytes()))?;
            eprintln!("Wrote {}", path.display());
        }
    }
    Ok(())
}

/// Streams `value` into `path`, never holding the whole text in memory.
fn write_json(path: &std::path::Path, value: &serde_json::Value) -> std::io::Result<()> {
    crate::report::write_file(path, |out| Ok(serde_json::to_writer_pretty(out, value)?))
}
