//! A run without the web UI: ramp up, print the live table, stop on time or Ctrl-C, write
//! every report, and work out the exit code.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Options;
use crate::lifecycle::{self, Ending, Finish, Schedule};
use crate::plan::{Plan, SelectionError};
use crate::report::{console, csv, html, json};
use crate::stats::{unix_now, StatsState};
use crate::swarm::{MasterConfig, SwarmConfig};
use crate::threshold::Verdict;

/// Why a headless run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("could not write a report: {0}")]
    Report(#[from] std::io::Error),
    #[error("{0}")]
    Web(String),
}

/// How often the live table is printed.
const PRINT_EVERY: Duration = Duration::from_secs(2);

/// What a finished run leaves behind.
pub struct Outcome {
    pub exit_code: i32,
    pub stats: StatsState,
    pub verdicts: Vec<Verdict>,
}

pub(crate) async fn run_headless(
    opts: &Options,
    plan: &Plan,
    host: Url,
    shutdown: CancellationToken,
    telemetry: &crate::telemetry::Telemetry,
) -> Result<Outcome, RunError> {
    let mut cfg = SwarmConfig::from_options(host.clone(), opts);
    cfg.tracing = telemetry.tracing();
    let swarm = if opts.master {
        plan.master_swarm(cfg, MasterConfig::from_options(opts))
            .await
            .map_err(RunError::Web)?
    } else {
        plan.swarm(cfg)?
    };
    let schedule = Schedule::from_options(opts, plan);
    let (users, rate) = schedule.initial();
    let (runner, stats) = (swarm.runner.clone(), swarm.stats.clone());
    telemetry.watch(stats.clone(), runner.clone());
    eprintln!(
        "Stampede: {users} users at {rate}/s against {}{}",
        crate::config::redacted_host(&host),
        match opts.run_time {
            Some(t) => format!(" for {}", humantime::format_duration(t)),
            None => " until Ctrl-C".to_owned(),
        }
    );
    let started = Instant::now();
    let (_changes, no_changes) = tokio::sync::mpsc::unbounded_channel();
    let test = lifecycle::run_test(
        runner,
        stats.clone(),
        plan.clone(),
        schedule,
        shutdown,
        no_changes,
        Finish::Quit,
    );
    tokio::pin!(test);
    let mut print_tick = tokio::time::interval_at(started + PRINT_EVERY, PRINT_EVERY);
    let ended = loop {
        tokio::select! {
            ended = &mut test => break ended,
            _ = print_tick.tick(), if !opts.only_summary => {
                let s = stats.summary().await;
                eprintln!("{}", progress_line(started, opts.run_time, s.user_count));
                eprintln!("{}", console::stats_table(&s));
            }
        }
    };
    eprintln!(
        "Stopping: {}",
        match ended.ending {
            Ending::Stopped => "interrupted",
            other => other.describe(),
        }
    );
    let peak_users = ended.peak_users;
    let peak = swarm.users_by_type(peak_users);
    finish_run(opts, plan, stats.final_snapshot().await, &host, &peak)
}

/// Prints the final tables and thresholds, writes every report, and works out the exit code.
pub(crate) fn finish_run(
    opts: &Options,
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
    opts: &Options,
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
        let shown = crate::config::redacted_host(host);
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

fn progress_line(started: Instant, run_time: Option<Duration>, users: u64) -> String {
    let elapsed = Duration::from_secs(started.elapsed().as_secs());
    match run_time {
        Some(t) => format!(
            "[{} elapsed, {} remaining, {users} users]",
            humantime::format_duration(elapsed),
            humantime::format_duration(Duration::from_secs(t.saturating_sub(elapsed).as_secs()))
        ),
        None => format!(
            "[{} elapsed, {users} users]",
            humantime::format_duration(elapsed)
        ),
    }
}
