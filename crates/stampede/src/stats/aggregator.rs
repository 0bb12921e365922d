//! The actor that owns the statistics.
//!
//! It receives batches from users and commands carrying `oneshot` replies, and once a second
//! appends a point to the history. Nothing else holds a lock on the totals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::generator::{Alarm, Generator, GeneratorReport};
use super::lifetime::{Lifetime, MetricsSnapshot};
use super::state::{HistoryPoint, Limits, StatsState, Summary};
use super::{unix_now, Command, Event, NameTable, Names, Observer, Recorder, Registry};

/// How often the aggregator pulls what users hold: no event waits longer for the live view.
const PULL_EVERY: Duration = Duration::from_millis(250);

/// Live user counts per user type, written by the runner and read by the aggregator.
#[derive(Debug)]
pub struct UserCounts {
    /// The user types' names, in plan order; counts are indexed alike.
    pub names: Vec<String>,
    counts: Vec<AtomicU64>,
    /// Users the spawner started or stopped so far (a ramp or a master's counts, not the
    /// open model's arrivals): the saturation alarm forgives a short lag while it moves.
    spawner_moves: AtomicU64,
}

impl UserCounts {
    /// Zero users of each type in `names`.
    pub fn new(names: Vec<String>) -> Self {
        let counts = names.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            names,
            counts,
            spawner_moves: AtomicU64::new(0),
        }
    }
    /// Notes `users` started or stopped by the spawner (not the open model's arrivals).
    pub fn note_spawner_moves(&self, users: u64) {
        self.spawner_moves.fetch_add(users, Ordering::Relaxed);
    }
    /// Users the spawner has started or stopped so far.
    pub fn spawner_moves(&self) -> u64 {
        self.spawner_moves.load(Ordering::Relaxed)
    }
    /// A user of type `idx` started (`1`) or stopped (`-1`).
    pub fn add(&self, idx: usize, delta: i64) {
        if delta >= 0 {
            self.counts[idx].fetch_add(delta as u64, Ordering::Relaxed);
        } else {
            self.counts[idx].fetch_sub((-delta) as u64, Ordering::Relaxed);
        }
    }
    /// The count of type `idx` as reported whole (a master's, from its workers).
    pub fn set(&self, idx: usize, value: u64) {
        self.counts[idx].store(value, Ordering::Relaxed);
    }
    /// Running users of type `idx`.
    pub fn get(&self, idx: usize) -> u64 {
        self.counts[idx].load(Ordering::Relaxed)
    }
    /// Running users of every type.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
    /// (type name, running users), in plan order, as the reports list them.
    pub fn by_type(&self) -> Vec<(String, u64)> {
        self.names
            .iter()
            .cloned()
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect()
    }
}

/// A cheap, cloneable way to talk to the aggregator.
#[derive(Clone)]
pub struct StatsHandle {
    tx: mpsc::UnboundedSender<Command>,
    /// The live user counts the aggregator reads for its history and reports.
    pub users: Arc<UserCounts>,
    /// Bumped by every reset; events recorded before it are dropped (see [`Recorder`]).
    epoch: Arc<AtomicU64>,
    registry: Registry,
    names: Arc<Names>,
}

impl StatsHandle {
    /// A recorder for one user (or any producer of events).
    pub fn recorder(&self) -> Recorder {
        Recorder::new(
            self.tx.clone(),
            self.epoch.clone(),
            &self.registry,
            self.names.clone(),
        )
    }

    /// Whether both handles talk to the same aggregator.
    pub fn same(&self, other: &StatsHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// The current table.
    pub async fn summary(&self) -> Summary {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Summary(tx));
        rx.await.expect("the aggregator outlives its handles")
    }

