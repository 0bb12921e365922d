//! Distributed mode against real Locust 2.x (from PyPI, installed by scripts/test): a
//! Stampede worker joins `locust --master`, and its requests show in the master's CSVs and
//! exit code. A fake master checks that garbage frames and a master restart are survived.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stampede::advanced::config::NoOptions;
use stampede::advanced::distributed::Message;
use stampede::advanced::try_parse_args;
use stampede::prelude::*;
use stampede::CancellationToken;
use zeromq::{RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

struct U {
    client: Client,
}

impl U {
    async fn home(&mut self) -> TaskResult {
        self.client.get("/").name("home").send().await?;
        Ok(())
    }
    async fn broken(&mut self) -> TaskResult {
        self.client.get("/fail").name("broken").send().await?;
        Ok(())
    }
}

fn plan(failing: bool) -> Plan {
    let clumsy = UserType::new("Clumsy", |ctx| U {
        client: ctx.client(),
    })
    .weight(1)
    .wait_time(constant(0.05));
    let clumsy = if failing {
        clumsy.task(task!(U::broken))
    } else {
        clumsy.task(task!(U::home))
    };
    Plan::new()
        .user_type(
            UserType::new("Reader", |ctx| U {
                client: ctx.client(),
            })
            .weight(3)
            .wait_time(constant(0.05))
            .task(task!(U::home)),
        )
        .user_type(clumsy)
}

use common::locust;

use common::probed_port as free_port;

/// Waits (bounded) for a child process.
fn wait(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("the Locust master did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A real Locust master and a Stampede worker given `worker_args` as well.
async fn master_and_worker(
    failing: bool,
    worker_args: &[&str],
) -> (i32, String, stampede::advanced::Outcome, common::TestServer) {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = plan(failing);
    std::fs::write(dir.path().join("locustfile.py"), p.locustfile()).unwrap();
    let port = free_port();
    let mut master = Command::new(locust())
        .current_dir(dir.path())
        .args([
            "-f",
            "locustfile.py",
            "--master",
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "-s",
            "2",
            "--expect-workers",
            "1",
        ])
        .args([
            "--master-bind-port",
            &port.to_string(),
            "--host",
            srv.url().as_str(),
            "--csv",
            "out",
            "--only-summary",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = port.to_string();
    let argv = ["plan", "--worker", "--master-port", &port, "--only-summary"];
    let argv = argv.iter().chain(worker_args).map(|s| s.to_string());
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    // The worker ends when the master says quit; the token bounds it should that never come.
    let token = CancellationToken::new();
    let guard = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        guard.cancel();
    });
    let outcome = stampede::advanced::run_with_shutdown(&cli, &p, token)
        .await
        .unwrap();
    let code = tokio::task::spawn_blocking(move || wait(&mut master, Duration::from_secs(30)))
        .await
        .unwrap();
    let csv = std::fs::read_to_string(dir.path().join("out_stats.csv")).unwrap();
    (code, csv, outcome, srv)
}

fn row<'a>(csv: &'a str, name: &str) -> Vec<&'a str> {
    csv.lines()
        .find(|l| l.split(',').nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{csv}"))
        .split(',')
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_worker_joins_a_locust_master() {
    let (code, csv, outcome, srv) = master_and_worker(false, &[]).await;
    assert_eq!(code, 0, "the master's exit code for a clean run\n{csv}");
    let total: u64 = row(&csv, "Aggregated")[2].parse().unwrap();
    assert!(total > 20, "{csv}");
    assert_eq!(
        total,
        srv.hits.get("/"),
        "the master counted every request the worker made"
    );
    assert_eq!(
        total, outcome.stats.total.num_requests,
        "and the worker agrees"
    );
    // The master asked for 3 Readers and 1 Clumsy (weights 3:1); both ran.
    let runs = |t: &str| {
        outcome
            .stats
            .task_runs
            .get(&((*t).into(), "home".into()))
            .copied()
            .unwrap_or(0)
    };
    assert!(
        runs("Reader") > runs("Clumsy") && runs("Clumsy") > 0,
        "{:?}",
        outcome.stats.task_runs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_under_a_locust_master_keeps_its_own_wait_scale() {
    // Locust's options have no wait scale: the worker's own --wait-scale 20 turns the plan's
    // 50 ms waits into 1 s ones. Four users for 4 s then make at most 5 requests each (at
    // scale 1 they would make some 300), and at least their first.
    let (code, csv, _outcome, srv) = master_and_worker(false, &["--wait-scale", "20"]).await;
    assert_eq!(code, 0, "{csv}");
    let total: u64 = row(&csv, "Aggregated")[2].parse().unwrap();
    assert!((4..=24).contains(&total), "{total} requests:\n{csv}");
    assert_eq!(total, srv.hits.get("/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_failures_reach_the_masters_csv_and_exit_code() {
    let (code, csv, _outcome, srv) = master_and_worker(true, &[]).await;
    assert_eq!(code, 1, "failures make the master exit 1\n{csv}");
    let broken = row(&csv, "broken");
    assert_eq!(broken[0], "GET");
    assert_eq!(
        broken[3].parse::<u64>().unwrap(),
        srv.hits.get("/fail"),
        "every failure is counted"
    );
    assert_eq!(broken[2], broken[3], "every /fail request failed");
}

/// A master made of a ROUTER socket, to send what no real master would.
async fn fake_master(port: u16) -> RouterSocket {
    let mut router = RouterSocket::new();
    router
        .bind(&format!("tcp://127.0.0.1:{port}"))
        .await
        .unwrap();
    router
}

async fn next_from_worker(router: &mut RouterSocket, kind: &str) -> (bytes::Bytes, Message) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frames = tokio::time::timeout(left, router.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind} from the worker"))
            .unwrap()
            .into_vec();
        let msg = Message::decode(frames.last().unwrap()).expect("the worker sends valid frames");
        if msg.kind == kind {
            return (frames[0].clone(), msg);
        }
    }
}

async fn to_worker(router: &mut RouterSocket, id: &bytes::Bytes, frame: Vec<u8>) {
    let mut m = ZmqMessage::from(frame);
    m.push_front(id.clone());
    router.send(m).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_survives_garbage_and_rejoins_a_restarted_master() {
    let port = free_port();
    let mut router = fake_master(port).await;
    let cli = try_parse_args::<NoOptions>(
        [
            "plan",
            "--worker",
            "--master-port",
            &port.to_string(),
            "--only-summary",
        ]
        .map(String::from),
    )
    .unwrap();
    let token = CancellationToken::new();
    let guard = token.clone();
    let worker = tokio::spawn(async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            guard.cancel();
        });
        stampede::advanced::run_with_shutdown(&cli, &plan(false), token).await
    });

    let (id, ready) = next_from_worker(&mut router, "client_ready").await;
    assert_eq!(
        ready.data,
        rmpv::Value::from(-1),
        "third-party workers skip Locust's version check"
    );
    let node = String::from_utf8(id.to_vec()).unwrap();
    assert_eq!(ready.node_id, node, "the socket identity is the node id");
    assert!(
        node.contains('_') && node.rsplit('_').next().unwrap().len() == 32,
        "{node}"
    );

    // Garbage of every kind: not msgpack, the wrong shape, oversized.
    for junk in [
        b"\xc1\xc1\xc1".to_vec(),
        b"\x92\xa1a\xa1b".to_vec(),
        vec![0u8; stampede::advanced::distributed::MAX_FRAME + 1],
    ] {
        to_worker(&mut router, &id, junk).await;
    }
    // The worker is still there: it keeps sending heartbeats.
    next_from_worker(&mut router, "heartbeat").await;

    // The master dies and comes back on the same port: the worker announces itself again.
    drop(router);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut router = fake_master(port).await;
    let (id2, again) = next_from_worker(&mut router, "client_ready").await;
    assert_eq!(again.node_id, node, "the same worker rejoined");
    to_worker(
        &mut router,
        &id2,
        Message::new("quit", rmpv::Value::Nil, "").encode(),
    )
    .await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker quits when told")
        .unwrap()
        .unwrap();
    assert_eq!(outcome.exit_code, 0);
}
