//! A master and its workers in one process: plan options and the wait scale travel from
//! the master to its workers, and a worker runs the test hooks once per test.

mod common;

use std::time::{Duration, Instant};

use stampede::advanced::config::{Cli, NoOptions};
use stampede::advanced::swarm::{MasterConfig, SwarmConfig};
use stampede::advanced::try_parse_args;
use stampede::prelude::*;

use common::probed_port as free_port;

#[derive(clap::Args, Clone, Debug)]
struct PathOption {
    /// Where the walkers go.
    #[arg(long, default_value = "/")]
    target_path: String,
}

struct Walker {
    client: Client,
    path: String,
}

impl Walker {
    async fn walk(&mut self) -> TaskResult {
        let path = self.path.clone();
        self.client.get(&path).send().await?;
        Ok(())
    }
}

fn path_plan(o: &PathOption) -> Plan {
    let path = o.target_path.clone();
    Plan::new().user_type(
        UserType::new("Walker", move |ctx| Walker {
            client: ctx.client(),
            path: path.clone(),
        })
        .wait_time(constant(0.05))
        .task(task!(Walker::walk)),
    )
}

/// A headless master of 2 users for 2 s, with `extra` flags, and a worker started with
/// none of them, both parsed.
fn master_and_worker<P: clap::Args>(srv: &common::TestServer, extra: &[&str]) -> (Cli<P>, Cli<P>) {
    let (port, host) = (free_port().to_string(), srv.url().to_string());
    let argv = [
        "plan",
        "--master",
        "--headless",
        "-u",
        "2",
        "-r",
        "50",
        "-t",
        "2s",
        "--expect-workers",
        "1",
        "--only-summary",
        "--master-bind-port",
        &port,
        "-H",
        &host,
    ];
    let argv = argv.iter().chain(extra).map(|s| s.to_string());
    let master = try_parse_args::<P>(argv).unwrap();
    let worker = ["plan", "--worker", "--master-port", &port, "--only-summary"];
    (
        master,
        try_parse_args::<P>(worker.map(String::from)).unwrap(),
    )
}

/// Runs a master and its worker to the end of the test; both exit 0.
async fn run_both<P: clap::Args + 'static>(
    master: &Cli<P>,
    worker: &Cli<P>,
    build: fn(&P) -> Plan,
) {
    let token = stampede::CancellationToken::new();
    let (m, w) = tokio::join!(
        stampede::advanced::run_built_with_shutdown(master, build, token.clone()),
        stampede::advanced::run_built_with_shutdown(worker, build, token.clone()),
    );
    assert_eq!(m.unwrap().exit_code, 0);
    assert_eq!(w.unwrap().exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_options_travel_from_the_master_to_its_workers() {
    let srv = common::start().await;
    let (master, worker) = master_and_worker::<PathOption>(&srv, &["--target-path", "/landing"]);
    assert_eq!(master.options.plan_args, vec!["--target-path=/landing"]);
    // The worker is started without the option: it must take the master's.
    run_both(&master, &worker, path_plan).await;
    assert!(
        srv.hits.get("/landing") > 5,
        "the worker used the master's --target-path"
    );
    assert_eq!(srv.hits.get("/"), 0, "and not its own default");
}

/// One walk, then an hour's wait: unless its waits are scaled away.
fn patient_plan(_: &NoOptions) -> Plan {
    Plan::new().user_type(
        UserType::new("Walker", |ctx| Walker {
            client: ctx.client(),
            path: "/landing".into(),
        })
        .wait_time(constant(3600.0))
        .task(task!(Walker::walk)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_masters_wait_scale_reaches_its_workers() {
    let srv = common::start().await;
    let (master, worker) = master_and_worker::<NoOptions>(&srv, &["--wait-scale", "0"]);
    // The worker's own command line keeps the hour's wait; the master's 0 must win.
    assert_eq!(
        (master.options.wait_scale, worker.options.wait_scale),
        (0.0, 1.0)
    );
    run_both(&master, &worker, patient_plan).await;
    // At scale 1 the two users walk once each in the 2 s run.
    let walks = srv.hits.get("/landing");
    assert!(
        walks > 20,
        "the worker waited as its own command line said: {walks} walks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_the_test_hooks_once_per_test() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let srv = common::start().await;
    let port = free_port();
    let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (s, t) = (started.clone(), stopped.clone());
    let worker_plan = path_plan(&PathOption {
        target_path: "/".into(),
    })
    .on_test_start(move || {
        s.fetch_add(1, SeqCst);
        async {}
    })
    .on_test_stop(move || {
        t.fetch_add(1, SeqCst);
        async {}
    });
    let master = MasterConfig {
        bind: format!("tcp://127.0.0.1:{port}"),
        expect_workers: 1,
        ..MasterConfig::default()
    };
    let swarm = path_plan(&PathOption {
        target_path: "/".into(),
    })
    .master_swarm(SwarmConfig::new(srv.url()), master)
    .await
    .unwrap();
    let worker = try_parse_args::<NoOptions>(
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
    let token = stampede::CancellationToken::new();
    let run = tokio::spawn({
        let token = token.clone();
        async move { stampede::advanced::run_with_shutdown(&worker, &worker_plan, token).await }
    });
    for test in 1..=2 {
        // Counted from this test's start: the last test's stragglers cannot end the wait.
        let base = srv.hits.get("/");
        swarm.runner.start(2, 100.0, None);
        let until = Instant::now() + Duration::from_secs(20);
        while (srv.hits.get("/") < base + 3 || started.load(SeqCst) < test)
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            started.load(SeqCst),
            test,
            "test {test} started once on the worker"
        );
        // Users changing mid-test start no second test.
        swarm.runner.start(3, 100.0, None);
        swarm.runner.stop().await;
        let until = Instant::now() + Duration::from_secs(10);
        while stopped.load(SeqCst) < test && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            stopped.load(SeqCst),
            test,
            "test {test} stopped once on the worker"
        );
        assert_eq!(started.load(SeqCst), test);
    }
    swarm.runner.quit().await;
    token.cancel();
    let outcome = run.await.unwrap().unwrap();
    assert_eq!(outcome.exit_code, 0);
    assert_eq!((started.load(SeqCst), stopped.load(SeqCst)), (2, 2));
}