    /// A full copy of the state (histograms included), for reports and merging.
    pub async fn snapshot(&self) -> StatsState {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Snapshot(tx));
        *rx.await.expect("the aggregator outlives its handles")
    }

    /// This generator's health now (a worker's heartbeat carries it).
    pub async fn generator(&self) -> GeneratorReport {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Health(tx));
        rx.await.unwrap_or_default()
    }

    /// Takes in a worker's generator health: a master reports the worst of its workers.
    pub fn note_generator(&self, report: GeneratorReport) {
        let _ = self.tx.send(Command::Generator(report));
    }

    /// How long after its end a second is read (a master waits for its workers' reports).
    pub fn set_settle(&self, secs: u64) {
        let _ = self.tx.send(Command::Settle(secs));
    }

    /// The state once a run is over: the history's last seconds are written too.
    pub async fn final_snapshot(&self) -> StatsState {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Final(tx));
        *rx.await.expect("the aggregator outlives its handles")
    }

    /// Everything counted since the last take (or the start), starting afresh: a distributed
    /// worker reports deltas, as Locust's workers do.
    pub async fn take(&self) -> StatsState {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Take(tx));
        *rx.await.expect("the aggregator outlives its handles")
    }

    /// Adds a worker's delta report.
    pub fn merge(&self, delta: StatsState) {
        let _ = self.tx.send(Command::Merge(Box::new(delta)));
    }

    /// The per-second history after unix time `since`, for charts that poll incrementally.
    pub async fn history_since(&self, since: f64) -> Vec<HistoryPoint> {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::History(since, tx));
        rx.await.unwrap_or_default()
    }

    /// The lifetime counts plus the table now (see `Lifetime`): what `/metrics` and
    /// OpenTelemetry read. Counters in it never go down, whatever resets happen.
    pub async fn metrics(&self) -> MetricsSnapshot {
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.send(Command::Metrics(tx));
        rx.await.map(|b| *b).unwrap_or_default()
    }

    /// Shows every request counted from now on to `observer` (`--otel`'s histogram).
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        let _ = self.tx.send(Command::Observe(observer));
    }

    /// Starts the counts afresh (`--reset-stats`, the UI's reset button). Exact: what
    /// users recorded before it is not counted, even if still in their batches.
    pub fn reset(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(Command::Reset(epoch));
    }
}

/// Starts the aggregator on the current runtime. `node` names this process in the
/// exceptions table. It stops when every handle and recorder is gone.
pub fn spawn_aggregator(
    users: Arc<UserCounts>,
    node: String,
    full_history: bool,
    limits: Limits,
) -> StatsHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let registry = Registry::default();
    let handle = StatsHandle {
        tx,
        users: users.clone(),
        epoch: Arc::default(),
        registry: registry.clone(),
        names: Arc::new(Names::new(limits.max_names)),
    };
    let names = handle.names.clone();
    tokio::spawn(run(rx, registry, names, users, node, full_history, limits));
    handle
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Command>,
    registry: Registry,
    names: Arc<Names>,
    users: Arc<UserCounts>,
    node: String,
    full_history: bool,
    limits: Limits,
) {
    let mut books = Books::new(full_history, limits);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pull = tokio::time::interval(PULL_EVERY);
    pull.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The generator's health outlives resets and a worker's delta reports.
    let mut generator = Generator::default();
    loop {
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            due = pull.tick() => {
                generator.note_tick(due);
                for (e, events) in registry.drain() {
                    books.apply(e, events, &names.read(), &node);
                }
                books.state.note_users(unix_now(), users.total());
                continue;
            }
            _ = tick.tick() => {
                books.state.push_history(unix_now(), users.total());
                if let Some(alarm) = generator.end_second(users.spawner_moves()) {
                    say(alarm);
                }
                continue;
            }
        };
        if matches!(
            cmd,
            Some(
                Command::Summary(_)
                    | Command::Snapshot(_)
                    | Command::Final(_)
                    | Command::Take(_)
                    | Command::History(..)
                    | Command::Metrics(_)
            )
        ) {
            // An answer includes everything recorded before the question was asked.
            for (e, events) in registry.drain() {
                books.apply(e, events, &names.read(), &node);
            }
            books.state.generator = generator.report();
        }
        match cmd {
            None => break,
            Some(Command::Batch(e, events)) => books.apply(e, events, &names.read(), &node),
            Some(Command::Summary(reply)) => {
                let _ = reply.send(
                    books
                        .state
                        .summary(unix_now(), users.total(), users.by_type()),
                );
            }
            Some(Command::Snapshot(reply)) => {
                let _ = reply.send(Box::new(books.state.clone()));
            }
            Some(Command::Settle(secs)) => books.state.settle_secs = secs,
            Some(Command::Generator(report)) => generator.merge(&report),
            Some(Command::Health(reply)) => {
                let _ = reply.send(generator.report());
            }
            Some(Command::Final(reply)) => {
                books.state.close_history(unix_now(), users.total());
                let _ = reply.send(Box::new(books.state.clone()));
            }
            Some(Command::Merge(delta)) => books.state.merge(&delta),
            Some(Command::Take(reply)) => {
                let _ = reply.send(Box::new(books.restart()));
            }
            Some(Command::History(since, reply)) => {
                let start = books.state.history.partition_point(|p| p.time <= since);
                let _ = reply.send(books.state.history[start..].to_vec());
            }
            Some(Command::Reset(e)) => books.apply(e, Vec::new(), &names.read(), &node),
            Some(Command::Observe(o)) => books.observer = Some(o),
            Some(Command::Metrics(reply)) => {
                let snap = MetricsSnapshot::of(
                    &books.lifetime,
                    &books.state,
                    users.by_type(),
                    generator.report(),
                );
                let _ = reply.send(Box::new(snap));
            }
        }
    }
}

