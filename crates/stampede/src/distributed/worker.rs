//! A worker: joins a master (Stampede's or Locust's) over ZeroMQ, runs the users the master
//! asks for, and reports statistics every 3 s as deltas.
//!
//! The pure-Rust DEALER does not reconnect by itself, so the worker watches the master's
//! heartbeats: after [`MASTER_SILENCE`] without a word it rebuilds the socket with the same
//! identity and announces itself again; after [`GIVE_UP`] it quits cleanly.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use super::message::WorkerState;
use super::payload::{Ack, Beat, Classes, ExceptionReport, Generator, Payload, Ready, Spawn};
use super::wire;
use super::{node_id, ProcessMeter};
use crate::outcome::{finish_run, Outcome, RunError};
use crate::plan::Plan;
use crate::stats::{unix_now, StatsState};
use crate::swarm::{Swarm, SwarmConfig};
use crate::values::parse_host;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
const STATS_EVERY: Duration = Duration::from_secs(3);
/// Without a message from the master for this long, the connection is rebuilt.
const MASTER_SILENCE: Duration = Duration::from_secs(5);
/// Without a message from the master for this long, the worker quits (as Locust's does).
const GIVE_UP: Duration = Duration::from_secs(60);
/// At most this many `exception` messages per report, so a failing task cannot flood.
const MAX_EXCEPTION_MESSAGES: u64 = 100;

/// What a worker's command line says, read once at the top (`config`).
#[derive(Clone)]
pub struct WorkerSettings {
    /// `tcp://MASTER_HOST:MASTER_PORT`.
    pub endpoint: String,
    /// `--worker-token`, presented in `client_ready`.
    pub token: Option<String>,
    /// `--host`: used when the master names none.
    pub host: Option<url::Url>,
    /// The plan's own options on this worker's command line.
    pub plan_args: Vec<String>,
    /// Every swarm's settings (network, caps); the master names the host.
    pub swarm: SwarmConfig,
    /// The reports at the end.
    pub report: crate::outcome::ReportSettings,
}

/// Builds the plan anew from forwarded plan options (`--think-scale=0`).
pub(crate) type Rebuild = Box<dyn Fn(&[String]) -> Result<Plan, String> + Send + Sync>;

