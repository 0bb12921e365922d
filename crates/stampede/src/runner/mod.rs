//! The runner: starts and stops users at the spawn rate, and answers to commands from the
//! headless loop, the web UI or a distributed master.

mod dispatch;
mod factory;
mod life;
mod open;
mod panics;
#[cfg(test)]
mod spawn_tests;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

pub(crate) use dispatch::{locust_worker_order, Dispatch};
pub(crate) use life::Erased;
pub use life::{ErasedUserType, UserControl};

use crate::client::ClientConfig;
use crate::stats::StatsHandle;
use factory::UserFactory;

/// Users started (or stopped) before the runner yields to the runtime. Starting 20,000
/// users in one go queued 20,000 first polls ahead of the UI's and the stats loop's
/// tasks, and the UI did not answer for 10-14 s; between batches of this many, whatever
/// else is due runs first.
pub(crate) const SPAWN_BATCH: usize = 16;

/// Where the runner is, with Locust's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerState {
    Ready,
    Spawning,
    Running,
    Stopping,
    Stopped,
}

impl RunnerState {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunnerState::Ready => "ready",
            RunnerState::Spawning => "spawning",
            RunnerState::Running => "running",
            RunnerState::Stopping => "stopping",
            RunnerState::Stopped => "stopped",
        }
    }
}

/// What the runner reports of itself.
#[derive(Clone, Debug, Serialize)]
pub struct RunnerStatus {
    pub state: RunnerState,
    pub target_users: u64,
    pub spawn_rate: f64,
    pub host: String,
}

impl RunnerStatus {
    /// Before any test: no users asked for yet.
    pub(crate) fn ready(host: &url::Url) -> Self {
        Self {
            state: RunnerState::Ready,
            target_users: 0,
            spawn_rate: 0.0,
            host: crate::values::redacted_host(host),
        }
    }
}

pub(crate) enum Cmd {
    /// Ramp to `users` at `rate` users per second (also while running).
    Target {
        users: u64,
        rate: f64,
        host: Option<Url>,
    },
    /// Exactly these users per plan type, at once (a distributed master paces the ramp).
    Exact { counts: Vec<u64>, host: Option<Url> },
    /// Stop every user, waiting up to the stop timeout for tasks to finish.
    Stop { done: oneshot::Sender<()> },
    /// The end of the process: stop, and tell distributed workers to quit.
    Quit { done: oneshot::Sender<()> },
}

/// Everything a runner needs to start users.
pub(crate) struct RunnerSetup {
    pub types: Vec<Arc<dyn ErasedUserType>>,
    /// Enabled task indexes per type, after tag filters.
    pub enabled: Vec<Arc<[usize]>>,
    pub dispatch: Dispatch,
    pub host: Url,
    pub client_config: ClientConfig,
    pub stop_timeout: Duration,
    pub stats: StatsHandle,
    /// Open-model types that take part, started on the first target.
    pub open_types: Vec<usize>,
}

/// Talks to a running runner task; cheap to clone.
#[derive(Clone)]
pub struct RunnerHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    status: watch::Receiver<RunnerStatus>,
    stats: StatsHandle,
}

impl RunnerHandle {
    /// Ramps to `users` at `rate` per second, starting a test if none is running.
    pub fn start(&self, users: u64, rate: f64, host: Option<Url>) {
        let _ = self.tx.send(Cmd::Target { users, rate, host });
    }

    /// Runs exactly `counts[i]` users of plan type `i`, starting or stopping the difference at
    /// once: what a distributed master's `spawn` message asks of a worker.
    pub fn set_counts(&self, counts: Vec<u64>, host: Option<Url>) {
        let _ = self.tx.send(Cmd::Exact { counts, host });
    }

    /// Stops every user and waits until they are gone.
    pub async fn stop(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop { done }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Stops, and makes distributed workers quit; for the end of a run.
    pub async fn quit(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Cmd::Quit { done }).is_ok() {
            let _ = rx.await;
        }
    }

    pub(crate) fn from_parts(
        tx: mpsc::UnboundedSender<Cmd>,
        status: watch::Receiver<RunnerStatus>,
        stats: StatsHandle,
    ) -> Self {
        Self { tx, status, stats }
    }

