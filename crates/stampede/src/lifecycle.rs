//! One test's life, the same whichever mode drives it: headless, the web UI (with or
//! without `--autostart`) and a distributed master (whose users run on its workers).
//!
//! In order: the plan's `on_test_start` hooks; the start, from the load shape (`--stage`
//! or `Plan::shape`) when there is one, else from the users and rate asked for; then, until
//! the test ends, the shape's ticks, `--reset-stats` once every user is spawned, live
//! changes (the UI's edit, which replaces the run time too), and the end when the run time
//! passes, the shape ends, every user has stopped by itself, or the caller stops it. Last,
//! the users are stopped (within `--stop-timeout`; requests cut off then are counted as
//! unanswered) and the `on_test_stop` hooks run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use crate::milestone::{Ending, Milestone};

use crate::plan::Plan;
use crate::runner::{sleep_until_opt, RunnerHandle, RunnerState};
use crate::shape::LoadShape;
use crate::stats::StatsHandle;

/// What a test is asked to do.
#[derive(Clone)]
pub struct Schedule {
    /// Users to ramp to (`-u`), unless a shape decides.
    pub users: u64,
    /// Users started per second on the way there (`-r`).
    pub rate: f64,
    /// Decides users and rate instead of `users` and `rate` when present.
    pub shape: Option<Arc<dyn LoadShape>>,
    /// When the test ends by itself (`-t`); `None` runs until stopped.
    pub run_time: Option<Duration>,
    /// Start the counts afresh once every user is spawned (`--reset-stats`).
    pub reset_stats: bool,
    /// End the test once every user has stopped by itself (`StopUser`). A master learns
    /// its user counts from its workers' reports, late, so it does not judge this.
    pub end_when_users_gone: bool,
    /// A host other than the swarm's own (a master's test from the UI form).
    pub host: Option<url::Url>,
    /// The most users to run (`--user-limit`, or what the process can hold).
    pub user_limit: u64,
}

impl Schedule {
    /// Users and rate at the start.
    pub fn initial(&self) -> (u64, f64) {
        match &self.shape {
            Some(s) => s.tick(Duration::ZERO).unwrap_or((0, 1.0)),
            None => (self.users, self.rate),
        }
    }
}

/// A change to a running test.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Ignored while a shape decides the load.
    Users {
        /// The new user count.
        users: u64,
        /// Users started (or stopped) per second on the way there.
        rate: f64,
    },
    /// Replaces the run time, counted from now; `None` runs until stopped.
    RunTime(Option<Duration>),
}

/// How a test went, for the reports.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    /// Why the test ended.
    pub ending: Ending,
    /// The highest user count asked for.
    pub peak_users: u64,
}

/// How a test's users are stopped at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Stop them; another test may follow (the web UI).
    Stop,
    /// End the run: a master tells its workers to quit. A Locust worker sleeps through its
    /// stop timeout in its `stop` handler and reports its last stats only on `quit`, so a
    /// run's end is `quit` alone (a local runner's quit stops its users first).
    Quit,
}

/// Runs one test on `runner` until it ends, then stops its users as `finish` says.
pub async fn run_test(
    runner: RunnerHandle,
    stats: StatsHandle,
    plan: Plan,
    schedule: Schedule,
    stop: CancellationToken,
    mut changes: mpsc::UnboundedReceiver<Change>,
    finish: Finish,
) -> Ended {
    test_starts(&plan).await;
    let started = Instant::now();
    let cap = |(users, rate): (u64, f64)| {
        if users > schedule.user_limit {
            eprintln!(
                "{}",
                crate::capacity::capped_message(users, schedule.user_limit)
            );
        }
        (users.min(schedule.user_limit), rate)
    };
    let mut current = cap(schedule.initial());
    let mut peak_users = current.0;
    runner.start(current.0, current.1, schedule.host.clone());
    plan.milestone(&Milestone::Ramping {
        users: current.0,
        rate: current.1,
        shape: schedule.shape.is_some(),
    });
    let mut spawning = true;
    let mut deadline = schedule.run_time.map(|t| started + t);
    let mut status = runner.watch();
    let mut reset_pending = schedule.reset_stats;
    let second = Duration::from_secs(1);
    let mut shape_tick = tokio::time::interval_at(started + second, second);
    let ending = loop {
        tokio::select! {
            _ = stop.cancelled() => break Ending::Stopped,
            _ = sleep_until_opt(deadline) => break Ending::RunTime,
            _ = shape_tick.tick(), if schedule.shape.is_some() => {
                match schedule.shape.as_ref().and_then(|s| s.tick(started.elapsed())) {
                    None => break Ending::ShapeEnded,
                    Some(next) if cap(next) != current => {
                        let next = cap(next);
                        current = next;
                        peak_users = peak_users.max(next.0);
                        runner.start(next.0, next.1, None);
                        plan.milestone(&Milestone::Ramping { users: next.0, rate: next.1, shape: true });
                        spawning = true;
                    }
                    Some(_) => {}
                }
            }
            Some(change) = changes.recv() => match change {
                Change::Users { users, rate } if schedule.shape.is_none() => {
                    let (users, rate) = cap((users, rate));
                    current = (users, rate);
                    peak_users = peak_users.max(users);
                    runner.start(users, rate, None);
                    plan.milestone(&Milestone::Ramping { users, rate, shape: false });
                    spawning = true;
                }
                Change::Users { .. } => {}
                Change::RunTime(t) => deadline = t.map(|t| Instant::now() + t),
            },
            changed = status.changed() => {
                if changed.is_err() {
                    break Ending::Stopped;
                }
                let running = status.borrow().state == RunnerState::Running;
                if spawning && running {
                    spawning = false;
                    plan.milestone(&Milestone::Spawned { users: stats.users.by_type() });
                }
                if reset_pending && running {
                    stats.reset();
                    reset_pending = false;
                }
            }
        }
        let st = runner.status();
        if schedule.end_when_users_gone
            && st.state == RunnerState::Running
            && st.target_users > 0
            && runner.user_count() == 0
        {
            break Ending::UsersEnded;
        }
    };
    plan.milestone(&Milestone::Ending(ending));
    match finish {
        Finish::Stop => runner.stop().await,
        Finish::Quit => runner.quit().await,
    }
    test_stops(&plan).await;
    Ended { ending, peak_users }
}

/// The plan's `on_test_start` hooks, in order: the one place a test's start runs them, for
/// every mode (a worker, whose tests its master starts, calls it too).
pub(crate) async fn test_starts(plan: &Plan) {
    for hook in &plan.on_test_start {
        hook().await;
    }
}

/// The plan's `on_test_stop` hooks, in order, once the users have stopped.
pub(crate) async fn test_stops(plan: &Plan) {
    for hook in &plan.on_test_stop {
        hook().await;
    }
}
