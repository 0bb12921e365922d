//! A Stampede master driving Stampede workers (separate processes) and a real Locust
//! worker; a worker killed with SIGKILL mid-run; garbage sent to the master; and the rule
//! that credentials never travel to workers. (Plan options, the wait scale and the test hooks
//! on workers: `distributed_options.rs`.)

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stampede::advanced::config::NoOptions;
use stampede::advanced::distributed::Message;
use stampede::advanced::swarm::{MasterConfig, SwarmConfig};
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, Control, Guard};
use stampede::prelude::*;
use zeromq::{DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use common::probed_port as free_port;

fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("examples").join(name)
}

/// A user_funnel worker process; killed when dropped.
struct WorkerProc(Child);

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn funnel_worker(port: u16, report: Option<&std::path::Path>) -> WorkerProc {
    let mut cmd = Command::new(example("user_funnel"));
    cmd.args([
        "--worker",
        "--master-port",
        &port.to_string(),
        // The examples' old plan option, now an alias of the built-in --wait-scale.
        "--think-scale",
        "0",
        "--only-summary",
    ]);
    if let Some(r) = report {
        cmd.args(["--report-json", r.to_str().unwrap()]);
    }
    WorkerProc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn shop() -> (hoodie_shop::ShopHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = hoodie_shop::ShopConfig {
        password_iterations: 1000,
    };
    let shop = hoodie_shop::start_with(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("shop.db"),
        config,
    )
    .await
    .unwrap();
    (shop, dir)
}

/// The funnel's user types, for a master (workers run the real tasks).
fn funnel_plan() -> Plan {
    struct Nobody;
    async fn idle(_: &mut Nobody) -> TaskResult {
        Ok(())
    }
    Plan::new()
        .user_type(
            UserType::new("Visitor", |_| Nobody)
                .weight(80)
                .task(Task::new("idle", idle)),
        )
        .user_type(
            UserType::new("ReturningUser", |_| Nobody)
                .weight(20)
                .task(Task::new("idle", idle)),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_master_sums_its_workers_exactly() {
    let (shop, _db) = shop().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (r1, r2) = (dir.path().join("w1.json"), dir.path().join("w2.json"));
    let master_report = dir.path().join("master.json");
    let _w1 = funnel_worker(port, Some(&r1));
    let _w2 = funnel_worker(port, Some(&r2));
    let argv = [
        "plan",
        "--master",
        "--headless",
        "-u",
        "10",
        "-r",
        "50",
        "-t",
        "4s",
        "-s",
        "5",
        "--expect-workers",
        "2",
        "--only-summary",
    ];
    let mut argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    argv.extend([
        "--master-bind-port".into(),
        port.to_string(),
        "--host".into(),
        shop.url(),
        "--report-json".into(),
        master_report.to_str().unwrap().into(),
    ]);
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    let outcome = stampede::advanced::run_with_shutdown(
        &cli,
        &funnel_plan(),
        stampede::CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.exit_code, 0);
    // The workers quit on the master's word and write their own reports.
    let read = |p: &std::path::Path| -> serde_json::Value {
        let start = Instant::now();
        while !p.exists() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
        }
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&r1), read(&r2));
    let count = |v: &serde_json::Value| v["total"]["num_requests"].as_u64().unwrap();
    assert!(count(&a) > 0 && count(&b) > 0, "both workers worked");
    assert_eq!(
        outcome.stats.total.num_requests,
        count(&a) + count(&b),
        "the master's total is the workers' sum"
    );
    let max = |v: &serde_json::Value| v["total"]["max_response_time_ms"].as_f64().unwrap();
    assert_eq!(outcome.stats.total.max_ms(), max(&a).max(max(&b)));
    // Orders in the shop match the master's successful summary posts.
    let orders = outcome
        .stats
        .entries
        .get(&("8 /checkout/summary/".to_owned(), "POST".to_owned()))
        .map_or(0, |e| e.num_requests - e.num_failures);
    assert_eq!(shop.counts().unwrap().1 as u64, orders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_marked_missing_and_its_users_move() {
    let (shop, _db) = shop().await;
    let port = free_port();
    let mut cfg = SwarmConfig::new(shop.url().parse().unwrap());
    cfg.stop_timeout = Duration::from_secs(2);
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: 2,
        ..MasterConfig::default()
    };
    let swarm = funnel_plan().master_swarm(cfg, master).await.unwrap();
    let mut doomed = funnel_worker(port, None);
    let _survivor = funnel_worker(port, None);
    swarm.runner.start(6, 100.0, None);
    let workers = swarm.workers.clone().unwrap();
    let wait = |what: &str, cond: &dyn Fn() -> bool, limit: u64| {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < Duration::from_secs(limit),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let users = swarm.stats.users.clone();
    tokio::task::block_in_place(|| {
        wait(
            "six users on two workers",
            &|| {
                users.total() == 6
                    && workers
                        .borrow()
                        .iter()
                        .filter(|w| w.user_count == 3)
                        .count()
                        == 2
            },
            20,
        );
    });
    // The users are counted at spawning_complete; the requests come with the next report.
    let mut before = 0;
    for _ in 0..200 {
        before = swarm.stats.summary().await.total.num_requests;
        if before > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(before > 0, "no report from the workers in 20 s");

    doomed.0.kill().unwrap(); // SIGKILL: no goodbye
    tokio::task::block_in_place(|| {
        wait(
            "the dead worker marked missing",
            &|| {
                workers
                    .borrow()
                    .iter()
                    .any(|w| w.state.as_str() == "missing")
            },
            10,
        );
    });
    tokio::task::block_in_place(|| {
        wait(
            "all six users on the survivor",
            &|| {
                workers
                    .borrow()
                    .iter()
                    .any(|w| w.state.as_str() != "missing" && w.user_count == 6)
            },
            15,
        );
    });
    assert!(
        swarm.stats.summary().await.total.num_requests >= before,
        "nothing already reported was lost"
    );
    swarm.runner.stop().await;
    swarm.runner.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_master_drives_a_real_locust_worker() {
    let locust = common::locust();
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("locustfile.py"),
        "from locust import HttpUser, task, constant\n\nclass Reader(HttpUser):\n    weight = 3\n    wait_time = constant(0.05)\n\n    @task\n    def home(self):\n        self.client.get('/', name='home')\n",
    )
    .unwrap();
    let port = free_port();
    let mut worker = WorkerProc(
        Command::new(&locust)
            .current_dir(dir.path())
            .args([
                "-f",
                "locustfile.py",
                "--worker",
                "--master-port",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    struct R;
    async fn nothing(_: &mut R) -> TaskResult {
        Ok(())
    }
    let plan =
        Plan::new().user_type(UserType::new("Reader", |_| R).task(Task::new("home", nothing)));
    let argv = [
        "plan",
        "--master",
        "--headless",
        "-u",
        "3",
        "-r",
        "50",
        "-t",
        "4s",
        "-s",
        "3",
        "--expect-workers",
        "1",
        "--only-summary",
    ];
    let mut argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    argv.extend([
        "--master-bind-port".into(),
        port.to_string(),
        "--host".into(),
        srv.url().to_string(),
    ]);
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    let outcome =
        stampede::advanced::run_with_shutdown(&cli, &plan, stampede::CancellationToken::new())
            .await
            .unwrap();
    assert_eq!(
        outcome.exit_code, 0,
        "errors {:?} exceptions {:?}",
        outcome.stats.errors, outcome.stats.exceptions
    );
    let home = &outcome.stats.entries[&("home".to_owned(), "GET".to_owned())];
    assert!(home.num_requests > 20, "{}", home.num_requests);
    assert_eq!(
        home.num_requests,
        srv.hits.get("/"),
        "every request of the Locust worker reached the master"
    );
    let start = Instant::now();
    while worker.0.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        worker.0.try_wait().unwrap().is_some(),
        "the Locust worker obeyed quit"
    );
}

async fn recv(d: &mut DealerSocket) -> Message {
    let frames = tokio::time::timeout(Duration::from_secs(10), d.recv())
        .await
        .expect("the master answers")
        .unwrap();
    Message::decode(&frames.into_vec()[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_drops_garbage_and_never_sends_credentials() {
    let srv = common::start().await;
    let port = free_port();
    let (port_s, host_s) = (port.to_string(), srv.url().to_string());
    let argv = [
        "plan",
        "--web-auth",
        "admin:hunter2-secret",
        "--master-bind-port",
        &port_s,
        "-H",
        &host_s,
    ];
    let options = try_parse_args::<NoOptions>(argv.map(String::from))
        .unwrap()
        .options;
    let mut cfg = SwarmConfig::new(srv.url());
    cfg.stop_timeout = Duration::from_secs(1);
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        ..MasterConfig::from_options(&options)
    };
    let plan = funnel_plan();
    let swarm = plan.master_swarm(cfg, master).await.unwrap();

    // 73 bytes that used to abort the master: a ZeroMQ greeting, then a frame header
    // announcing 2^40 bytes, for which the zeromq crate reserved memory up front.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut attack = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut bytes = vec![0xff];
        bytes.extend([0u8; 8]);
        bytes.extend([0x7f, 3, 1]);
        let mut mechanism = b"NULL".to_vec();
        mechanism.resize(20, 0);
        bytes.extend(mechanism);
        bytes.push(0);
        bytes.extend([0u8; 31]);
        bytes.push(0b0000_0010);
        bytes.extend((1u64 << 40).to_be_bytes());
        assert_eq!(bytes.len(), 73);
        attack.write_all(&bytes).await.unwrap();
        // The master answers with its greeting and then drops the connection.
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), attack.read_to_end(&mut sink));
        assert!(
            read.await.is_ok(),
            "the master dropped the attacking connection"
        );
    }

    let mut opts = SocketOptions::default();
    opts.peer_identity(
        b"fake_0123456789abcdef0123456789abcdef"
            .to_vec()
            .try_into()
            .unwrap(),
    );
    let mut dealer = DealerSocket::with_options(opts);
    dealer
        .connect(&format!("tcp://127.0.0.1:{port}"))
        .await
        .unwrap();
    for junk in [
        b"\xc1\xc1".to_vec(),
        b"\x93\x01\x02\x03".to_vec(),
        vec![0x91; 64],
    ] {
        dealer.send(ZmqMessage::from(junk)).await.unwrap();
    }
    let send = |kind: &str, data: rmpv::Value| {
        ZmqMessage::from(Message::new(kind, data, "fake_0123456789abcdef0123456789abcdef").encode())
    };
    dealer
        .send(send("client_ready", rmpv::Value::from(-1)))
        .await
        .unwrap();

    let ack = recv(&mut dealer).await;
    assert_eq!(ack.kind, "ack", "the master is alive after the garbage");
    swarm.runner.start(5, 100.0, None);
    // Spawn messages carry absolute counts at each step of the ramp: wait for the last.
    let total_of = |m: &Message| -> u64 {
        let classes = m
            .data
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some("user_classes_count"))
            .unwrap()
            .1
            .clone();
        classes
            .as_map()
            .unwrap()
            .iter()
            .map(|(_, v)| v.as_u64().unwrap())
            .sum()
    };
    let spawn = loop {
        let m = recv(&mut dealer).await;
        if m.kind == "spawn" && total_of(&m) == 5 {
            break m;
        }
    };
    let raw = spawn.encode();
    assert!(
        !raw.windows(b"hunter2".len()).any(|w| w == b"hunter2"),
        "the password travelled to a worker"
    );
    assert_eq!(total_of(&spawn), 5, "absolute counts for the only worker");
    swarm.runner.stop().await;
    swarm.runner.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_of_a_master_lists_its_workers() {
    let srv = common::start().await;
    let port = free_port();
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: 1,
        ..MasterConfig::default()
    };
    let options = try_parse_args::<NoOptions>(
        ["plan", "--master", "-H", srv.url().as_str()].map(String::from),
    )
    .unwrap()
    .options;
    let swarm = funnel_plan()
        .master_swarm(SwarmConfig::new(srv.url()), master)
        .await
        .unwrap();
    let control = std::sync::Arc::new(Control::with_swarm(
        funnel_plan(),
        options,
        swarm,
        srv.url(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let ui = format!("http://{bound}/");
    let app = router(control, Guard::new(None, bound, &[]));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut o = SocketOptions::default();
    o.peer_identity(
        b"box1_0123456789abcdef0123456789abcdef"
            .to_vec()
            .try_into()
            .unwrap(),
    );
    let mut dealer = DealerSocket::with_options(o);
    dealer
        .connect(&format!("tcp://127.0.0.1:{port}"))
        .await
        .unwrap();
    let msg = |kind: &str, data: rmpv::Value| {
        ZmqMessage::from(Message::new(kind, data, "box1_0123456789abcdef0123456789abcdef").encode())
    };
    dealer
        .send(msg("client_ready", rmpv::Value::from(-1)))
        .await
        .unwrap();
    let beat = rmpv::Value::Map(vec![
        ("state".into(), "ready".into()),
        ("current_cpu_usage".into(), rmpv::Value::F64(42.5)),
        ("current_memory_usage".into(), 123_456_789u64.into()),
        // A Stampede worker's generator health: it is saturated.
        (
            "stampede_generator".into(),
            rmpv::Value::Map(vec![
                ("saturated".into(), true.into()),
                ("saturated_now".into(), true.into()),
                ("saturated_secs".into(), 3u64.into()),
                ("worst_lag_ms".into(), rmpv::Value::F64(80.0)),
                ("lag_p99_ms".into(), rmpv::Value::F64(37.5)),
                ("peak_cpu_percent".into(), rmpv::Value::F64(99.0)),
                ("cores".into(), 2u64.into()),
            ]),
        ),
    ]);
    dealer.send(msg("heartbeat", beat)).await.unwrap();

    let (mut c, _stats) = common::client(ui.parse().unwrap());
    let start = Instant::now();
    loop {
        let r: serde_json::Value = c
            .get("/stats/requests")
            .send()
            .await
            .unwrap()
            .json()
            .unwrap();
        if let Some(w) = r["workers"].as_array().and_then(|w| w.first()) {
            // The table (and its generator health) is read before the workers list, so
            // the heartbeat may show in the list one poll before it shows in the health.
            if w["cpu_usage"] == 42.5 && r["generator"]["saturated"] == true {
                assert_eq!(w["id"], "box1_0123456789abcdef0123456789abcdef");
                assert_eq!(w["memory_usage"], 123_456_789u64);
                assert_eq!(w["state"], "ready");
                assert_eq!(w["lag_ms"], 37.5, "the worker's lag is shown per worker");
                assert_eq!(w["saturated"], true);
                assert_eq!(r["generator"]["saturated"], true, "{}", r["generator"]);
                assert_eq!(r["generator"]["worst_lag_ms"], 80.0);
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no worker in the UI: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
