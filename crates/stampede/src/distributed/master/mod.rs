//! A master: binds a ZeroMQ ROUTER, accepts Stampede and Locust workers, computes the ramp
//! and sends each worker its absolute per-class user counts, and merges their reports.
//!
//! It answers the runner's own commands ([`crate::runner::RunnerHandle`]), so the headless
//! loop and the web UI drive a fleet of workers as they drive local users.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use url::Url;
use zeromq::{ConnectionId, RouterSocket, Socket, ZmqMessage};

use super::admission::{printable, Admission, Throttled};
use super::message::{peek_kind, Message, WorkerState};
use super::payload::{Beat, Classes, ExceptionReport, ParsedOptions, Payload, Spawn};
use crate::runner::{Cmd, Dispatch, Ramp, RunnerHandle, RunnerState, RunnerStatus};
use crate::stats::{unix_now, Event, StatsHandle};
use crate::user::UserTypeInfo;

/// Heartbeats a worker may miss before it is marked missing (Locust uses 3, once a second).
const LIVENESS: i32 = 3;
const TICK: Duration = Duration::from_millis(200);

/// A worker as the UI's Workers tab shows it.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerInfo {
    /// Its node id, as it announced it.
    pub id: String,
    /// Its state, from its messages and heartbeats.
    pub state: WorkerState,
    /// The users it says it runs, capped at what it was told to run.
    pub user_count: u64,
    /// Its CPU use (percent of a core) from its last heartbeat.
    pub cpu_usage: f64,
    /// Its resident memory (bytes) from its last heartbeat.
    pub memory_usage: u64,
    /// Its generator's p99 scheduler lag (ms), from a Stampede worker's heartbeat.
    pub lag_ms: Option<f64>,
    /// Its generator is saturated now.
    pub saturated: bool,
    /// The version its `client_ready` announced, and whether this master speaks to it.
    pub version: String,
    /// Whether that version speaks this master's protocol.
    pub version_ok: bool,
    /// Stats reports dropped because they failed validation.
    pub rejected_reports: u64,
}

struct Worker {
    /// The connection that was admitted under this identity: the only one heard, and sent
    /// to, as this worker. Another connection may announce the same identity.
    conn: ConnectionId,
    info: WorkerInfo,
    liveness: i32,
    /// Users of each plan type this worker was told to run.
    assigned: Vec<u64>,
    /// Its last report's users per type.
    reported: Vec<u64>,
    index: u64,
    /// The most users of each type it was told to run this test: a report of more is a lie.
    peak_assigned: Vec<u64>,
    /// When it went missing: it is forgotten after `forget_after`.
    missing_since: Option<Instant>,
    rejects: Throttled,
}

pub(crate) struct MasterSetup {
    pub bind: String,
    /// Start a test only once this many workers are connected.
    pub expect_workers: u32,
    pub types: Vec<UserTypeInfo>,
    pub dispatch: Dispatch,
    pub host: Url,
    pub stop_timeout: Duration,
    pub stats: StatsHandle,
    /// The options workers receive; never credentials.
    pub parsed_options: ParsedOptions,
    pub admission: Admission,
    pub forget_after: Duration,
    /// The master's caps on names and failure keys, which bound every worker's report.
    pub limits: crate::stats::Limits,
    /// The test's own messages and report additions, when its front carries them.
    pub relay: Option<crate::relay::Relay>,
}

