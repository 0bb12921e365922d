//! Nothing is lost when a headless run is interrupted (Ctrl-C: the shutdown token), 30 times
//! in a row: every request the server saw is in the report, completed or unanswered.

mod common;

use std::time::Duration;

use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::prelude::*;
use stampede::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_headless_run_loses_no_request_30_times_in_a_row() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    let plan = common::busy_plan();
    let mut before = 0;
    let mut unanswered_total = 0;
    for run in 0..30 {
        let cli = try_parse_args::<NoOptions>(
            [
                "plan",
                "--headless",
                "--only-summary",
                "-u",
                "4",
                "-r",
                "100",
                "-H",
                &host,
            ]
            .map(str::to_owned),
        )
        .unwrap_or_else(|u| panic!("{}", u.message));
        let stop = CancellationToken::new();
        let interrupt = stop.clone();
        let hits = srv.hits.clone();
        tokio::spawn(async move {
            // Ctrl-C once the run is under way: an event, not a time window.
            while hits.get("/slow") < before + 8 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            interrupt.cancel();
        });
        let outcome = stampede::advanced::run_with_shutdown(&cli, &plan, stop)
            .await
            .unwrap();
        let t = &outcome.stats.total;
        let seen = srv
            .hits
            .settled_at("/slow", before + t.num_requests + t.num_unanswered)
            .await;
        assert_eq!(
            seen - before,
            t.num_requests + t.num_unanswered,
            "run {run}: server hits against completed + unanswered"
        );
        before = seen;
        unanswered_total += t.num_unanswered;
    }
    assert!(unanswered_total > 0, "the interrupts did cut requests off");
}

struct Reader(Client);
impl Reader {
    async fn get_root(&mut self) -> TaskResult {
        self.0.get("/").send().await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_stopping_its_worker_loses_no_request_10_times_in_a_row() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    // The `hello` example's user type, declared on the master's side.
    let plan = Plan::new().user_type(
        UserType::new("Reader", |ctx| Reader(ctx.client())).task(task!(Reader::get_root)),
    );
    let mut before = 0;
    for run in 0..10 {
        let port = common::probed_port().to_string();
        let mut worker = std::process::Command::new(common::example("hello"))
            .args(["--worker", "--master-port", &port, "--only-summary"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let cli = try_parse_args::<NoOptions>(
            [
                "plan",
                "--master",
                "--headless",
                "--only-summary",
                "-u",
                "4",
                "-r",
                "100",
                "--expect-workers",
                "1",
                "--master-bind-port",
                &port,
                "-H",
                &host,
            ]
            .map(str::to_owned),
        )
        .unwrap_or_else(|u| panic!("{}", u.message));
        let stop = CancellationToken::new();
        let interrupt = stop.clone();
        let hits = srv.hits.clone();
        tokio::spawn(async move {
            while hits.get("/") < before + 50 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            interrupt.cancel();
        });
        let outcome = stampede::advanced::run_with_shutdown(&cli, &plan, stop)
            .await
            .unwrap();
        let _ = tokio::task::spawn_blocking(move || worker.wait()).await;
        let t = &outcome.stats.total;
        let seen = srv
            .hits
            .settled_at("/", before + t.num_requests + t.num_unanswered)
            .await;
        assert_eq!(
            seen - before,
            t.num_requests + t.num_unanswered,
            "run {run}: server hits against the master's completed + unanswered"
        );
        before = seen;
    }
}
