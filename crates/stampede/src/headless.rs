//! A run without the web UI: ramp up, print the live table, stop on time or Ctrl-C, then
//! finish as every run does (`outcome.rs`).

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Options;
use crate::lifecycle::{self, Ending, Finish, Schedule};
use crate::outcome::{finish_run, Outcome, RunError};
use crate::plan::Plan;
use crate::report::console;
use crate::swarm::{MasterConfig, SwarmConfig};

/// How often the live table is printed.
const PRINT_EVERY: Duration = Duration::from_secs(2);

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
    if let Some(workers) = &swarm.workers {
        if !wait_for_workers(workers.clone(), opts.expect_workers, &shutdown).await {
            let peak = swarm.users_by_type(0);
            return finish_run(
                &crate::outcome::ReportSettings::from_options(opts),
                plan,
                stats.final_snapshot().await,
                &host,
                &peak,
            );
        }
    }
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
    finish_run(
        &crate::outcome::ReportSettings::from_options(opts),
        plan,
        stats.final_snapshot().await,
        &host,
        &peak,
    )
}

/// A headless master starts its test (its `test_start` hooks, its run-time clock) once
/// `expect` workers are connected, checking once a second and saying so, as Locust's
/// does. The second matters: a Locust worker fires its `init` listeners (which register
/// its message handlers) just after it connects. False when the run was cancelled first.
async fn wait_for_workers(
    workers: tokio::sync::watch::Receiver<Vec<crate::distributed::WorkerInfo>>,
    expect: u32,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        let ready = workers
            .borrow()
            .iter()
            .filter(|w| w.state != crate::distributed::WorkerState::Missing)
            .count();
        if ready >= expect as usize {
            return true;
        }
        eprintln!("Waiting for workers to be ready, {ready} of {expect} connected");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return false,
        }
    }
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