/// What the aggregator owns: the table since the last reset, the lifetime counts that
/// outlive resets, and whoever else sees each request.
struct Books {
    state: StatsState,
    lifetime: Lifetime,
    observer: Option<Arc<dyn Observer>>,
    /// The reset epoch the table counts.
    epoch: u64,
    full_history: bool,
    limits: Limits,
}

impl Books {
    fn new(full_history: bool, limits: Limits) -> Self {
        let mut books = Self {
            state: StatsState::new(unix_now(), full_history),
            lifetime: Lifetime::new(limits.max_names),
            observer: None,
            epoch: 0,
            full_history,
            limits,
        };
        books.state = books.fresh();
        books
    }

    fn fresh(&self) -> StatsState {
        let mut s = StatsState::new(unix_now(), self.full_history);
        s.limits = self.limits;
        s
    }

    /// Starts the table afresh (a reset, a worker's report), its counts kept in the
    /// lifetime; returns the table that was.
    fn restart(&mut self) -> StatsState {
        self.lifetime.fold(&self.state);
        let mut fresh = self.fresh();
        fresh.settle_secs = self.state.settle_secs;
        std::mem::replace(&mut self.state, fresh)
    }

    /// Counts a batch of epoch `e`.
    fn apply(&mut self, e: u64, events: Vec<Event>, names: &NameTable, node: &str) {
        // A batch of a newer epoch can overtake its reset in the channel.
        if e > self.epoch {
            self.restart();
            self.epoch = e;
        }
        if let Some(o) = &self.observer {
            for ev in &events {
                if let Event::Request {
                    id,
                    elapsed_us,
                    error,
                    ..
                } = ev
                {
                    o.request(names.key(*id), *elapsed_us, error.is_some());
                }
            }
        }
        if e == self.epoch {
            for ev in events {
                self.state.apply(ev, node, names);
            }
        } else {
            // Recorded before a reset: not in the table, but the requests were made, and
            // counters that never go down count them.
            let mut before = self.fresh();
            for ev in events {
                before.apply(ev, node, names);
            }
            self.lifetime.fold(&before);
        }
    }
}

/// The console's word when the generator falls behind (saying why), and when it catches up.
fn say(alarm: Alarm) {
    tracing::warn!("{alarm}");
}
