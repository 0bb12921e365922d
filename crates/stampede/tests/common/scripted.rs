//! Scripted loopback servers for the HTTP/1.1 client's edge cases (`tests/http1_edges.rs`,
//! `tests/http1_connections.rs`): each accepted connection follows a script of reads,
//! writes, drips, resets and marks, so a test says exactly what the server does.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stampede::{Client, RequestError, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One step of a scripted connection.
#[derive(Clone)]
pub enum S {
    /// Read one request: its head and its `Content-Length` body.
    Req,
    /// Read one request's head only (the body is left unread).
    ReqHead,
    W(Vec<u8>),
    /// Write one byte at a time, flushing each.
    Drip(Vec<u8>),
    Sleep(u64),
    /// `SO_LINGER` 0, then drop: the peer gets an RST.
    Rst,
    /// Keep the connection open until the client closes it.
    Hold,
    /// Write `piece` up to `n` times, stopping at the first write error.
    Endless(Vec<u8>, usize),
    /// Read and drop this many body bytes (after a `ReqHead`).
    Drain(usize),
    /// Count one mark: the test waits for it (`Srv::marked`) instead of for a time.
    Mark,
}
pub use S::*;

pub fn w(b: &[u8]) -> S {
    W(b.to_vec())
}

pub struct Srv {
    pub url: url::Url,
    pub conns: Arc<AtomicU64>,
    /// Request lines read, in order.
    pub reqs: Arc<Mutex<Vec<String>>>,
    /// `Mark` steps passed, and scripts ended (their connection dropped or reset).
    pub marks: Arc<AtomicU64>,
    pub ended: Arc<AtomicU64>,
}

#[rustfmt::skip]
impl Srv {
    pub fn conns(&self) -> u64 { self.conns.load(SeqCst) }
    pub fn reqs(&self) -> Vec<String> { self.reqs.lock().unwrap().clone() }
    /// Waits (up to 10 s) until `n` marks were passed.
    pub async fn marked(&self, n: u64) { until(&self.marks, n).await }
    /// Waits (up to 10 s) until `n` scripts have ended.
    pub async fn ended(&self, n: u64) { until(&self.ended, n).await }
}

/// Waits until `counter` reaches `n`: an order of events, not a length of time.
pub async fn until(counter: &AtomicU64, n: u64) {
    for _ in 0..1000 {
        if counter.load(SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never got there");
}

/// A server whose n-th connection runs `scripts[n]` (the last script for later ones); the
/// connection is dropped (a FIN) when its script ends.
#[rustfmt::skip]
pub async fn serve(scripts: Vec<Vec<S>>) -> Srv {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
    let (conns, reqs) = (Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())));
    let (marks, ended) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let srv = Srv { url, conns: conns.clone(), reqs: reqs.clone(), marks: marks.clone(), ended: ended.clone() };
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let n = conns.fetch_add(1, SeqCst) as usize;
            let script = scripts[n.min(scripts.len() - 1)].clone();
            let (reqs, marks, ended) = (reqs.clone(), marks.clone(), ended.clone());
            tokio::spawn(async move {
                run(sock, script, reqs, &marks).await;
                ended.fetch_add(1, SeqCst);
            });
        }
    });
    srv
}

/// Runs `script` on one connection; any write error ends it.
#[rustfmt::skip]
pub async fn run(mut sock: TcpStream, script: Vec<S>, reqs: Arc<Mutex<Vec<String>>>, marks: &AtomicU64) {
    let mut buf = Vec::new();
    for step in script {
        let ok = match step {
            Req | ReqHead => match read_req(&mut sock, &mut buf, matches!(step, Req)).await {
                Some(line) => { reqs.lock().unwrap().push(line); true }
                None => false,
            },
            W(b) => sock.write_all(&b).await.is_ok(),
            Drip(b) => {
                let mut ok = true;
                for byte in b {
                    ok = ok && sock.write_all(&[byte]).await.is_ok();
                    tokio::task::yield_now().await;
                }
                ok
            }
            Sleep(ms) => { tokio::time::sleep(Duration::from_millis(ms)).await; true }
            Mark => { marks.fetch_add(1, SeqCst); true }
            Rst => { let _ = sock.set_zero_linger(); false }
            Hold => {
                let mut tmp = [0u8; 4096];
                let limit = Duration::from_secs(20);
                while let Ok(Ok(n @ 1..)) = tokio::time::timeout(limit, sock.read(&mut tmp)).await { let _ = n; }
                false
            }
            Drain(mut n) => {
                let mut tmp = vec![0u8; 64 * 1024];
                let had = n.min(buf.len());
                buf.drain(..had);
                n -= had;
                while n > 0 {
                    match sock.read(&mut tmp[..n.min(64 * 1024)]).await { Ok(0) | Err(_) => break, Ok(k) => n -= k }
                }
                n == 0
            }
            Endless(piece, n) => {
                let mut ok = true;
                for _ in 0..n { ok = ok && sock.write_all(&piece).await.is_ok(); if !ok { break; } }
                ok
            }
        };
        if !ok {
            return;
        }
    }
}

/// Reads a request head (and its body when `body`), returning its request line.
#[rustfmt::skip]
pub async fn read_req(sock: &mut TcpStream, buf: &mut Vec<u8>, body: bool) -> Option<String> {
    let mut tmp = vec![0u8; 64 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|x| x == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let len: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            if body {
                while buf.len() < len {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return None,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                buf.drain(..len);
            }
            return Some(head.lines().next().unwrap_or("").to_owned());
        }
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

pub async fn get(c: &mut Client, path: &str) -> Result<Response, RequestError> {
    tokio::time::timeout(Duration::from_secs(15), c.get(path).send())
        .await
        .expect("the client hung")
}

/// A single GET answered with `answer` on a fresh server that then closes.
pub async fn answer(answer: &[u8]) -> Result<Response, RequestError> {
    let srv = serve(vec![vec![Req, w(answer)]]).await;
    let (mut c, _stats) = super::client(srv.url.clone());
    get(&mut c, "/").await
}

/// The reason a GET answered with `bytes` failed.
#[rustfmt::skip]
pub async fn fails(bytes: &[u8]) -> String {
    let e = answer(bytes).await.expect_err("the answer was refused");
    eprintln!("{:?} -> {}", String::from_utf8_lossy(&bytes[..bytes.len().min(80)]), e.reason);
    e.reason
}

#[rustfmt::skip]
pub async fn body_of(bytes: &[u8]) -> Vec<u8> {
    let r = answer(bytes).await.unwrap_or_else(|e| panic!("{}", e.reason));
    r.bytes().to_vec()
}

pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
pub const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------- 1. framing
