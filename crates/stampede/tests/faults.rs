//! The client against servers that misbehave the way real ones do (and worse): closes it
//! is not told about, requests that are read and dropped, silence, garbage, endless bodies
//! and failure texts that never repeat. Each case asserts what a user should see.

mod common;

use std::time::Duration;

use common::raw::{self, Fault};
use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::prelude::*;
use stampede::CancellationToken;

#[tokio::test]
async fn a_server_closing_after_every_answer_costs_no_get() {
    let srv = raw::start(Fault::CloseAfterEach).await;
    let (mut c, stats) = common::client(srv.url());
    for _ in 0..300 {
        c.get("/").send().await.unwrap();
    }
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!((s.total.num_requests, s.total.num_failures), (300, 0));
    assert_eq!(s.total.num_hops, 300);
    assert_eq!(srv.requests(), 300, "no request was lost or sent twice");
}

#[tokio::test]
async fn a_connection_the_answer_ends_is_closed_at_once() {
    // A server that lingers for the client's close (gunicorn does, for up to 2 s, with one
    // worker per connection) must not be kept waiting until the user's next request.
    let srv = raw::start(Fault::LingersForClose).await;
    let (mut c, _stats) = common::client(srv.url());
    c.get("/").send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), srv.closed.notified())
        .await
        .expect("the client closed its side once the answer was read");
    c.get("/").send().await.unwrap();
    assert_eq!(srv.connections(), 2);
}

#[tokio::test]
async fn a_close_seen_before_sending_lets_even_a_post_go_out_on_a_new_connection() {
    let srv = raw::start(Fault::CloseAfterEach).await;
    let (mut c, stats) = common::client(srv.url());
    for _ in 0..20 {
        c.get("/").send().await.unwrap();
        srv.closed.notified().await;
        c.post("/").form(&[("a", "1")]).send().await.unwrap();
        srv.closed.notified().await;
    }
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!((s.total.num_requests, s.total.num_failures), (40, 0));
    assert_eq!((srv.requests(), srv.connections()), (40, 40));
}

#[tokio::test]
async fn a_get_on_a_connection_closed_unanswered_is_retried_once_a_post_is_not() {
    let srv = raw::start(Fault::DropSecond).await;
    let (mut c, stats) = common::client(srv.url());
    c.get("/").send().await.unwrap();
    // The second request on that connection is read and dropped: a GET goes again on a new
    // connection, whose first request is answered.
    c.get("/").name("retried").send().await.unwrap();
    assert_eq!((srv.requests(), srv.connections()), (3, 2));
    // A POST in the same spot fails and says why (a second user, which has not yet seen this
    // server hang up: the first now sends its POSTs on fresh connections).
    let (mut other, _) = common::client(srv.url());
    other.get("/").send().await.unwrap();
    let e = other
        .post("/")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.reason,
        "server closed the kept-alive connection before answering (request not retried: POST)"
    );
    assert_eq!(srv.requests(), 5, "the POST was not sent twice");
    c.post("/").form(&[("a", "1")]).send().await.unwrap();
    c.recorder().flush();
    let s = stats.snapshot().await;
    let retried = &s.entries[&("retried".to_owned(), "GET".to_owned())];
    assert_eq!((retried.num_requests, retried.num_failures), (1, 0));
    // This server read the first send before hanging up, so it logged both: the report
    // says one send was resent.
    assert_eq!((retried.num_hops, retried.num_resent), (1, 1));
}

/// A headless run of `users` users against `host`, started at once, that the test stops
/// with the token it returns.
fn headless_run(
    plan: Plan,
    host: &str,
    users: u32,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<stampede::advanced::Outcome, i32>>,
) {
    let users = users.to_string();
    let argv = [
        "plan",
        "--headless",
        "-u",
        &users,
        "-r",
        "100",
        "-H",
        host,
        "--only-summary",
    ];
    let cli = try_parse_args::<NoOptions>(argv.map(str::to_owned))
        .unwrap_or_else(|u| panic!("{}", u.message));
    let stop = CancellationToken::new();
    let run = tokio::spawn({
        let stop = stop.clone();
        async move { stampede::advanced::run_with_shutdown(&cli, &plan, stop).await }
    });
    (stop, run)
}

