//! The tests the web UI runs: one [`Swarm`] per test, so a new test starts with fresh
//! statistics and may pick other user types or another host; the last one stays readable
//! (and downloadable) after it stopped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Options;
use crate::lifecycle::{self, Change, Finish, Schedule};
use crate::plan::{Plan, SelectionError};
use crate::runner::{RunnerState, RunnerStatus};
use crate::swarm::{Swarm, SwarmConfig};

/// A start request, from the form or `--autostart`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Users to ramp to.
    pub users: u64,
    /// Users started per second on the way there.
    pub spawn_rate: f64,
    /// The target; `None` keeps `--host`.
    pub host: Option<Url>,
    /// When the test ends by itself; `None` runs until stopped.
    pub run_time: Option<Duration>,
    /// Empty: every user type.
    pub user_types: Vec<String>,
}

/// Why a start request was refused.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no host to test: fill in the host field (or start with --host)")]
    NoHost,
    #[error(transparent)]
    Selection(#[from] SelectionError),
}

pub struct Test {
    pub swarm: Swarm,
    pub host: Url,
    pub user_types: Vec<String>,
    /// Highest user count asked for, for the report.
    pub peak_users: u64,
    /// The running test's lifecycle (`lifecycle::run_test`), when one runs.
    live: Option<Live>,
}

/// Handles on a test's lifecycle task.
struct Live {
    stop: CancellationToken,
    changes: mpsc::UnboundedSender<Change>,
    /// Becomes true when the lifecycle has ended and its users are stopped.
    done: watch::Receiver<bool>,
}

/// The plan, the command line's defaults, and the current (or last) test.
pub struct Control {
    /// The plan each test runs.
    pub plan: Plan,
    /// The command line: the defaults of a start request, the reports to write.
    pub options: Options,
    test: Mutex<Option<Arc<Mutex<Test>>>>,
    /// A distributed master keeps one swarm (its workers) for every test.
    fixed: bool,
    /// What `/metrics` reads; each new test is handed to it.
    pub telemetry: crate::telemetry::Telemetry,
}

impl Control {
    /// A control with no test yet; each start makes a new swarm.
    pub fn new(plan: Plan, options: Options) -> Self {
        Self {
            plan,
            options,
            test: Mutex::new(None),
            fixed: false,
            telemetry: Default::default(),
        }
    }

    /// A control over one long-lived swarm (a distributed master's): each new test resets
    /// its statistics instead of making a new swarm.
    pub fn with_swarm(plan: Plan, options: Options, swarm: Swarm, host: Url) -> Self {
        let test = Test {
            swarm,
            host,
            user_types: Vec::new(),
            peak_users: 0,
            live: None,
        };
        Self {
            plan,
            options,
            test: Mutex::new(Some(Arc::new(Mutex::new(test)))),
            fixed: true,
            telemetry: Default::default(),
        }
    }

    /// With `telemetry` reading its tests (the process's, for `/metrics` and `--otel`).
    /// A master's one swarm is handed to it now.
    pub fn with_telemetry(mut self, telemetry: crate::telemetry::Telemetry) -> Self {
        if let Some(t) = self.test() {
            let t = t.lock().unwrap_or_else(|p| p.into_inner());
            telemetry.watch(t.swarm.stats.clone(), t.swarm.runner.clone());
        }
        self.telemetry = telemetry;
        self
    }

