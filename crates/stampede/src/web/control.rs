//! The tests the web UI runs: one [`Swarm`] per test, so a new test starts with fresh
//! statistics and may pick other user types or another host; the last one stays readable
//! (and downloadable) after it stopped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;
use url::Url;

use crate::config::Options;
use crate::plan::{Plan, SelectionError};
use crate::runner::{RunnerState, RunnerStatus};
use crate::swarm::{Swarm, SwarmConfig};

/// A start request, from the form or `--autostart`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub users: u64,
    pub spawn_rate: f64,
    pub host: Option<Url>,
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
    run_timer: Option<AbortHandle>,
}

/// The plan, the command line's defaults, and the current (or last) test.
pub struct Control {
    pub plan: Plan,
    pub options: Options,
    test: Mutex<Option<Arc<Mutex<Test>>>>,
    /// A distributed master keeps one swarm (its workers) for every test.
    fixed: bool,
}

impl Control {
    pub fn new(plan: Plan, options: Options) -> Self {
        Self {
            plan,
            options,
            test: Mutex::new(None),
            fixed: false,
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
            run_timer: None,
        };
        Self {
            plan,
            options,
            test: Mutex::new(Some(Arc::new(Mutex::new(test)))),
            fixed: true,
        }
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

    pub fn status(&self) -> Option<RunnerStatus> {
        self.test().map(|t| {
            t.lock()
                .unwrap_or_else(|p| p.into_inner())
                .swarm
                .runner
                .status()
        })
    }

    /// Starts a test, or changes the user count of the running one when the host and user
    /// types are unchanged (the UI's "edit" button posts the same form).
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
            if self.fixed {
                if !running {
                    t.swarm.stats.reset();
                    t.peak_users = 0;
                }
                t.host = host.clone();
                t.swarm
                    .runner
                    .start(req.users, req.spawn_rate, Some(host.clone()));
                t.peak_users = t.peak_users.max(req.users);
                self.arm_timer(&mut t, &test, req.run_time);
                return Ok(host);
            }
            if running
                && t.host == host
                && (req.user_types.is_empty() || req.user_types == t.user_types)
            {
                t.swarm.runner.start(req.users, req.spawn_rate, None);
                t.peak_users = t.peak_users.max(req.users);
                self.arm_timer(&mut t, &test, req.run_time);
                return Ok(host);
            }
            // A new test replaces the old one; stop it first if it still runs.
            if running {
                let runner = t.swarm.runner.clone();
                tokio::spawn(async move { runner.stop().await });
            }
        }
        let o = &self.options;
        let mut cfg = SwarmConfig::from_options(host.clone(), o);
        if !req.user_types.is_empty() {
            cfg.user_types = req.user_types.clone();
        }
        let user_types = cfg.user_types.clone();
        let swarm = self.plan.swarm(cfg)?;
        swarm.runner.start(req.users, req.spawn_rate, None);
        let test = Arc::new(Mutex::new(Test {
            swarm,
            host: host.clone(),
            user_types,
            peak_users: req.users,
            run_timer: None,
        }));
        {
            let mut t = test.lock().unwrap_or_else(|p| p.into_inner());
            self.arm_timer(&mut t, &test, req.run_time);
        }
        *self.test.lock().unwrap_or_else(|p| p.into_inner()) = Some(test);
        Ok(host)
    }

    fn arm_timer(&self, t: &mut Test, test: &Arc<Mutex<Test>>, run_time: Option<Duration>) {
        let Some(run_time) = run_time else { return };
        if let Some(old) = t.run_timer.take() {
            old.abort();
        }
        let runner = t.swarm.runner.clone();
        let weak = Arc::downgrade(test);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(run_time).await;
            if weak.upgrade().is_some() {
                runner.stop().await;
            }
        });
        t.run_timer = Some(timer.abort_handle());
    }

    /// Stops the current test, waiting for its users to end.
    pub async fn stop(&self) {
        let Some(test) = self.test() else { return };
        let runner = {
            let mut t = test.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(timer) = t.run_timer.take() {
                timer.abort();
            }
            t.swarm.runner.clone()
        };
        runner.stop().await;
    }
}