    pub fn status(&self) -> RunnerStatus {
        self.status.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<RunnerStatus> {
        self.status.clone()
    }

    /// Users alive right now.
    pub fn user_count(&self) -> u64 {
        self.stats.users.total()
    }

    pub fn stats(&self) -> &StatsHandle {
        &self.stats
    }
}

struct RunningUser {
    type_idx: usize,
    ctl: UserControl,
    handle: JoinHandle<()>,
}

/// The actor owning every user.
struct Runner {
    setup: RunnerSetup,
    factory: Arc<UserFactory>,
    users: Vec<RunningUser>,
    status: watch::Sender<RunnerStatus>,
    /// Arrival drivers of open-model types, while a test runs.
    open: Option<(CancellationToken, Vec<JoinHandle<()>>)>,
    /// Current ramp: from `from` users at `started` towards the target.
    ramp: Option<Ramp>,
    /// Users per type still to start for an exact count (a master's `spawn`).
    owed: Vec<u64>,
    /// The last step left users to start or stop now: the next one comes after a yield.
    behind: bool,
}

#[derive(Clone, Copy)]
pub(crate) struct Ramp {
    from: u64,
    to: u64,
    rate: f64,
    started: Instant,
}

impl Ramp {
    /// Users there should be at `now`: the first one at once, then one every 1/rate s.
    pub(crate) fn new(from: u64, to: u64, rate: f64) -> Self {
        Self {
            from,
            to,
            rate,
            started: Instant::now(),
        }
    }

    pub(crate) fn target(&self) -> u64 {
        self.to
    }

    pub(crate) fn wanted(&self, now: Instant) -> u64 {
        let steps = if self.rate <= 0.0 || !self.rate.is_finite() {
            u64::MAX
        } else {
            (now.duration_since(self.started).as_secs_f64() * self.rate) as u64 + 1
        };
        if self.to >= self.from {
            self.from.saturating_add(steps).min(self.to)
        } else {
            self.from.saturating_sub(steps).max(self.to)
        }
    }

    fn next_step(&self) -> Instant {
        let tick = if self.rate > 0.0 {
            (1.0 / self.rate).max(0.001)
        } else {
            0.001
        };
        Instant::now() + Duration::from_secs_f64(tick.min(1.0))
    }
}

/// Starts the runner actor.
pub(crate) fn spawn_runner(setup: RunnerSetup) -> RunnerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(RunnerStatus::ready(&setup.host));
    let stats = setup.stats.clone();
    let factory = Arc::new(UserFactory {
        types: setup.types.clone(),
        enabled: setup.enabled.clone(),
        host: setup.host.clone(),
        client_config: setup.client_config.clone(),
        stats: setup.stats.clone(),
        next_id: Arc::new(AtomicU64::new(0)),
    });
    let runner = Runner {
        setup,
        factory,
        users: Vec::new(),
        status: status_tx,
        open: None,
        ramp: None,
        owed: Vec::new(),
        behind: false,
    };
    tokio::spawn(runner.run(rx));
    RunnerHandle {
        tx,
        status: status_rx,
        stats,
    }
}