#[tokio::test]
async fn a_silent_server_leaves_unanswered_requests_and_the_run_exits_1() {
    let srv = raw::start(Fault::Silent).await;
    struct U(Client);
    impl U {
        async fn get(&mut self) -> TaskResult {
            self.0.get("/").send().await?;
            Ok(())
        }
    }
    let plan = Plan::new().user_type(UserType::new("U", |ctx| U(ctx.client())).task(task!(U::get)));
    let host = srv.url().to_string();
    let (stop, run) = headless_run(plan, &host, 3);
    while srv.requests() < 3 {
        srv.read_one.notified().await;
    }
    stop.cancel();
    let outcome = run.await.unwrap().unwrap();
    assert_eq!(outcome.stats.total.num_unanswered, 3);
    assert_eq!(outcome.stats.total.num_hops, 3);
    assert_eq!(
        (
            outcome.stats.total.num_requests,
            outcome.stats.total.num_failures
        ),
        (0, 0),
        "unanswered requests are not failures"
    );
    assert_eq!(outcome.exit_code, 1, "sent and none answered is not a pass");
}

#[tokio::test]
async fn a_body_past_max_body_is_counted_in_full_but_kept_only_to_the_cap() {
    let srv = raw::start(Fault::BigBody(32 << 20)).await;
    let mut cfg = stampede::advanced::client::ClientConfig::new(false);
    cfg.max_body = 1 << 20;
    let (mut c, stats) = common::client_with(srv.url(), cfg);
    let r = c.get("/").send().await.unwrap();
    assert_eq!(r.bytes().len(), 1 << 20);
    assert_eq!(r.content_length(), 32 << 20);
    assert!(r.body_truncated());
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!(s.total.total_content_length, 32 << 20);
}

#[tokio::test]
async fn an_endless_body_times_out_naming_the_body_phase() {
    let srv = raw::start(Fault::EndlessBody).await;
    let (mut c, _stats) = common::client(srv.url());
    let e = c
        .get("/")
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    let start = format!(
        "timed out after 300ms reading the response body ({}): the response was still arriving at the timeout (",
        srv.addr
    );
    assert!(e.reason.starts_with(&start), "{}", e.reason);
    assert!(
        e.reason
            .contains("bytes so far; a response keeps at most --max-body bytes"),
        "{}",
        e.reason
    );
}

/// A server whose every answer is a head and a body that never ends; `sent` counts the
/// body bytes written, all connections together.
async fn endless_body_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let sent = counter.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if sock.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 107374182400\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let zeros = vec![0u8; 64 * 1024];
                while sock.write_all(&zeros).await.is_ok() {
                    sent.fetch_add(zeros.len() as u64, Ordering::SeqCst);
                }
            });
        }
    });
    (addr, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_off_mid_body_says_the_body_was_arriving_not_that_nobody_answered() {
    let (addr, sent) = endless_body_server().await;
    struct U(Client);
    impl U {
        async fn get(&mut self) -> TaskResult {
            self.0.get("/").send().await?;
            Ok(())
        }
    }
    let plan = Plan::new().user_type(UserType::new("U", |ctx| U(ctx.client())).task(task!(U::get)));
    let host = format!("http://{addr}/");
    let (stop, run) = headless_run(plan, &host, 2);
    // 64 MB written is more than loopback's socket buffers hold for two connections: the
    // client has read heads and is deep in the bodies. Bounded at 30 s.
    for _ in 0..3000 {
        if sent.load(std::sync::atomic::Ordering::SeqCst) >= 64 << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        sent.load(std::sync::atomic::Ordering::SeqCst) >= 64 << 20,
        "the bodies never flowed"
    );
    stop.cancel();
    let outcome = run.await.unwrap().unwrap();
    let total = &outcome.stats.total;
    assert_eq!(
        (total.num_unanswered, total.num_unanswered_mid_body),
        (2, 2)
    );
    let said = stampede::advanced::report::problems(&outcome.stats.summary(0.0, 0, Vec::new()));
    assert!(
        said.contains("2 of them had their response head, and the body was still arriving"),
        "{said}"
    );
    assert!(!said.contains("never responded"), "{said}");
}

#[tokio::test]
async fn garbage_fails_while_waiting_for_the_headers() {
    let srv = raw::start(Fault::Garbage).await;
    let (mut c, _stats) = common::client(srv.url());
    let e = c.get("/").send().await.unwrap_err();
    assert!(
        e.reason.starts_with(&format!(
            "failed while waiting for the response headers ({})",
            srv.addr
        )),
        "{}",
        e.reason
    );
}

#[tokio::test]
async fn unique_failure_texts_are_capped_per_endpoint() {
    let srv = raw::start(Fault::UniqueBadRedirect).await;
    let (mut c, stats) = common::client(srv.url());
    for _ in 0..250 {
        c.get("/").send().await.unwrap_err();
    }
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!(s.total.num_failures, 250);
    assert_eq!(
        s.errors.len(),
        101,
        "100 distinct texts and one overflow row"
    );
    let other = s
        .errors
        .values()
        .find(|e| e.error == stampede::advanced::stats::OTHER_FAILURES)
        .expect("an overflow row");
    assert_eq!(other.occurrences, 150);
}

#[tokio::test]
async fn resolve_pins_a_name_and_each_failure_names_its_phase() {
    let srv = raw::start(Fault::CloseAfterEach).await;
    let mut cfg = stampede::advanced::client::ClientConfig::new(false);
    cfg.resolve = vec![format!("shop.test:{}:127.0.0.1", srv.addr.port())
        .parse()
        .unwrap()]
    .into();
    let base = format!("http://shop.test:{}/", srv.addr.port())
        .parse()
        .unwrap();
    let (mut c, _stats) = common::client_with(base, cfg);
    assert_eq!(c.get("/").send().await.unwrap().text(), "ok");
    // A name nobody can resolve (RFC 2606 reserves .invalid) fails in the DNS phase.
    let e = c
        .get("http://no-such-host.invalid/")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.reason
            .contains("resolving the host name (no-such-host.invalid:80)"),
        "{}",
        e.reason
    );
}