    /// The current or last test.
    pub fn test(&self) -> Option<Arc<Mutex<Test>>> {
        self.test.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The statistics of the current or last test.
    pub fn stats(&self) -> Option<crate::stats::StatsHandle> {
        self.test().map(|t| {
            t.lock()
                .unwrap_or_else(|p| p.into_inner())
                .swarm
                .stats
                .clone()
        })
    }

    /// The current or last test's runner state, users and host; `None` before the first.
    pub fn status(&self) -> Option<RunnerStatus> {
        self.test().map(|t| {
            t.lock()
                .unwrap_or_else(|p| p.into_inner())
                .swarm
                .runner
                .status()
        })
    }

    /// Starts a test, or changes the running one when the host and user types are
    /// unchanged (the UI's "edit" button posts the same form): its users, and its run time,
    /// which the edit replaces.
    pub fn start(self: &Arc<Self>, req: StartRequest) -> Result<Url, StartError> {
        let host = req
            .host
            .clone()
            .or_else(|| self.options.host.clone())
            .ok_or(StartError::NoHost)?;
        if let Some(test) = self.test() {
            let mut t = test.lock().unwrap_or_else(|p| p.into_inner());
            let state = t.swarm.runner.status().state;
            let running = matches!(state, RunnerState::Spawning | RunnerState::Running);
            let same =
                t.host == host && (req.user_types.is_empty() || req.user_types == t.user_types);
            if running && (same || self.fixed) {
                if let Some(live) = &t.live {
                    let _ = live.changes.send(Change::Users {
                        users: req.users,
                        rate: req.spawn_rate,
                    });
                    let _ = live.changes.send(Change::RunTime(req.run_time));
                }
                t.peak_users = t.peak_users.max(req.users);
                return Ok(host);
            }
            if self.fixed {
                // A master keeps its workers: a new test on the same swarm, counted afresh.
                t.swarm.stats.reset();
                t.peak_users = req.users;
                t.host = host.clone();
                self.launch(&mut t, &req, Some(host.clone()));
                return Ok(host);
            }
            // A new test replaces the old one; stop it first if it still runs.
            if let Some(live) = &t.live {
                live.stop.cancel();
            }
        }
        let o = &self.options;
        let mut cfg = SwarmConfig::from_options(host.clone(), o);
        if !req.user_types.is_empty() {
            cfg.user_types = req.user_types.clone();
        }
        let user_types = cfg.user_types.clone();
        cfg.tracing = self.telemetry.tracing();
        let swarm = self.plan.swarm(cfg)?;
        self.telemetry
            .watch(swarm.stats.clone(), swarm.runner.clone());
        let test = Arc::new(Mutex::new(Test {
            swarm,
            host: host.clone(),
            user_types,
            peak_users: req.users,
            live: None,
        }));
        {
            let mut t = test.lock().unwrap_or_else(|p| p.into_inner());
            self.launch(&mut t, &req, None);
        }
        *self.test.lock().unwrap_or_else(|p| p.into_inner()) = Some(test);
        Ok(host)
    }

    /// Starts the lifecycle of a test on `t`'s swarm: the shape or stages if the command
    /// line or plan has one, else the users asked for.
    fn launch(&self, t: &mut Test, req: &StartRequest, host: Option<Url>) {
        let mut schedule = Schedule::from_options(&self.options, &self.plan);
        schedule.users = req.users;
        schedule.rate = req.spawn_rate;
        schedule.run_time = req.run_time;
        schedule.host = host;
        let (changes, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let (done_tx, done) = watch::channel(false);
        let test = lifecycle::run_test(
            t.swarm.runner.clone(),
            t.swarm.stats.clone(),
            self.plan.clone(),
            schedule,
            stop.clone(),
            rx,
            Finish::Stop,
        );
        tokio::spawn(async move {
            test.await;
            let _ = done_tx.send(true);
        });
        t.live = Some(Live {
            stop,
            changes,
            done,
        });
    }

    /// The most users a test runs.
    pub fn user_limit(&self) -> u64 {
        crate::capacity::user_limit(self.options.user_limit)
    }

    /// Whether the UI's form should ask for users: not when a shape decides them.
    pub fn has_shape(&self) -> bool {
        Schedule::from_options(&self.options, &self.plan)
            .shape
            .is_some()
    }

    /// Stops the current test, waiting until its users have ended.
    pub async fn stop(&self) {
        let Some(test) = self.test() else { return };
        let done = {
            let t = test.lock().unwrap_or_else(|p| p.into_inner());
            t.live.as_ref().map(|live| {
                live.stop.cancel();
                live.done.clone()
            })
        };
        if let Some(mut done) = done {
            let _ = done.wait_for(|d| *d).await;
        }
    }
}