struct Connection {
    send: zeromq::DealerSendHalf,
    /// Each message with the node id it was addressed as.
    inbox: mpsc::Receiver<Result<(Payload, String), String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn connect(endpoint: &str, node: &str) -> Result<Connection, String> {
    let mut options = SocketOptions::default();
    options.peer_identity(
        node.as_bytes()
            .to_vec()
            .try_into()
            .map_err(|e| format!("bad node id: {e:?}"))?,
    );
    options.connect_timeout(Duration::from_secs(2));
    let mut socket = DealerSocket::with_options(options);
    socket
        .connect(endpoint)
        .await
        .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
    let (send, mut recv) = socket.split();
    let (tx, inbox) = mpsc::channel(256);
    let reader = tokio::spawn(async move {
        loop {
            let item = match recv.recv().await {
                Ok(frames) => match frames.into_vec().last() {
                    Some(frame) => Payload::decode(frame).map_err(|e| e.to_string()),
                    None => Err("empty message".to_owned()),
                },
                Err(e) => {
                    let _ = tx.send(Err(format!("connection lost: {e}"))).await;
                    return;
                }
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    Ok(Connection {
        send,
        inbox,
        reader,
    })
}

struct Worker<'a> {
    opts: &'a WorkerSettings,
    /// The plan, rebuilt when the master forwards other plan options.
    plan: Plan,
    rebuild: Option<&'a Rebuild>,
    plan_args: Vec<String>,
    node: String,
    endpoint: String,
    conn: Option<Connection>,
    swarm: Option<Swarm>,
    /// Everything this worker counted, for its own summary and exit code.
    total: StatsState,
    state: WorkerState,
    last_spawn: f64,
    master_speaks_hdr: bool,
    heard_from_master: Instant,
    meter: ProcessMeter,
    host: Option<url::Url>,
    peak_users: u64,
    /// Between a test's first spawn and its stop: the plan's test hooks run at both ends,
    /// on every worker, as Locust fires `test_start` and `test_stop` on each node.
    in_test: bool,
    telemetry: &'a crate::telemetry::Telemetry,
}

pub(crate) async fn run_worker(
    opts: &WorkerSettings,
    plan: &Plan,
    rebuild: Option<&Rebuild>,
    shutdown: CancellationToken,
    telemetry: &crate::telemetry::Telemetry,
) -> Result<Outcome, RunError> {
    let mut w = Worker {
        telemetry,
        opts,
        plan: plan.clone(),
        rebuild,
        plan_args: opts.plan_args.clone(),
        node: plan
            .relay
            .as_ref()
            .and_then(|r| r.node_id())
            .unwrap_or_else(node_id),
        endpoint: opts.endpoint.clone(),
        conn: None,
        swarm: None,
        total: StatsState::new(unix_now(), false),
        state: WorkerState::Ready,
        last_spawn: f64::MIN,
        master_speaks_hdr: false,
        heard_from_master: Instant::now(),
        meter: ProcessMeter::new(),
        host: opts.host.clone(),
        peak_users: 0,
        in_test: false,
    };
    eprintln!(
        "Stampede worker {} joining the master at {}",
        w.node, w.endpoint
    );
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    let mut report = tokio::time::interval_at(Instant::now() + STATS_EVERY, STATS_EVERY);
    let mut outgoing = plan.relay.as_ref().and_then(|r| r.take_outgoing());
    loop {
        if w.conn.is_none() {
            if w.heard_from_master.elapsed() > GIVE_UP {
                eprintln!(
                    "No word from the master in {} s: quitting",
                    GIVE_UP.as_secs()
                );
                break;
            }
            match connect(&w.endpoint, &w.node).await {
                Ok(c) => {
                    w.conn = Some(c);
                    w.send(Payload::ClientReady(ready_data(w.opts))).await;
                }
                Err(e) => {
                    tracing::warn!("{e}; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
            }
        }
        let inbox = &mut w.conn.as_mut().expect("connected above").inbox;
        tokio::select! {
            item = inbox.recv() => match item {
                Some(Ok((msg, node))) => {
                    w.heard_from_master = Instant::now();
                    if w.handle(msg, node).await {
                        break;
                    }
                }
                Some(Err(e)) => tracing::warn!("dropped a frame from the master: {e}"),
                None => w.conn = None,
            },
            _ = heartbeat.tick() => {
                if w.heard_from_master.elapsed() > MASTER_SILENCE {
                    tracing::warn!("the master is silent; rebuilding the connection");
                    w.conn = None;
                    continue;
                }
                let (cpu, mem) = w.meter.sample();
                let generator = match &w.swarm {
                    Some(s) => Some(Generator::of(&s.stats.generator().await)),
                    None => None,
                };
                let beat = Beat {
                    state: w.state.as_str().to_owned(),
                    current_cpu_usage: cpu,
                    current_memory_usage: mem,
                    stampede_generator: generator,
                };
                w.send(Payload::Heartbeat(Some(beat))).await;
            }
            _ = report.tick() => w.report().await,
            Some(out) = crate::relay::next(&mut outgoing) => {
                w.send(Payload::Custom { kind: out.kind, data: out.data }).await;
            }
            _ = shutdown.cancelled() => {
                w.stop_users().await;
                w.report().await;
                w.send(Payload::Quit).await;
                break;
            }
        }
    }
    w.stop_users().await;
    let host = w
        .host
        .clone()
        .unwrap_or_else(|| "http://unknown/".parse().expect("a valid URL"));
    let peak = match &w.swarm {
        Some(s) => s.users_by_type(w.peak_users),
        None => vec![0; w.plan.user_types().len()],
    };
    let plan = w.plan.clone();
    finish_run(&opts.report, &plan, w.total, &host, &peak)
}

impl Worker<'_> {
    async fn send(&mut self, payload: Payload) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let frame = payload.encode(&self.node);
        if let Err(e) = conn.send.send(ZmqMessage::from(frame)).await {
            tracing::warn!("cannot send {} to the master: {e}", payload.kind());
            self.conn = None;
        }
    }

    /// Handles one message; true when the worker should quit.
    async fn handle(&mut self, msg: Payload, node: String) -> bool {
        match msg {
            Payload::Ack(Ack { index, stampede }) => {
                self.master_speaks_hdr = stampede.unwrap_or(0) >= 1;
                eprintln!("Joined the master (worker index {index})");
                if let Some(relay) = &self.plan.relay {
                    relay.deliver(crate::relay::Inbound::Joined { index });
                }
            }
            Payload::Spawn(spawn) => self.spawn(&spawn).await,
            Payload::Stop => {
                self.stop_users().await;
                self.report().await;
                self.send(Payload::ClientStopped).await;
                self.state = WorkerState::Ready;
                self.send(Payload::ClientReady(ready_data(self.opts))).await;
            }
            Payload::Quit => {
                // A Locust master waits only 0.5 s for the final report after `quit`, and
                // sends no `stop` first: report what is counted now, then stop, then the tail.
                eprintln!("The master says quit");
                self.report().await;
                self.stop_users().await;
                self.report().await;
                // Like a Locust worker leaving: the master knows the last report is in.
                self.send(Payload::Quit).await;
                return true;
            }
            Payload::Reconnect => self.conn = None,
            Payload::Custom { kind, data } if self.plan.relay.is_some() => {
                if let Some(relay) = &self.plan.relay {
                    relay.deliver(crate::relay::Inbound::Message {
                        kind,
                        data,
                        from: node,
                    });
                }
            }
            Payload::Heartbeat(_) | Payload::SpawningComplete(_) | Payload::UpdateUserClass => {}
            other => tracing::warn!("ignoring message '{}' from the master", other.kind()),
        }
        false
    }

    async fn spawn(&mut self, data: &Spawn) {
        self.send(Payload::Spawning).await;
        let ts = data.timestamp;
        if ts <= self.last_spawn {
            return; // a stale spawn message
        }
        self.last_spawn = ts;
        if let Some(relay) = &self.plan.relay {
            let options = data
                .parsed_options
                .0
                .iter()
                .map(|(k, v)| (rmpv::Value::from(k.as_str()), v.clone()))
                .collect();
            relay.deliver(crate::relay::Inbound::MasterOptions {
                options: rmpv::Value::Map(options),
                host: data.host.clone(),
            });
        }
        let host = data
            .host
            .as_deref()
            .and_then(|h| parse_host(h).ok())
            .or_else(|| self.opts.host.clone());
        let Some(host) = host else {
            tracing::error!("the master sent no usable host and this worker has no --host");
            return;
        };
        self.follow_plan_args(data);
        let types = self.plan.user_types();
        let mut counts = vec![0u64; types.len()];
        for (name, n) in &data.user_classes_count.0 {
            match types.iter().position(|t| t.name == *name) {
                Some(i) => counts[i] = *n,
                None if *n > 0 => tracing::error!(
                    "the master asks for user class '{name}', which this plan does not have"
                ),
                None => {}
            }
        }
        if (self.swarm.is_none()
            || !matches!(self.state, WorkerState::Spawning | WorkerState::Running))
            && !self.start_swarm(data, &host)
        {
            return;
        }
        self.host = Some(host.clone());
        if !self.in_test {
            self.in_test = true;
            crate::lifecycle::test_starts(&self.plan).await;
        }
        self.state = WorkerState::Spawning;
        let swarm = self.swarm.as_ref().expect("made above");
        swarm.runner.set_counts(counts.clone(), Some(host));
        let total: u64 = counts.iter().sum();
        self.peak_users = self.peak_users.max(total);
        let classes = Classes(
            types
                .iter()
                .zip(&counts)
                .map(|(t, n)| (t.name.clone(), *n))
                .collect(),
        );
        self.state = WorkerState::Running;
        self.send(Payload::SpawningComplete(classes)).await;
    }

    /// Rebuilds the plan from the plan options a Stampede master forwards, between tests.
    fn follow_plan_args(&mut self, data: &Spawn) {
        let forwarded = data.parsed_options.plan_args();
        if let (Some(args), Some(rebuild)) = (forwarded, self.rebuild) {
            if args != self.plan_args
                && !matches!(self.state, WorkerState::Spawning | WorkerState::Running)
            {
                match rebuild(&args) {
                    Ok(plan) => {
                        eprintln!("Using the master's plan options: {}", args.join(" "));
                        self.plan = plan;
                        self.plan_args = args;
                        self.swarm = None;
                    }
                    Err(e) => {
                        tracing::error!("the master's plan options do not fit this plan: {e}");
                    }
                }
            }
        }
    }

    /// A new swarm for the master's test; false (said in the log) when it cannot start.
    fn start_swarm(&mut self, data: &Spawn, host: &url::Url) -> bool {
        let stop_timeout = data.stop_timeout.filter(|t| t.is_finite()).unwrap_or(0.0);
        // The master decides which users run here; the rest is this worker's own
        // command line (network settings, caps), as with a Locust worker.
        let mut cfg = self.opts.swarm.clone();
        cfg.host = host.clone();
        cfg.stop_timeout = Duration::from_secs_f64(stop_timeout.max(0.0));
        cfg.user_types = Vec::new();
        cfg.verbose = false;
        cfg.full_history = false;
        cfg.node = self.node.clone();
        cfg.tracing = self.telemetry.tracing();
        // A Stampede master's --wait-scale; under a Locust master, this worker's own.
        if let Some(scale) = data.parsed_options.wait_scale() {
            cfg.wait_scale = scale;
        }
        match self.plan.swarm(cfg) {
            Ok(s) => {
                self.telemetry.watch(s.stats.clone(), s.runner.clone());
                self.swarm = Some(s);
                true
            }
            Err(e) => {
                tracing::error!("cannot start users: {e}");
                false
            }
        }
    }

    async fn stop_users(&mut self) {
        if let Some(s) = &self.swarm {
            s.runner.stop().await;
        }
        if std::mem::take(&mut self.in_test) {
            crate::lifecycle::test_stops(&self.plan).await;
        }
        if self.state != WorkerState::Ready {
            self.state = WorkerState::Stopped;
        }
    }

    /// Sends what was counted since the last report, and keeps it for the final summary.
    async fn report(&mut self) {
        let Some(swarm) = &self.swarm else { return };
        let delta = swarm.stats.take().await;
        let users = swarm.stats.users.by_type();
        let mut payload = wire::stats_payload(&delta, &users, self.master_speaks_hdr);
        if let Some(relay) = &self.plan.relay {
            payload.add_extra(relay.report_extra().await);
        }
        for e in delta.exceptions.values() {
            for _ in 0..e.count.min(MAX_EXCEPTION_MESSAGES) {
                self.send(Payload::Exception(ExceptionReport {
                    msg: e.msg.clone(),
                    traceback: e.traceback.clone(),
                }))
                .await;
            }
        }
        self.total.merge(&delta);
        self.send(Payload::Stats(Box::new(payload))).await;
    }
}

/// What `client_ready` carries: -1, as a Locust development build sends (a Locust master
/// accepts it without a version warning); with `--worker-token`, a map with the token and
/// this version, which only a Stampede master reads.
fn ready_data(opts: &WorkerSettings) -> Ready {
    match &opts.token {
        None => Ready::Locust((-1).into()),
        Some(token) => Ready::Stampede {
            version: concat!("stampede/", env!("CARGO_PKG_VERSION")).into(),
            token: Some(token.clone()),
        },
    }
}
