//! A server that fills every user's cookie jar: the memory a user's cookies hold stays
//! within its budget, and the cookies it refuses are reported once, not per request
//! (issue 24, item 5).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stampede::advanced::capacity::COOKIE_BUDGET;
use stampede::advanced::client::ClientConfig;
use stampede::advanced::stats::StatsHandle;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Users, each with its own jar, all kept until the end.
const USERS: u64 = 1000;
/// Users requesting at the same time.
const AT_ONCE: u64 = 4;
/// Paths each user requests: as many as a client keeps prepared targets for (each once
/// held its own `Cookie` line).
const PATHS: usize = 8;
/// New cookies per answer, of [`VALUE`] bytes each. Eight answers offer 64 cookies of
/// 250 KB together; a user's budget holds 11 of them.
const PER_ANSWER: usize = 8;
/// Near the 4 KB a browser keeps per cookie.
const VALUE: usize = 3900;
/// What a user may hold besides its cookies' budget: its client, targets, maps and stats
/// buffer (38 KB measured for a client without cookies), and the allocator's slack.
const CLIENT_ALLOWANCE: u64 = 64 * 1024;

/// A server answering every request with new cookies, on 127.0.0.1:0. A request for
/// `/u{U}/p{K}` gets the cookies `u{U}r{K}c0` to `u{U}r{K}c7`.
async fn jar_filler() -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let value = "v".repeat(VALUE);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let value = value.clone();
            tokio::spawn(async move {
                let (read, mut write) = sock.into_split();
                let mut read = BufReader::new(read);
                let (mut line, mut target) = (String::new(), String::new());
                loop {
                    // A request head (these are GETs): lines up to the empty one.
                    target.clear();
                    loop {
                        line.clear();
                        match read.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) if target.is_empty() => target.push_str(&line),
                            Ok(_) => {}
                        }
                    }
                    let path = target.split(' ').nth(1).unwrap_or("/");
                    let name = path.trim_start_matches("/u").replace("/p", "r");
                    let mut head = String::from("HTTP/1.1 200 OK\r\n");
                    for i in 0..PER_ANSWER {
                        head.push_str(&format!("Set-Cookie: u{name}c{i}={value}; Path=/\r\n"));
                    }
                    head.push_str("Content-Length: 2\r\n\r\nok");
                    if write.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/").parse().unwrap()
}

/// This process's resident memory now and at its peak, in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bytes = |key: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (bytes("VmRSS:"), bytes("VmHWM:"))
}

/// The log's lines, as the subscriber writes them.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf).into_owned();
        self.0.lock().unwrap().push(text);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// User `u`: one request to each path, then its connection goes (the connection's buffers
/// are not the cookies' memory) and its client, with the jar, is kept.
async fn user(u: u64, base: url::Url, stats: StatsHandle) -> stampede::Client {
    let config = ClientConfig::new(false);
    let mut c = stampede::Client::new(base, config, stats.recorder());
    for k in 0..PATHS {
        // One statistics row per path, not per user: the rows are not the users' memory.
        let get = c.get(format!("/u{u}/p{k}")).name(format!("p{k}"));
        let answered = tokio::time::timeout(Duration::from_secs(10), get.send()).await;
        answered.expect("answered within 10 s").unwrap();
    }
    c.close_connections();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_full_jars_stay_within_their_budget() {
    let log = Log::default();
    let sink = log.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let base = jar_filler().await;
    let (_, stats) = common::client(base.clone());
    let (before, _) = rss();
    let budget = COOKIE_BUDGET as u64;
    let bound = before + USERS * (budget + CLIENT_ALLOWANCE);
    let mut clients = Vec::new();
    for batch in 0..USERS / AT_ONCE {
        let users = (0..AT_ONCE).map(|i| {
            let u = batch * AT_ONCE + i;
            tokio::spawn(user(u, base.clone(), stats.clone()))
        });
        for u in users.collect::<Vec<_>>() {
            clients.push(u.await.unwrap());
        }
        // Stops a growth past the bound early, rather than swell to gigabytes.
        let (now, _) = rss();
        let users = clients.len();
        assert!(now <= bound, "{} MB with {users} users", now >> 20);
    }
    let (after, peak) = rss();
    eprintln!(
        "RSS: {} MB before the users, {} MB after, peak {} MB: {} KB per user (budget {} KB)",
        before >> 20,
        after >> 20,
        peak >> 20,
        (peak.saturating_sub(before) / USERS) >> 10,
        budget >> 10
    );
    assert!(
        peak <= bound,
        "peak {} MB, bound {} MB",
        peak >> 20,
        bound >> 20
    );
    // A jar keeps what came first and refuses the rest: a session cookie set at login
    // survives a flood.
    for (u, c) in clients.iter().enumerate() {
        assert!(c.cookie(&format!("u{u}r0c0")).is_some(), "user {u}");
        assert!(c.cookie(&format!("u{u}r1c2")).is_some(), "user {u}");
        assert!(c.cookie(&format!("u{u}r1c3")).is_none(), "user {u}");
    }
    let lines = log.0.lock().unwrap().clone();
    let said: Vec<&String> = lines.iter().filter(|l| l.contains("cookie")).collect();
    assert_eq!(said.len(), 1, "said once, not per request: {said:?}");
}