/// Binds the master and starts its actor.
pub(crate) async fn spawn_master(
    setup: MasterSetup,
) -> Result<(RunnerHandle, watch::Receiver<Vec<WorkerInfo>>), String> {
    let mut options = zeromq::SocketOptions::default();
    if let Some(filter) = setup.admission.filter() {
        options.accept_filter(filter);
    }
    let mut router = RouterSocket::with_options(options);
    let endpoint = router
        .bind(&setup.bind)
        .await
        .map_err(|e| format!("cannot bind the master to {}: {e}", setup.bind))?;
    eprintln!(
        "Stampede master listening for workers at {endpoint}: {}",
        setup.admission.describe()
    );
    let (send, mut recv) = router.split();
    let (frames_tx, frames) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Ok((conn, m)) = recv.recv_from().await {
            let mut parts = m.into_vec();
            // The router puts the identity first; a message has at least one frame more.
            let Some(payload) = parts.pop().filter(|_| !parts.is_empty()) else {
                continue;
            };
            let id = String::from_utf8_lossy(&parts[0]).into_owned();
            if frames_tx.send(Frame { conn, id, payload }).await.is_err() {
                return;
            }
        }
    });
    let (cmd_tx, cmds) = mpsc::unbounded_channel();
    let (status_tx, status_rx) = watch::channel(RunnerStatus::ready(&setup.host));
    let (workers_tx, workers_rx) = watch::channel(Vec::new());
    let stats = setup.stats.clone();
    let master = Master {
        setup,
        send,
        workers: BTreeMap::new(),
        next_index: 0,
        ramp: None,
        dispatched: 0,
        pending: None,
        stopping: None,
        status: status_tx,
        workers_view: workers_tx,
        refused: Throttled::new(Duration::from_secs(10)),
        strangers: Throttled::new(Duration::from_secs(10)),
        told_workers: Vec::new(),
    };
    tokio::spawn(master.run(frames, cmds));
    Ok((
        RunnerHandle::from_parts(cmd_tx, status_rx, stats),
        workers_rx,
    ))
}

mod peers;
mod relayed;

/// A message as the router delivered it, still undecoded: whether it is decoded depends on
/// whether its connection was admitted.
struct Frame {
    conn: ConnectionId,
    id: String,
    payload: bytes::Bytes,
}

struct Master {
    setup: MasterSetup,
    send: zeromq::RouterSendHalf,
    workers: BTreeMap<String, Worker>,
    next_index: u64,
    ramp: Option<Ramp>,
    /// Users currently spread over the workers.
    dispatched: u64,
    /// A start waiting for enough workers.
    pending: Option<(u64, f64)>,
    /// A stop waiting for workers to confirm: (deadline, who to tell).
    stopping: Option<(Instant, Vec<oneshot::Sender<()>>)>,
    status: watch::Sender<RunnerStatus>,
    workers_view: watch::Sender<Vec<WorkerInfo>>,
    /// Rate-limited log lines for refused joins and for messages from unknown peers.
    refused: Throttled,
    strangers: Throttled,
    /// The workers as the front was last told of them (id, state, users).
    told_workers: Vec<(String, String, u64)>,
}