#[tokio::test]
async fn a_keep_alive_timeout_the_server_announces_is_honoured() {
    let srv = raw::start(Fault::AnnouncesKeepAlive(30)).await;
    let (mut c, _stats) = common::client(srv.url());
    c.get("/").send().await.unwrap();
    c.get("/").send().await.unwrap();
    assert_eq!(srv.connections(), 1, "reused while the server keeps it");
    // Idle past the announced 30 s (less a margin): the next request opens a new
    // connection instead of racing the server's close.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(30)).await;
    tokio::time::resume();
    c.get("/").send().await.unwrap();
    assert_eq!((srv.connections(), srv.requests()), (2, 3));
}

/// Resident memory of process `pid` in MB, while it lives.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The `hello` plan run as a user would, against a fault server: peak memory and report.
async fn hello_against(fault: Fault) -> (f64, serde_json::Value) {
    let srv = raw::start(fault).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut child = std::process::Command::new(common::example("hello"))
        .args(["--host", srv.url().as_str(), "--headless", "--only-summary"])
        .args(["-u", "2", "-r", "2", "-t", "4s", "--request-timeout", "1s"])
        .arg("--report-json")
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let peak = tokio::task::spawn_blocking(move || {
        let mut peak = 0f64;
        // Bounded: the run lasts 4 s; 30 s is the most it may take to end.
        for _ in 0..300 {
            if let Ok(Some(_)) = child.try_wait() {
                return peak;
            }
            peak = peak.max(rss_mb(child.id()).unwrap_or(0.0));
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("hello did not end within 30 s");
    })
    .await
    .unwrap();
    let report =
        serde_json::from_slice(&std::fs::read(&report).expect("the report is written")).unwrap();
    (peak, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_against_an_endless_body() {
    let (peak, report) = hello_against(Fault::EndlessBody).await;
    assert!(peak < 200.0, "peak RSS {peak:.0} MB");
    let failures = report["failures"].as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["error"]
            .as_str()
            .unwrap()
            .starts_with("timed out after 1s reading the response body")),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_failure_texts_stay_capped_in_a_whole_run() {
    let (peak, report) = hello_against(Fault::UniqueBadRedirect).await;
    assert!(peak < 200.0, "peak RSS {peak:.0} MB");
    let failures = report["failures"].as_array().unwrap();
    assert!(report["total"]["num_failures"].as_u64().unwrap() > 101);
    assert_eq!(
        failures.len(),
        101,
        "100 distinct texts and 'other failures'"
    );
}

#[tokio::test]
async fn a_post_after_idleness_reuses_a_connection_its_server_has_kept() {
    let srv = raw::start(Fault::AnnouncesKeepAlive(300)).await;
    let (mut c, _stats) = common::client(srv.url());
    c.get("/").send().await.unwrap();
    c.post("/").form(&[("a", "1")]).send().await.unwrap();
    assert_eq!(
        srv.connections(),
        1,
        "a POST right after an answer reuses the connection"
    );
    // Seconds of idleness: the socket is looked at before reuse and found open, and this
    // server has never been seen closing an idle connection, so a POST reuses it as a GET
    // does (as requests and browsers do). tests/nginx_keepalive.rs has POSTs keep clear of
    // a timeout once one has shown.
    for _ in 0..2 {
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::time::resume();
        c.get("/").send().await.unwrap();
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(2)).await;
        tokio::time::resume();
        c.post("/").form(&[("a", "1")]).send().await.unwrap();
    }
    assert_eq!((srv.connections(), srv.requests()), (1, 6));
}

#[tokio::test]
async fn a_server_hanging_up_after_each_answer_is_learned_and_its_posts_get_fresh_connections() {
    let srv = raw::start(Fault::CloseAfterEach).await;
    let (mut c, stats) = common::client(srv.url());
    // The POST follows its GET at once: the server's close may not be seen in time, once.
    // After that the client knows this server hangs up, and opens a connection per POST.
    for _ in 0..100 {
        c.get("/").send().await.unwrap();
        let _ = c.post("/").form(&[("a", "1")]).send().await;
    }
    c.recorder().flush();
    let s = stats.snapshot().await;
    let post = &s.entries[&("/".to_owned(), "POST".to_owned())];
    assert!(post.num_failures <= 1, "{} POSTs failed", post.num_failures);
    assert_eq!(
        srv.requests(),
        200 - post.num_failures,
        "a failed POST never reached it"
    );
}

#[tokio::test]
async fn a_cookie_flood_is_capped_like_a_browser_would() {
    let srv = raw::start(Fault::CookieFlood).await;
    let (mut c, _stats) = common::client(srv.url());
    for _ in 0..20 {
        c.get("/").send().await.unwrap();
    }
    // 20 answers of 50 new cookies each: the jar keeps 180, and the Cookie header stays
    // the size of 180 cookies.
    let sent = c.get("/echo").send().await.unwrap();
    assert!(
        sent.content_length() < 180 * 40,
        "{} bytes of cookies",
        sent.content_length()
    );
}

#[tokio::test]
async fn max_cookies_caps_the_jar() {
    let srv = raw::start(Fault::CookieFlood).await;
    let mut cfg = stampede::advanced::client::ClientConfig::new(false);
    cfg.max_cookies = 5;
    let (mut c, _stats) = common::client_with(srv.url(), cfg);
    c.get("/").send().await.unwrap();
    c.get("/").send().await.unwrap();
    // The server answers with the request's Cookie header: the first five cookies it set.
    let sent = c.get("/echo").send().await.unwrap().text();
    assert_eq!(sent.matches('=').count(), 5, "{sent}");
}

#[tokio::test]
async fn a_stale_connection_after_long_idleness_is_an_idle_timeout_not_a_quick_closer() {
    let srv = raw::start(Fault::DropSecond).await;
    let (mut c, _stats) = common::client(srv.url());
    c.get("/").send().await.unwrap();
    // Two seconds idle, then the server drops the request: an idle timeout, as nginx's. The
    // GET is resent, and the server is not taken for one that hangs up after every answer...
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    c.get("/").send().await.unwrap();
    assert_eq!(srv.connections(), 2);
    // ...so a POST at once still reuses the kept-alive connection (which this server then
    // drops too: the failure shows the connection was reused, not a fresh one opened).
    let e = c.post("/").form(&[("a", "1")]).send().await.unwrap_err();
    assert!(
        e.reason
            .starts_with("server closed the kept-alive connection"),
        "{}",
        e.reason
    );
    assert_eq!(srv.connections(), 2);
}
