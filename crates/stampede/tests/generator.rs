//! The saturation alarm: silent while the generator keeps its schedule, raised when its
//! users hog the runtime; it reaches the report, and `generator_lag<50ms` judges it. One
//! test, quiet run first, so that the busy run cannot disturb the quiet one.

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;
use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::prelude::*;

struct Light(Client);
impl Light {
    async fn visit(&mut self) -> TaskResult {
        self.0.get("/").name("home").send().await?;
        Ok(())
    }
}

/// A task that computes for 150 ms without yielding, as a plan that parses huge pages on
/// the runtime would: every thread of the runtime is taken, ticks run late.
struct Hog(Client);
impl Hog {
    async fn visit(&mut self) -> TaskResult {
        self.0.get("/").name("home").send().await?;
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(150) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        Ok(())
    }
}

async fn run(plan: &Plan, users: &str, url: &str, dir: &std::path::Path) -> (i32, Value) {
    let report = dir.join(format!("report-{users}.json"));
    let argv = [
        "plan",
        "--headless",
        "-u",
        users,
        "-r",
        "100",
        "-t",
        "4s",
        "--only-summary",
        "--threshold",
        "generator_lag<50ms",
        "-H",
        url,
        "--report-json",
        report.to_str().unwrap(),
    ];
    let cli = try_parse_args::<NoOptions>(argv.map(String::from)).unwrap();
    let outcome =
        stampede::advanced::run_with_shutdown(&cli, plan, stampede::CancellationToken::new())
            .await
            .unwrap();
    let json = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    (outcome.exit_code, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alarm_stays_silent_when_quiet_and_fires_when_saturated() {
    let srv = common::start().await;
    let url = srv.url().to_string();
    let dir = tempfile::tempdir().unwrap();

    let quiet = Plan::new().user_type(
        UserType::new("Light", |ctx| Light(ctx.client()))
            .wait_time(constant(0.1))
            .task(task!(Light::visit)),
    );
    let (code, report) = run(&quiet, "2", &url, dir.path()).await;
    let g = &report["generator"];
    assert_eq!(g["saturated"], false, "quiet: {g}");
    // Not a real-time window: 50 ms is ten times a quiet runtime's lag on a busy machine,
    // and the hogs below push it past 100 ms.
    assert_eq!(
        code, 0,
        "generator_lag<50ms holds: {}",
        report["thresholds"]
    );

    let busy = Plan::new()
        .user_type(UserType::new("Hog", |ctx| Hog(ctx.client())).task(task!(Hog::visit)));
    let (code, report) = run(&busy, "8", &url, dir.path()).await;
    let g = &report["generator"];
    assert_eq!(g["saturated"], true, "busy: {g}");
    assert!(g["worst_lag_ms"].as_f64().unwrap() >= 10.0, "busy: {g}");
    assert!(g["saturated_secs"].as_u64().unwrap() >= 2, "busy: {g}");
    assert_eq!(
        code, 3,
        "generator_lag<50ms breaks: {}",
        report["thresholds"]
    );
    assert_eq!(report["thresholds"][0]["passed"], false);
}
