//! A Stampede master deals users to its workers exactly as a real Locust master does.
//! Three fake workers (two on one host, one on another) join a `locust --master` and then
//! a Stampede master with the same user types; each worker's final `user_classes_count`
//! must be the same under both, for several user counts. A Locust worker under a
//! Stampede master therefore runs the users a Locust master would have given it.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stampede::advanced::distributed::Message;
use stampede::advanced::swarm::{MasterConfig, SwarmConfig};
use stampede::prelude::*;
use tokio::sync::mpsc;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

/// Worker ids as Locust forms them (`host_suffix`); the master orders by host index.
const WORKERS: [&str; 3] = ["alpha_1", "alpha_2", "beta_1"];

type Counts = BTreeMap<String, u64>;

/// A fake worker: says it is ready, beats, and forwards every spawn message's counts.
async fn fake_worker(port: u16, id: &'static str, spawns: mpsc::Sender<(&'static str, Counts)>) {
    let mut options = SocketOptions::default();
    options.peer_identity(id.as_bytes().to_vec().try_into().unwrap());
    let mut socket = DealerSocket::with_options(options);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    // The master may still be starting: retry the connection for a while.
    for _ in 0..100 {
        if socket.connect(&endpoint).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let frame =
        |kind: &str, data: rmpv::Value| ZmqMessage::from(Message::new(kind, data, id).encode());
    socket
        .send(frame("client_ready", rmpv::Value::from(-1)))
        .await
        .unwrap();
    let mut beat = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            frames = socket.recv() => {
                let Ok(frames) = frames else { return };
                let Some(raw) = frames.into_vec().pop() else { continue };
                let Ok(msg) = Message::decode(&raw) else { continue };
                if msg.kind.as_str() != "spawn" {
                    continue;
                }
                let counts = msg.data.as_map().and_then(|m| {
                    m.iter().find(|(k, _)| k.as_str() == Some("user_classes_count"))
                }).and_then(|(_, v)| v.as_map()).map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.as_u64().unwrap()))
                        .collect::<Counts>()
                }).expect("a spawn message carries user_classes_count");
                if spawns.send((id, counts)).await.is_err() {
                    return;
                }
            }
            _ = beat.tick() => {
                let data = rmpv::Value::Map(vec![
                    ("state".into(), "ready".into()),
                    ("current_cpu_usage".into(), rmpv::Value::F64(1.0)),
                    ("current_memory_usage".into(), rmpv::Value::from(1_000_000)),
                ]);
                if socket.send(frame("heartbeat", data)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Starts the three fake workers and returns each one's counts once `users` are dealt.
async fn dealt(
    port: u16,
    users: u64,
    start: impl std::future::Future<Output = ()>,
) -> BTreeMap<&'static str, Counts> {
    let (tx, mut rx) = mpsc::channel(64);
    let workers: Vec<_> = WORKERS
        .iter()
        .map(|id| tokio::spawn(fake_worker(port, id, tx.clone())))
        .collect();
    start.await;
    let mut latest: BTreeMap<&'static str, Counts> = BTreeMap::new();
    let total = |l: &BTreeMap<&str, Counts>| l.values().flat_map(|c| c.values()).sum::<u64>();
    while total(&latest) != users {
        let (id, counts) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("the master deals every user within 30 s")
            .unwrap();
        latest.insert(id, counts);
    }
    // Zeros are left out: Locust sends them, a Stampede master skips unchanged workers.
    for counts in latest.values_mut() {
        counts.retain(|_, n| *n > 0);
    }
    latest.retain(|_, c| !c.is_empty());
    for w in workers {
        w.abort();
    }
    latest
}

const LOCUSTFILE: &str = "from locust import HttpUser, task, constant
class Visitor(HttpUser):
    weight = 4
    wait_time = constant(1)
    @task
    def t(self): pass
class Customer(HttpUser):
    weight = 1
    wait_time = constant(1)
    @task
    def t(self): pass
class Admin(HttpUser):
    fixed_count = 1
    wait_time = constant(1)
    @task
    def t(self): pass
";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn under_locust(users: u64) -> BTreeMap<&'static str, Counts> {
    let locust = common::locust();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("locustfile.py"), LOCUSTFILE).unwrap();
    let port = common::probed_port();
    let _master = Killed(
        Command::new(&locust)
            .current_dir(dir.path())
            .args([
                "-f",
                "locustfile.py",
                "--master",
                "--headless",
                "-H",
                "http://127.0.0.1:9",
            ])
            .args(["-u", &users.to_string(), "-r", "1000", "-t", "60s"])
            .args(["--expect-workers", "3", "--master-bind-host", "127.0.0.1"])
            .args(["--master-bind-port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    dealt(port, users, async {}).await
}

async fn under_stampede(users: u64) -> BTreeMap<&'static str, Counts> {
    struct U;
    async fn t(_: &mut U) -> TaskResult {
        Ok(())
    }
    let plan = Plan::new()
        .user_type(
            UserType::new("Visitor", |_| U)
                .weight(4)
                .task(Task::new("t", t)),
        )
        .user_type(
            UserType::new("Customer", |_| U)
                .weight(1)
                .task(Task::new("t", t)),
        )
        .user_type(
            UserType::new("Admin", |_| U)
                .fixed_count(1)
                .task(Task::new("t", t)),
        );
    let port = common::probed_port();
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: 3,
        ..MasterConfig::default()
    };
    let swarm = plan
        .master_swarm(
            SwarmConfig::new("http://127.0.0.1:9".parse().unwrap()),
            master,
        )
        .await
        .unwrap();
    let runner = swarm.runner.clone();
    let counts = dealt(
        port,
        users,
        async move { runner.start(users, 1000.0, None) },
    )
    .await;
    swarm.runner.quit().await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_master_deals_users_as_a_locust_master_does() {
    for users in [1, 2, 7, 23] {
        let locust = under_locust(users).await;
        let ours = under_stampede(users).await;
        assert_eq!(ours, locust, "{users} users over {WORKERS:?}");
    }
}
