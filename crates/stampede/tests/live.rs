//! Live numbers that add up: the per-second history of a plan that sleeps inside its tasks
//! matches the server's own per-second counts, and the current window is the same one
//! for the table and the history.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::prelude::*;

/// A server on its own thread that logs the unix second of every answer, as an access
/// log does.
fn logging_server() -> (url::Url, Arc<Mutex<BTreeMap<u64, u64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let log: Arc<Mutex<BTreeMap<u64, u64>>> = Arc::default();
    let served = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let log = served.clone();
            std::thread::spawn(move || {
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(answer).is_err() {
                            return;
                        }
                        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                        *log.lock().unwrap().entry(now.as_secs()).or_default() += 1;
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (url.parse().unwrap(), log)
}

struct Sleeper {
    client: Client,
    n: u64,
}

impl Sleeper {
    /// A request, then a sleep inside the task (no wait time): its event used to sit in
    /// the user's buffer until the next request. The sleeps vary, so the per-second counts
    /// vary too and a late event shows.
    async fn visit(&mut self) -> TaskResult {
        self.client.get("/").name("home").send().await?;
        self.n += 1;
        let ms = [300, 1700, 900, 2300][(self.n % 4) as usize];
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_matches_the_servers_per_second_counts() {
    let (url, log) = logging_server();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("live");
    let plan = Plan::new().user_type(
        UserType::new("Sleeper", |ctx| Sleeper {
            client: ctx.client(),
            n: 0,
        })
        .task(task!(Sleeper::visit)),
    );
    let argv = [
        "plan",
        "--headless",
        "-u",
        "6",
        "-r",
        "3",
        "-t",
        "20s",
        "--only-summary",
    ];
    let mut argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    argv.extend([
        "-H".into(),
        url.to_string(),
        "--csv".into(),
        prefix.to_str().unwrap().into(),
    ]);
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    let outcome =
        stampede::advanced::run_with_shutdown(&cli, &plan, stampede::CancellationToken::new())
            .await
            .unwrap();
    assert_eq!(outcome.exit_code, 0);

    let csv = std::fs::read_to_string(dir.path().join("live_stats_history.csv")).unwrap();
    let mut totals: BTreeMap<u64, u64> = BTreeMap::new();
    for line in csv.lines().skip(1).filter(|l| l.contains(",Aggregated,")) {
        let f: Vec<&str> = line.split(',').collect();
        // A row stamped T holds the counts up to the end of second T - 1.
        totals.insert(f[0].parse::<u64>().unwrap() - 1, f[17].parse().unwrap());
    }
    let server = log.lock().unwrap().clone();
    let (first, last) = (
        *server.keys().next().unwrap(),
        *server.keys().last().unwrap(),
    );
    let mut compared = 0;
    for s in first + 1..last {
        let (Some(now), Some(before)) = (totals.get(&s), totals.get(&(s - 1))) else {
            continue;
        };
        let ours = now - before;
        let theirs = server.get(&s).copied().unwrap_or(0);
        assert!(
            ours.abs_diff(theirs) <= 1,
            "second {s}: the history counts {ours}, the server logged {theirs}\n{csv}"
        );
        compared += 1;
    }
    assert!(compared >= 15, "{compared} seconds compared\n{csv}");
    let logged: u64 = server.values().sum();
    assert_eq!(
        logged,
        outcome.stats.total.num_requests + outcome.stats.total.num_unanswered
    );
}
