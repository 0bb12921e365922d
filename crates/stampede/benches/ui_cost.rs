//! What the web UI costs the engine: a saturated swarm with 500 endpoint rows, with and
//! without 10 simulated UI clients polling the way the page does (table and charts, here
//! every second, twice the page's rate). The engine and its UI server run on core 0; the
//! target and the pollers on core 1 (re-executions of this binary under `taskset`).
//!
//!     cargo bench --bench ui_cost [-- SECONDS_PER_PHASE]
//!
//! The last line is machine-readable.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::client::ClientConfig;
use stampede::advanced::config::NoOptions;
use stampede::advanced::stats::{spawn_aggregator, UserCounts};
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, Control, Guard, StartRequest};
use stampede::prelude::*;

const ROWS: u64 = 500;
const USERS: u64 = 32;
const POLLERS: usize = 10;

fn role() -> Option<String> {
    std::env::var("STAMPEDE_BENCH_ROLE").ok()
}

fn spawn_role(role: &str, core: u32, args: &[String]) -> Child {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if std::path::Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("/usr/bin/taskset");
        c.arg("-c").arg(core.to_string()).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args)
        .env("STAMPEDE_BENCH_ROLE", role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn read_line(child: &mut Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_owned()
}

/// Role "target": answers every path at once.
async fn target() {
    let app = axum::Router::new().fallback(|| async { "ok" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

/// Role "pollers": 10 UI clients fetching the table and the chart history every second.
async fn pollers(ui: String) {
    let mut tasks = Vec::new();
    for _ in 0..POLLERS {
        let ui = ui.clone();
        tasks.push(tokio::spawn(async move {
            let counts = Arc::new(UserCounts::new(vec![]));
            let stats = spawn_aggregator(counts, "poller".into(), false, Default::default());
            let mut c = Client::new(
                ui.parse().unwrap(),
                ClientConfig::new(false),
                stats.recorder(),
            );
            let mut since = 0.0;
            loop {
                let _ = c.get("/stats/requests").send().await;
                if let Ok(r) = c.get(format!("/stats/history?since={since}")).send().await {
                    if let Ok(serde_json::Value::Array(points)) = r.json::<serde_json::Value>() {
                        since = points
                            .last()
                            .and_then(|p| p["time"].as_f64())
                            .unwrap_or(since);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

struct U {
    client: Client,
    n: u64,
}

impl U {
    async fn get(&mut self) -> TaskResult {
        self.n += 1;
        let path = format!("/item/{}", self.n % ROWS);
        self.client.get(&path).send().await?;
        Ok(())
    }
}

/// One phase: requests per second with or without pollers.
async fn phase(target: &str, with_pollers: bool, secs: u64) -> f64 {
    let cli = try_parse_args::<NoOptions>([
        "plan".to_owned(),
        "-H".to_owned(),
        format!("http://{target}"),
    ])
    .unwrap();
    let plan = Plan::new().user_type(
        UserType::new("U", |ctx| U {
            client: ctx.client(),
            n: ctx.user_id() * 7,
        })
        .task(task!(U::get)),
    );
    let control = Arc::new(Control::new(plan, cli.options.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let ui = format!("http://{bound}/");
    let app = router(control.clone(), Guard::new(None, bound, &[]));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    control
        .start(StartRequest {
            users: USERS,
            spawn_rate: 1000.0,
            host: None,
            run_time: None,
            user_types: vec![],
        })
        .unwrap();
    // Warm up until every row exists, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut pollers = with_pollers.then(|| spawn_role("pollers", 1, std::slice::from_ref(&ui)));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = control.test().unwrap().lock().unwrap().swarm.stats.clone();
    let before = stats.summary().await;
    assert!(
        before.rows.len() as u64 >= ROWS,
        "only {} rows",
        before.rows.len()
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let after = stats.summary().await;
    if let Some(p) = pollers.as_mut() {
        let _ = p.kill();
        let _ = p.wait();
    }
    control.stop().await;
    server.abort();
    (after.total.num_requests - before.total.num_requests) as f64 / (after.time - before.time)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match role().as_deref() {
        Some("target") => return rt.block_on(target()),
        Some("pollers") => return rt.block_on(pollers(args[0].clone())),
        Some("engine") => {}
        _ => {
            // Re-run this binary as the engine, pinned to core 0.
            let mut engine = spawn_role("engine", 0, &args);
            let status = {
                use std::io::Read;
                let mut out = String::new();
                engine
                    .stdout
                    .as_mut()
                    .unwrap()
                    .read_to_string(&mut out)
                    .unwrap();
                print!("{out}");
                engine.wait().unwrap()
            };
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    let secs: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let mut target = spawn_role("target", 1, &[]);
    let addr = read_line(&mut target);
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        without.push(rt.block_on(phase(&addr, false, secs)));
        with.push(rt.block_on(phase(&addr, true, secs)));
    }
    let _ = target.kill();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (a, b) = (mean(&without), mean(&with));
    let cost = (1.0 - b / a) * 100.0;
    println!("| UI clients | endpoint rows | requests/s (engine on one core) |");
    println!("|---|---|---|");
    println!(
        "| 0 | {ROWS} | {a:.0} ({}) |",
        without
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| {POLLERS} | {ROWS} | {b:.0} ({}) |",
        with.iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("ui_cost_percent={cost:.1}");
}