impl Master {
    async fn run(
        mut self,
        mut frames: mpsc::Receiver<Frame>,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        let mut last_beat = Instant::now();
        let mut outgoing = self.setup.relay.as_ref().and_then(|r| r.take_outgoing());
        loop {
            tokio::select! {
                Some(out) = crate::relay::next(&mut outgoing) => self.send_custom(out).await,
                Some(frame) = frames.recv() => {
                    if let Some(msg) = self.accept(&frame) {
                        self.on_message(frame.conn, frame.id, msg).await;
                    }
                }
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(Cmd::Target { users, rate, host }) => self.target(users, rate, host).await,
                    Some(Cmd::Exact { counts, host }) => self.target(counts.iter().sum(), f64::INFINITY, host).await,
                    Some(Cmd::Stop { done }) => self.stop(done).await,
                    Some(Cmd::Quit { done }) => {
                        self.quit(&mut frames).await;
                        let _ = done.send(());
                        return;
                    }
                },
                _ = tick.tick() => {
                    if last_beat.elapsed() >= Duration::from_secs(1) {
                        last_beat = Instant::now();
                        self.beat().await;
                    }
                    self.step().await;
                    self.check_stopped();
                }
            }
        }
    }

    fn ready_workers(&self) -> usize {
        self.workers
            .values()
            .filter(|w| w.info.state != WorkerState::Missing)
            .count()
    }

    async fn target(&mut self, users: u64, rate: f64, host: Option<Url>) {
        if let Some(h) = host {
            self.setup.host = h;
        }
        let users = self
            .setup
            .dispatch
            .capacity()
            .map_or(users, |c| c.min(users));
        if self.ready_workers() < self.setup.expect_workers as usize {
            eprintln!(
                "Waiting for workers: {} of {} connected",
                self.ready_workers(),
                self.setup.expect_workers
            );
            self.pending = Some((users, rate));
            return;
        }
        self.begin(users, rate);
        self.step().await;
    }

    fn begin(&mut self, users: u64, rate: f64) {
        self.ramp = Some(Ramp::new(self.dispatched, users, rate));
        let host = crate::values::redacted_host(&self.setup.host);
        self.status.send_modify(|s| {
            s.state = RunnerState::Spawning;
            s.target_users = users;
            s.spawn_rate = rate;
            s.host = host;
        });
    }

    /// Moves along the ramp; sends new counts when the wanted number changed.
    async fn step(&mut self) {
        if let Some((users, rate)) = self.pending {
            if self.ready_workers() < self.setup.expect_workers as usize {
                return;
            }
            self.pending = None;
            self.begin(users, rate);
        }
        let Some(ramp) = self.ramp else { return };
        let wanted = ramp.wanted(Instant::now());
        if wanted != self.dispatched {
            self.dispatch(wanted).await;
        }
        if wanted == ramp.target() {
            self.ramp = None;
            self.status.send_modify(|s| s.state = RunnerState::Running);
        }
    }

    /// Spreads `users` over the live workers exactly as Locust's dispatcher does: the
    /// users in dispatch order, dealt to the workers in Locust's order.
    async fn dispatch(&mut self, users: u64) {
        self.dispatched = users;
        let ids = crate::runner::locust_worker_order(
            self.workers
                .iter()
                .filter(|(_, w)| w.info.state != WorkerState::Missing)
                .map(|(id, _)| id.clone()),
        );
        if ids.is_empty() {
            return;
        }
        let plan = self
            .setup
            .dispatch
            .counts_by_worker(users, self.setup.types.len(), ids.len());
        for (id, counts) in ids.iter().zip(plan) {
            let changed = self.workers.get(id).is_some_and(|w| w.assigned != counts);
            if changed {
                if let Some(w) = self.workers.get_mut(id) {
                    w.assigned = counts.clone();
                    for (peak, n) in w.peak_assigned.iter_mut().zip(&counts) {
                        *peak = (*peak).max(*n);
                    }
                }
                let classes = self
                    .setup
                    .types
                    .iter()
                    .zip(&counts)
                    .map(|(t, n)| (t.name.clone(), *n))
                    .collect();
                let spawn = Spawn {
                    timestamp: unix_now(),
                    user_classes_count: Classes(classes),
                    // Locust workers join host + path: `http://h:1/` + `/x` would be `//x`.
                    host: Some(self.setup.host.as_str().trim_end_matches('/').to_owned()),
                    stop_timeout: Some(self.setup.stop_timeout.as_secs_f64()),
                    parsed_options: self.forwarded_options(),
                };
                self.send_to(id, Payload::Spawn(Box::new(spawn))).await;
            }
        }
    }

    /// Sends to the connection admitted as worker `id`, never to another one that
    /// announces the same identity.
    async fn send_to(&mut self, id: &str, payload: Payload) {
        let Some(conn) = self.workers.get(id).map(|w| w.conn) else {
            return;
        };
        let m = ZmqMessage::from(payload.encode(id));
        if let Err(e) = self.send.send_to(conn, m).await {
            tracing::warn!(
                "cannot send {} to worker {}: {e}",
                payload.kind(),
                printable(id)
            );
        }
    }

    /// A frame decoded, if its connection is the one admitted under its identity. From any
    /// other connection (not admitted, forgotten, or, under `--worker-token`, borrowing an
    /// admitted worker's identity), only a `client_ready` is decoded; the rest is dropped
    /// unread.
    fn accept(&mut self, frame: &Frame) -> Option<Message> {
        let holder = self.workers.get(&frame.id).map(|w| w.conn);
        let mut admitted = holder == Some(frame.conn);
        // Without a token an identity is all a worker has, and anyone may join: a new
        // connection under an admitted identity speaks for it, as with Locust's master (a
        // Locust worker's libzmq reconnects on its own and sends no new client_ready).
        if holder.is_some() && !admitted && self.setup.admission.token.is_none() {
            admitted = self.send.handover(frame.conn);
            if let (true, Some(w)) = (admitted, self.workers.get_mut(&frame.id)) {
                w.conn = frame.conn;
            }
        }
        let id = || printable(&frame.id);
        if !admitted && peek_kind(&frame.payload) != Some("client_ready") {
            self.strangers.warn(|| {
                format!(
                    "ignoring a message from {}, a connection not admitted as a worker",
                    id()
                )
            });
            return None;
        }
        match Message::decode(&frame.payload) {
            Ok(msg) => Some(msg),
            Err(e) if admitted => {
                tracing::warn!("dropped a frame from {}: {e}", id());
                None
            }
            Err(e) => {
                self.strangers
                    .warn(|| format!("dropped a frame from {}: {e}", id()));
                None
            }
        }
    }

    /// A decoded message from the admitted connection of worker `id`, or a `client_ready`.
    async fn on_message(&mut self, conn: ConnectionId, id: String, msg: Message) {
        let Some(payload) = self.typed(&id, msg) else {
            return;
        };
        match payload {
            Payload::ClientReady(ready) => self.admit(conn, id, &ready).await,
            Payload::Heartbeat(beat) => {
                let came_back = self
                    .workers
                    .get(&id)
                    .is_some_and(|w| w.info.state == WorkerState::Missing);
                if let Some(w) = self.workers.get_mut(&id) {
                    w.liveness = LIVENESS;
                    w.missing_since = None;
                    let beat = beat.unwrap_or_else(|| Beat {
                        state: String::new(),
                        current_cpu_usage: 0.0,
                        current_memory_usage: 0,
                        stampede_generator: None,
                    });
                    if !beat.state.is_empty() {
                        w.info.state = WorkerState::from_heartbeat(&beat.state);
                    }
                    w.info.cpu_usage = Some(beat.current_cpu_usage)
                        .filter(|c| c.is_finite())
                        .map_or(0.0, |c| c.clamp(0.0, 100_000.0));
                    w.info.memory_usage = beat.current_memory_usage;
                    if let Some(g) = beat.stampede_generator.and_then(|g| g.report()) {
                        w.info.lag_ms = Some(g.lag_p99_ms);
                        w.info.saturated = g.saturated_now;
                        self.setup.stats.note_generator(g);
                    }
                }
                if came_back {
                    self.rebalance().await;
                }
            }
            Payload::Spawning => self.set_state(&id, WorkerState::Spawning),
            Payload::SpawningComplete(classes) => {
                self.set_state(&id, WorkerState::Running);
                self.note_users(&id, &classes.0);
            }
            Payload::Stats(report) => {
                self.on_stats(&id, &report);
                self.tell_front_of_report(&id, &report);
            }
            Payload::Exception(ExceptionReport { msg, traceback }) => {
                self.setup.stats.recorder().record(Event::Exception {
                    message: msg,
                    location: traceback,
                });
            }
            Payload::ClientStopped => self.set_state(&id, WorkerState::Stopped),
            Payload::Quit => {
                eprintln!("Worker {id} quit");
                self.workers.remove(&id);
                self.rebalance().await;
            }
            Payload::Logs => {}
            Payload::Custom { kind, data } if self.setup.relay.is_some() => {
                if let Some(relay) = &self.setup.relay {
                    relay.deliver(crate::relay::Inbound::Message {
                        kind,
                        data,
                        from: id.clone(),
                    });
                }
            }
            other => tracing::warn!(
                "ignoring message '{}' from worker {}",
                printable(other.kind()),
                printable(&id)
            ),
        }
        self.publish();
    }

    /// A message's data by its type. A report that does not decode is a rejected report,
    /// counted as one that fails validation is.
    fn typed(&mut self, id: &str, msg: Message) -> Option<Payload> {
        let is_stats = msg.kind == "stats";
        match Payload::from_message(msg) {
            Ok(p) => Some(p),
            Err(e) if is_stats => {
                self.reject_report(id, &e.why);
                None
            }
            Err(e) => {
                tracing::warn!("dropped a message from worker {}: {e}", printable(id));
                None
            }
        }
    }

    fn set_state(&mut self, id: &str, state: WorkerState) {
        if let Some(w) = self.workers.get_mut(id) {
            w.info.state = state;
        }
    }

    /// Spreads the current users again after a worker came or went.
    async fn rebalance(&mut self) {
        if matches!(
            self.status.borrow().state,
            RunnerState::Spawning | RunnerState::Running
        ) {
            let users = self.dispatched;
            self.dispatch(users).await;
        }
    }

    async fn stop(&mut self, done: oneshot::Sender<()>) {
        self.ramp = None;
        self.pending = None;
        self.dispatched = 0;
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        for id in &ids {
            self.send_to(id, Payload::Stop).await;
            if let Some(w) = self.workers.get_mut(id) {
                w.assigned.iter_mut().for_each(|a| *a = 0);
            }
        }
        self.status.send_modify(|s| s.state = RunnerState::Stopping);
        let deadline = Instant::now() + self.setup.stop_timeout + Duration::from_secs(5);
        match &mut self.stopping {
            Some((_, waiting)) => waiting.push(done),
            None => self.stopping = Some((deadline, vec![done])),
        }
        self.check_stopped();
    }

    /// Finishes a stop once every worker confirmed (and reported), or at the deadline.
    fn check_stopped(&mut self) {
        let Some((deadline, _)) = &self.stopping else {
            return;
        };
        let all_done = self.workers.values().all(|w| {
            matches!(
                w.info.state,
                WorkerState::Stopped | WorkerState::Ready | WorkerState::Missing
            )
        });
        if all_done || Instant::now() >= *deadline {
            let (_, waiting) = self.stopping.take().expect("checked above");
            self.status.send_modify(|s| s.state = RunnerState::Stopped);
            for d in waiting {
                let _ = d.send(());
            }
        }
    }

    /// Tells every worker to quit (without a `stop` first, as Locust's master ends a run: a
    /// Locust worker sleeps through its stop timeout after `stop` and reports only on
    /// `quit`), and waits until each live worker's final report has arrived, or the stop
    /// timeout plus 3 s. Workers say `quit` after their last report.
    async fn quit(&mut self, frames: &mut mpsc::Receiver<Frame>) {
        self.ramp = None;
        self.pending = None;
        let mut waiting: std::collections::BTreeSet<String> = self
            .workers
            .iter()
            .filter(|(_, w)| w.info.state != WorkerState::Missing)
            .map(|(id, _)| id.clone())
            .collect();
        for id in waiting.clone() {
            self.send_to(&id, Payload::Quit).await;
        }
        let deadline = Instant::now() + self.setup.stop_timeout + Duration::from_secs(3);
        while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, frames.recv()).await {
            let Some(msg) = self.accept(&frame) else {
                continue;
            };
            let id = frame.id;
            match self.typed(&id, msg) {
                Some(Payload::Stats(report)) => {
                    self.on_stats(&id, &report);
                    self.tell_front_of_report(&id, &report);
                }
                Some(Payload::Quit) => {
                    waiting.remove(&id);
                }
                _ => {}
            }
            if waiting.is_empty() {
                break;
            }
        }
        self.status.send_modify(|s| s.state = RunnerState::Stopped);
    }

    fn publish(&mut self) {
        let list: Vec<WorkerInfo> = self.workers.values().map(|w| w.info.clone()).collect();
        self.tell_front_of_workers(&list);
        let _ = self.workers_view.send(list);
    }
}
