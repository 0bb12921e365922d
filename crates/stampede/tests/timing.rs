//! Response times from the kernel's receive timestamps: a client whose thread is blocked
//! while the answer arrives still reports the server's time, not its own lateness; and
//! the breakdown (connections, DNS, connect, time to first byte) adds up.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A server on its own OS thread (so starving the client's runtime cannot delay it) that
/// answers every request on a connection after `delay`.
fn delayed_server(delay: Duration) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        std::thread::sleep(delay);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(answer).is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    url.parse().unwrap()
}

#[tokio::test]
async fn a_starved_client_still_reports_the_servers_time() {
    let delay = Duration::from_millis(50);
    let base = delayed_server(delay);
    let (mut c, stats) = common::client(base);
    let first = c.get("/").send().await.unwrap();
    assert!(first.elapsed() >= delay, "{:?}", first.elapsed());

    // This runtime has one thread: a task that blocks it for 1 s, starting 10 ms after the
    // request is written, keeps the client from reading the answer that arrives at 50 ms
    // until 1010 ms. The bound below leaves the server's thread 550 ms of scheduling
    // delay on a busy machine.
    let hog = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        std::thread::sleep(Duration::from_millis(1000));
    });
    let wall = Instant::now();
    let starved = c.get("/").send().await.unwrap();
    let wall = wall.elapsed();
    hog.await.unwrap();
    assert!(
        wall >= Duration::from_millis(1000),
        "the client was starved ({wall:?})"
    );
    assert!(
        starved.elapsed() >= delay && starved.elapsed() < Duration::from_millis(600),
        "the kernel's arrival time was used: {:?} reported, {wall:?} on the wall clock",
        starved.elapsed()
    );

    let snap = stats.snapshot().await;
    let t = snap.total.timing;
    assert_eq!(t.kernel_timed, 2, "both requests were timed by the kernel");
    assert_eq!(t.connections, 1, "one connection, reused");
    assert_eq!(t.ttfb_n, 2);
    let ttfb_ms = t.ttfb_us as f64 / 2000.0;
    assert!(
        (50.0..600.0).contains(&ttfb_ms),
        "time to first byte {ttfb_ms} ms"
    );
    // The table's maximum is the server's time too, not the starved 1 s.
    assert!(snap.total.max_ms() < 600.0, "{}", snap.total.max_ms());
}

#[tokio::test]
async fn the_breakdown_counts_every_new_connection() {
    let base = delayed_server(Duration::ZERO);
    let (mut c, stats) = common::client(base);
    for _ in 0..3 {
        c.get("/").send().await.unwrap();
        c.close_connections();
    }
    c.get("/").send().await.unwrap();
    c.get("/").send().await.unwrap();
    let t = stats.snapshot().await.total.timing;
    assert_eq!(
        t.connections, 4,
        "four opened, the fifth request reused one"
    );
    assert_eq!(t.kernel_timed, 5);
    assert_eq!(t.ttfb_n, 5);
    assert_eq!(t.tls_us, 0, "no TLS on http");
}

/// An arrival whose `on_start` takes 300 ms before its request: the open model times the
/// request from when the arrival was due, so the delay shows as latency.
struct Late(stampede::Client);
impl Late {
    async fn warm_up(&mut self) -> stampede::TaskResult {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }
    async fn visit(&mut self) -> stampede::TaskResult {
        self.0.get("/").name("visit").send().await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_times_a_request_from_its_arrival() {
    use stampede::prelude::*;
    let base = delayed_server(Duration::ZERO);
    let plan = Plan::new().user_type(
        UserType::new("Late", |ctx| Late(ctx.client()))
            .on_start(Late::warm_up)
            .task(task!(Late::visit))
            .arrival_rate(10.0),
    );
    let mut cfg = stampede::advanced::swarm::SwarmConfig::new(base);
    cfg.stop_timeout = Duration::from_secs(5);
    let s = plan.swarm(cfg).unwrap();
    s.runner.start(0, 1.0, None);
    let until = Instant::now() + Duration::from_secs(10);
    while s.stats.summary().await.total.num_requests < 5 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.runner.stop().await;
    let total = s.stats.snapshot().await.total;
    assert!(total.num_requests >= 5, "{}", total.num_requests);
    assert!(
        total.min_ms() >= 300.0,
        "every request counts its arrival's 300 ms on_start: min {} ms",
        total.min_ms()
    );
    assert!(
        total.timing.ttfb_n >= 5,
        "and the server's own part is known: {:?}",
        total.timing
    );
    let ttfb_ms = total.timing.ttfb_us as f64 / total.timing.ttfb_n as f64 / 1000.0;
    assert!(ttfb_ms < 100.0, "time to first byte {ttfb_ms} ms");
}

/// A paced user (a task every 100 ms) whose every fifth request stalls 450 ms.
struct Paced(stampede::Client, u32);
impl Paced {
    async fn visit(&mut self) -> stampede::TaskResult {
        self.1 += 1;
        let ms = if self.1.is_multiple_of(5) { 450 } else { 5 };
        self.0
            .get(format!("/slow?ms={ms}"))
            .name("paced")
            .send()
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correct_omission_adds_the_requests_a_stall_never_sent() {
    use stampede::prelude::*;
    let srv = common::start().await;
    for correct in [false, true] {
        let plan = Plan::new().user_type(
            UserType::new("Paced", |ctx| Paced(ctx.client(), 0))
                .wait_time(constant_pacing(0.1))
                .task(task!(Paced::visit)),
        );
        let mut cfg = stampede::advanced::swarm::SwarmConfig::new(srv.url());
        cfg.correct_omission = correct;
        let s = plan.swarm(cfg).unwrap();
        s.runner.start(1, 10.0, None);
        let until = Instant::now() + Duration::from_secs(20);
        while s.stats.summary().await.total.num_requests < 10 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.runner.stop().await;
        let total = s.stats.snapshot().await.total;
        let n = total.num_requests;
        assert!(n >= 10, "{n}");
        let Some(corrected) = &total.corrected else {
            assert!(
                !correct,
                "the corrected histogram exists only when asked for"
            );
            continue;
        };
        assert!(correct);
        // Each 450 ms stall stands for the 3 to 4 paced requests it held up.
        let stalls = n / 5;
        assert!(
            corrected.len() >= n + 3 * stalls,
            "{} corrected samples for {n} requests",
            corrected.len()
        );
        let (raw, fixed) = (
            total.percentile_ms(0.75),
            total.corrected_percentile_ms(0.75).unwrap(),
        );
        assert!(
            raw < 100.0 && fixed > 100.0,
            "p75 raw {raw} ms, corrected {fixed} ms"
        );
        assert_eq!(total.histogram.len(), n, "the raw figures are untouched");
    }
}
