//! Allocations per request, counted by a counting global allocator (`stats_alloc`): a
//! kept-alive GET (with `.send()` and with `.await`, whose future is boxed), a form POST
//! with cookies, and a redirect. Beside them, hyper's own client alone on the same GET: the
//! floor Stampede cannot go below while it uses hyper.
//!
//! ```text
//! cargo bench --bench allocations
//! ```
//!
//! The target is a small HTTP/1.1 responder on a std thread that allocates nothing per
//! request, so every allocation counted is the client's (its session, its statistics and
//! the runtime). One current-thread runtime; 200 requests of warm-up, then 2,000 counted.

use std::alloc::System;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use stampede::advanced::client::ClientConfig;
use stampede::advanced::stats::{spawn_aggregator, UserCounts};
use stampede::Client;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARM: usize = 200;
const COUNTED: usize = 2000;

const PAGE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const LOGIN: &[u8] = b"HTTP/1.1 200 OK\r\nSet-Cookie: csrftoken=abc123def456; Path=/\r\nSet-Cookie: sessionid=s3ss10n; Path=/\r\nContent-Length: 2\r\n\r\nok";
const FOUND: &[u8] = b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The body length a request head announces (0 without one).
fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
            name.eq_ignore_ascii_case(b"content-length")
                .then(|| std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// One connection: answers each request by its path, from a fixed buffer.
fn answer(mut s: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    let mut filled = 0;
    loop {
        let Some(end) = find(&buf[..filled], b"\r\n\r\n") else {
            match s.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            continue;
        };
        let whole = end + 4 + content_length(&buf[..end]);
        if filled < whole {
            match s.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            continue;
        }
        let response = if buf.starts_with(b"GET /login ") {
            LOGIN
        } else if buf.starts_with(b"GET /redirect ") {
            FOUND
        } else {
            PAGE
        };
        if s.write_all(response).is_err() {
            return;
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
}

fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || answer(s));
        }
    });
    addr
}

/// Allocations and bytes per request over `COUNTED` runs of `$req`, after `WARM`.
macro_rules! per_request {
    ($req:expr) => {{
        for _ in 0..WARM {
            $req.await;
        }
        let region = Region::new(GLOBAL);
        for _ in 0..COUNTED {
            $req.await;
        }
        let c = region.change();
        let n = COUNTED as f64;
        (
            (c.allocations + c.reallocations) as f64 / n,
            c.bytes_allocated as f64 / n,
        )
    }};
}

async fn hyper_get(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
) {
    use http_body_util::BodyExt;
    let req = http::Request::get("/")
        .header(http::header::HOST, "127.0.0.1")
        .body(http_body_util::Empty::new())
        .expect("a valid request");
    let resp = sender.send_request(req).await.expect("an answer");
    resp.into_body().collect().await.expect("a body");
}

fn main() {
    let addr = serve();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rows = rt.block_on(async {
        let counts = Arc::new(UserCounts::new(vec!["T".into()]));
        let stats = spawn_aggregator(counts, "bench".into(), false, Default::default());
        let base: url::Url = format!("http://{addr}/").parse().expect("a URL");
        let mut c = Client::new(base, ClientConfig::new(false), stats.recorder());
        let ok = |r: Result<stampede::Response, stampede::RequestError>| {
            r.expect("the request succeeds");
        };
        let mut rows = Vec::new();
        rows.push((
            "GET, kept alive (`.send()`)",
            per_request!(async { ok(c.get("/").send().await) }),
        ));
        rows.push((
            "GET, kept alive (`.await`: boxed)",
            per_request!(async {
                c.get("/").await.expect("the request succeeds");
            }),
        ));
        ok(c.get("/login").send().await);
        assert!(c.cookie("sessionid").is_some());
        let form = [
            ("csrfmiddlewaretoken", "abc123def456"),
            ("email", "jane@example.com"),
        ];
        rows.push((
            "form POST with 2 cookies",
            per_request!(async { ok(c.post("/form").form(&form).send().await) }),
        ));
        rows.push((
            "redirect (302, then the GET)",
            per_request!(async { ok(c.get("/redirect").send().await) }),
        ));
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("a connection");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("a handshake");
        tokio::spawn(conn);
        rows.push((
            "hyper alone: GET, kept alive",
            per_request!(hyper_get(&mut sender)),
        ));
        rows
    });
    println!("Allocations per request ({COUNTED} counted after {WARM} of warm-up; the client's whole process):\n");
    println!("| request | allocations | bytes allocated |");
    println!("|---|---|---|");
    for (name, (allocs, bytes)) in rows {
        println!("| {name} | {allocs:.2} | {bytes:.0} |");
    }
}
