//! Hostile peers and a real worker around a real master, shared by `hostile.rs` and
//! `worker_identity.rs`: fake workers that can say anything under any identity, a
//! Locust-shaped stats report to forge, and bounded waits on states.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use rmpv::Value;
use stampede::advanced::config::NoOptions;
use stampede::advanced::distributed::{Admission, Message, WorkerInfo};
use stampede::advanced::swarm::{MasterConfig, Swarm, SwarmConfig};
use stampede::advanced::try_parse_args;
use stampede::prelude::*;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use crate::common;

struct Walker(Client);
impl Walker {
    async fn walk(&mut self) -> TaskResult {
        self.0.get("/").name("home").send().await?;
        Ok(())
    }
}

pub fn plan() -> Plan {
    Plan::new().user_type(
        UserType::new("Walker", |ctx| Walker(ctx.client()))
            .wait_time(constant(0.05))
            .task(task!(Walker::walk)),
    )
}

/// A fake worker: a dealer with identity `id` that can say anything.
pub struct Fake {
    pub id: String,
    socket: DealerSocket,
}

impl Fake {
    pub async fn connect(port: u16, id: &str) -> Self {
        Self::try_connect(port, id).await.unwrap()
    }

    pub async fn try_connect(port: u16, id: &str) -> Result<Self, zeromq::ZmqError> {
        let mut options = SocketOptions::default();
        options.peer_identity(id.as_bytes().to_vec().try_into().unwrap());
        let mut socket = DealerSocket::with_options(options);
        socket.connect(&format!("tcp://127.0.0.1:{port}")).await?;
        Ok(Self {
            id: id.to_owned(),
            socket,
        })
    }

    /// A fake that said `client_ready` as Locust 2.47 does and was acked.
    pub async fn admitted(port: u16, id: &str) -> Self {
        let mut f = Self::connect(port, id).await;
        f.say("client_ready", Value::from("2.47.0")).await;
        f.expect("ack", Duration::from_secs(5)).await.unwrap();
        f
    }

    pub async fn say(&mut self, kind: &str, data: Value) {
        let frame = Message::new(kind, data, &self.id).encode();
        let _ = self.socket.send(ZmqMessage::from(frame)).await;
    }

    pub async fn beat(&mut self) {
        let beat = Value::Map(vec![
            ("state".into(), "running".into()),
            ("current_cpu_usage".into(), Value::F64(1.0)),
            ("current_memory_usage".into(), Value::from(1)),
        ]);
        self.say("heartbeat", beat).await;
    }

    /// The next message of `kind` within `limit`, if any.
    pub async fn expect(&mut self, kind: &str, limit: Duration) -> Option<Message> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let frames = tokio::time::timeout_at(until, self.socket.recv())
                .await
                .ok()?
                .ok()?;
            let msg = Message::decode(frames.into_vec().last()?).ok()?;
            if msg.kind.as_str() == kind {
                return Some(msg);
            }
        }
    }

    /// The kinds of every message it received, read until `quiet` passes without one (at
    /// most 1,000 messages).
    pub async fn heard(&mut self, quiet: Duration) -> Vec<String> {
        let mut kinds = Vec::new();
        while kinds.len() < 1000 {
            let Ok(Ok(frames)) = tokio::time::timeout(quiet, self.socket.recv()).await else {
                break;
            };
            let kind = frames
                .into_vec()
                .last()
                .and_then(|f| Message::decode(f).ok())
                .map_or_else(|| "(undecodable)".to_owned(), |m| m.kind.to_string());
            kinds.push(kind);
        }
        kinds
    }
}

/// A master on a probed port for `plan()`, expecting one worker, forgetting silent ones
/// after 2 s, giving a stop 1 s.
pub async fn master(admission: Admission, srv: &common::TestServer) -> (Swarm, u16) {
    let port = common::probed_port();
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: 1,
        admission,
        forget_after: Duration::from_secs(2),
        ..MasterConfig::default()
    };
    let mut cfg = SwarmConfig::new(srv.url());
    cfg.stop_timeout = Duration::from_secs(1);
    (plan().master_swarm(cfg, master).await.unwrap(), port)
}

pub fn workers(s: &Swarm) -> Vec<WorkerInfo> {
    s.workers.as_ref().unwrap().borrow().clone()
}

/// Waits until `ok`, polling every 50 ms; fails the test after 20 s.
pub async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real Stampede worker, in this process, with `extra` flags.
pub fn real_worker(
    port: u16,
    extra: &[&str],
) -> (
    stampede::CancellationToken,
    tokio::task::JoinHandle<stampede::advanced::Outcome>,
) {
    let mut argv = vec!["plan", "--worker", "--only-summary"];
    let port = port.to_string();
    argv.extend(["--master-port", &port]);
    argv.extend(extra);
    let cli = try_parse_args::<NoOptions>(argv.iter().map(|s| s.to_string())).unwrap();
    let token = stampede::CancellationToken::new();
    let stop = token.clone();
    let run = tokio::spawn(async move {
        stampede::advanced::run_with_shutdown(&cli, &plan(), stop)
            .await
            .unwrap()
    });
    (token, run)
}

/// A Locust-shaped stats report: `n` requests of `ms` each, `fails` failed.
pub fn report(n: u64, fails: u64, ms: u64, start: f64, users: u64) -> Value {
    let now = stampede::advanced::stats::unix_now();
    let entry = |name: Value| {
        Value::Map(vec![
            ("name".into(), name),
            ("method".into(), "GET".into()),
            ("last_request_timestamp".into(), Value::F64(now)),
            ("start_time".into(), Value::F64(start)),
            ("num_requests".into(), Value::from(n)),
            ("num_none_requests".into(), Value::from(0)),
            ("num_failures".into(), Value::from(fails)),
            ("total_response_time".into(), Value::F64((n * ms) as f64)),
            ("max_response_time".into(), Value::F64(ms as f64)),
            ("min_response_time".into(), Value::F64(ms as f64)),
            ("total_content_length".into(), Value::from(n * 10)),
            (
                "response_times".into(),
                Value::Map(vec![(Value::from(ms), Value::from(n))]),
            ),
            (
                "num_reqs_per_sec".into(),
                Value::Map(vec![(Value::from(now as u64), Value::from(n))]),
            ),
            ("num_fail_per_sec".into(), Value::Map(vec![])),
        ])
    };
    Value::Map(vec![
        ("stats".into(), Value::Array(vec![entry("home".into())])),
        ("stats_total".into(), entry(Value::Nil)),
        ("errors".into(), Value::Map(vec![])),
        (
            "user_classes_count".into(),
            Value::Map(vec![("Walker".into(), Value::from(users))]),
        ),
        ("user_count".into(), Value::from(users)),
    ])
}

/// Sets `key` (a key of the first entry) in a report to `v`.
pub fn with(mut r: Value, key: &str, v: Value) -> Value {
    if let Value::Map(top) = &mut r {
        if let Some((_, Value::Array(stats))) =
            top.iter_mut().find(|(k, _)| k.as_str() == Some("stats"))
        {
            if let Value::Map(e) = &mut stats[0] {
                for (k, x) in e.iter_mut() {
                    if k.as_str() == Some(key) {
                        *x = v.clone();
                    }
                }
            }
        }
    }
    r
}