impl Runner {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        loop {
            if self.behind {
                // Let the users just started, the UI and the stats loop run, then take a
                // command if one came, else the next batch.
                tokio::task::yield_now().await;
                match rx.try_recv() {
                    Ok(cmd) => self.command(cmd).await,
                    Err(mpsc::error::TryRecvError::Empty) => self.step(),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
                continue;
            }
            let step_at = self.ramp.map(|r| r.next_step());
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None => break,
                    Some(cmd) => self.command(cmd).await,
                },
                _ = sleep_until_opt(step_at) => self.step(),
            }
        }
        self.stop_all().await;
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Target { users, rate, host } => self.retarget(users, rate, host),
            Cmd::Exact { counts, host } => self.set_counts(counts, host),
            Cmd::Stop { done } | Cmd::Quit { done } => {
                self.stop_all().await;
                let _ = done.send(());
            }
        }
    }

    fn set_host(&mut self, host: Option<Url>) {
        if let Some(h) = host {
            self.setup.host = h.clone();
            self.factory = Arc::new(UserFactory {
                types: self.factory.types.clone(),
                enabled: self.factory.enabled.clone(),
                host: h,
                client_config: self.factory.client_config.clone(),
                stats: self.factory.stats.clone(),
                next_id: self.factory.next_id.clone(),
            });
        }
    }

    fn retarget(&mut self, users: u64, rate: f64, host: Option<Url>) {
        self.set_host(host);
        if self.open.is_none() && !self.setup.open_types.is_empty() {
            let stop = CancellationToken::new();
            let drivers = self
                .setup
                .open_types
                .iter()
                .filter_map(|&t| {
                    let arrivals = self.setup.types[t].info().arrivals.clone()?;
                    Some(open::drive(
                        self.factory.clone(),
                        t,
                        arrivals,
                        stop.clone(),
                        self.setup.stop_timeout,
                    ))
                })
                .collect();
            self.open = Some((stop, drivers));
        }
        let users = self
            .setup
            .dispatch
            .capacity()
            .map_or(users, |cap| users.min(cap));
        self.prune();
        self.owed.clear();
        let from = self.users.len() as u64;
        self.ramp = Some(Ramp {
            from,
            to: users,
            rate,
            started: Instant::now(),
        });
        self.status.send_modify(|s| {
            s.state = RunnerState::Spawning;
            s.target_users = users;
            s.spawn_rate = rate;
            s.host = crate::values::redacted_host(&self.setup.host);
        });
        self.step();
    }

    /// Starts or stops up to [`SPAWN_BATCH`] users towards an exact count or the ramp's
    /// line, and notes whether more are due now.
    fn step(&mut self) {
        self.behind = if !self.owed.is_empty() {
            self.step_owed()
        } else {
            self.step_ramp()
        };
    }

    fn step_ramp(&mut self) -> bool {
        let Some(ramp) = self.ramp else { return false };
        let wanted = ramp.wanted(Instant::now());
        let mut budget = SPAWN_BATCH;
        while budget > 0 && (self.users.len() as u64) < wanted {
            let slot = self.users.len() as u64;
            match self.setup.dispatch.type_for_slot(slot) {
                Some(t) => self.spawn_user(t),
                None => break,
            }
            budget -= 1;
        }
        while budget > 0 && (self.users.len() as u64) > wanted {
            let user = self.users.pop().expect("len > wanted >= 0");
            self.stop_user(user);
            budget -= 1;
        }
        let have = self.users.len() as u64;
        if wanted == ramp.to && (have == wanted || budget > 0) {
            // There, or as near as the dispatch can place users.
            self.ramp = None;
            self.status.send_modify(|s| s.state = RunnerState::Running);
            return false;
        }
        budget == 0 && have != wanted
    }

    fn step_owed(&mut self) -> bool {
        let mut budget = SPAWN_BATCH;
        for t in 0..self.owed.len() {
            while budget > 0 && self.owed[t] > 0 {
                self.spawn_user(t);
                self.owed[t] -= 1;
                budget -= 1;
            }
        }
        let more = self.owed.iter().any(|&n| n > 0);
        if !more {
            self.owed.clear();
            self.status.send_modify(|s| s.state = RunnerState::Running);
        }
        more
    }

    fn spawn_user(&mut self, type_idx: usize) {
        let ctl = UserControl {
            stop: CancellationToken::new(),
            once: false,
        };
        let handle = self.factory.spawn(type_idx, ctl.clone());
        self.users.push(RunningUser {
            type_idx,
            ctl,
            handle,
        });
        self.setup.stats.users.note_spawner_moves(1);
    }

    /// Tells one user to finish (its task ends on its own).
    fn stop_user(&self, user: RunningUser) {
        user.ctl.stop.cancel();
        self.setup.stats.users.note_spawner_moves(1);
    }

    /// Runs exactly `counts[t]` users of each type `t`: the surplus stops at once, the
    /// missing start [`SPAWN_BATCH`] at a time.
    fn set_counts(&mut self, counts: Vec<u64>, host: Option<Url>) {
        self.set_host(host);
        self.ramp = None;
        self.prune();
        self.owed = vec![0; counts.len()];
        for (t, &want) in counts.iter().enumerate() {
            let mut have = self.users.iter().filter(|u| u.type_idx == t).count() as u64;
            while have > want {
                let i = self
                    .users
                    .iter()
                    .rposition(|u| u.type_idx == t)
                    .expect("have > 0");
                let user = self.users.remove(i);
                self.stop_user(user);
                have -= 1;
            }
            self.owed[t] = want - have;
        }
        let total: u64 = counts.iter().sum();
        self.status.send_modify(|s| {
            s.state = RunnerState::Spawning;
            s.target_users = total;
        });
        self.step();
    }

    /// Forgets users that ended by themselves (`StopUser`), keeping slot order.
    fn prune(&mut self) {
        self.users.retain(|u| !u.handle.is_finished());
    }

    async fn stop_all(&mut self) {
        self.ramp = None;
        self.owed.clear();
        self.behind = false;
        if let Some((stop, drivers)) = self.open.take() {
            stop.cancel();
            for d in drivers {
                let _ = d.await;
            }
        }
        if self.users.is_empty() {
            self.status.send_modify(|s| s.state = RunnerState::Stopped);
            return;
        }
        self.status.send_modify(|s| s.state = RunnerState::Stopping);
        for u in &self.users {
            u.ctl.stop.cancel();
        }
        let deadline = Instant::now() + self.setup.stop_timeout;
        let mut aborted = Vec::new();
        for mut u in self.users.drain(..) {
            // Tasks may finish until the stop timeout; then they are aborted mid-request. A
            // foreign user's own stop (a locustfile's `on_stop`, after Locust's kill) gets
            // the grace its type asks for on top.
            let grace = self.setup.types[u.type_idx].stop_grace();
            if tokio::time::timeout_at(deadline + grace, &mut u.handle)
                .await
                .is_err()
            {
                u.handle.abort();
                aborted.push(u.handle);
            }
        }
        for handle in aborted {
            let _ = handle.await;
        }
        self.status.send_modify(|s| s.state = RunnerState::Stopped);
    }
}

/// Sleeps until `at`, or forever without one (a deadline that may not be set).
pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
