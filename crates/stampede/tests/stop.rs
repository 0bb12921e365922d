//! Nothing is lost when a headless run is interrupted (Ctrl-C: the shutdown token), 30 times
//! in a row: every request the server saw is in the report, completed or unanswered.

mod common;

use std::time::Duration;

use stampede::prelude::*;
use stampede::{try_parse_args, CancellationToken, NoOptions};

struct Busy(Client);
impl Busy {
    async fn slow(&mut self) -> TaskResult {
        self.0.get("/slow?ms=5").name("slow").send().await?;
        Ok(())
    }
}

/// The server's count of `/slow` once it has stopped changing.
async fn settled(srv: &common::TestServer) -> u64 {
    let mut last = srv.hits.get("/slow");
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = srv.hits.get("/slow");
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the server's count never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_headless_run_loses_no_request_30_times_in_a_row() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    let plan = Plan::new()
        .user_type(UserType::new("Busy", |ctx| Busy(ctx.client())).task(task!(Busy::slow)));
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
        let outcome = stampede::run_with_shutdown(&cli, &plan, stop)
            .await
            .unwrap();
        let t = &outcome.stats.total;
        let seen = settled(&srv).await;
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
