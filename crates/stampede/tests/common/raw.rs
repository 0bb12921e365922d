//! Hand-rolled HTTP/1.1 servers on 127.0.0.1:0 that misbehave on purpose: close after
//! every answer without saying so, read a request and hang up, never answer, send garbage
//! or an endless body. Each counts the requests it read.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What the server does with each request, by its index on the connection (0, 1, ...).
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers, then closes without `Connection: close`.
    CloseAfterEach,
    /// Answers the first request on a connection, reads the second and hangs up.
    DropSecond,
    /// Reads requests and never answers.
    Silent,
    /// A head announcing 100 GiB, then zeros until the client goes away.
    EndlessBody,
    /// A body of this many bytes, correctly announced.
    BigBody(u64),
    /// Bytes that are not HTTP.
    Garbage,
    /// A redirect to a different unparseable URL every time.
    UniqueBadRedirect,
    /// Keeps the connection and says for how long: `Keep-Alive: timeout=N`.
    AnnouncesKeepAlive(u64),
    /// Sets 50 new cookies on every answer; answers with the request's `Cookie` header.
    CookieFlood,
    /// Answers with `Connection: close`, half-closes, and waits for the client to close
    /// (gunicorn's graceful close, RFC 9112 §9.6).
    LingersForClose,
}

pub struct RawServer {
    pub addr: SocketAddr,
    /// Requests read, whole heads.
    pub requests: Arc<AtomicU64>,
    /// Connections accepted.
    pub connections: Arc<AtomicU64>,
    /// Notified after the server closed a connection.
    pub closed: Arc<Notify>,
    /// Notified after each request was read.
    pub read_one: Arc<Notify>,
}

impl RawServer {
    pub fn url(&self) -> url::Url {
        format!("http://{}/", self.addr).parse().unwrap()
    }
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

pub async fn start(fault: Fault) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = RawServer {
        addr: listener.local_addr().unwrap(),
        requests: Arc::default(),
        connections: Arc::default(),
        closed: Arc::default(),
        read_one: Arc::default(),
    };
    let (requests, connections, closed, read_one) = (
        srv.requests.clone(),
        srv.connections.clone(),
        srv.closed.clone(),
        srv.read_one.clone(),
    );
    tokio::spawn(async move {
        let counter = Arc::new(AtomicU64::new(0));
        while let Ok((sock, _)) = listener.accept().await {
            connections.fetch_add(1, Ordering::SeqCst);
            let (requests, closed, read_one, counter) = (
                requests.clone(),
                closed.clone(),
                read_one.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                serve(sock, fault, &requests, &read_one, &counter).await;
                closed.notify_one();
            });
        }
    });
    srv
}

async fn serve(
    sock: TcpStream,
    fault: Fault,
    requests: &AtomicU64,
    read_one: &Notify,
    counter: &AtomicU64,
) {
    let (read, mut write) = sock.into_split();
    let mut read = BufReader::new(read);
    for index in 0.. {
        let Some(last_cookie) = read_request(&mut read).await else {
            return;
        };
        requests.fetch_add(1, Ordering::SeqCst);
        read_one.notify_one();
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        match fault {
            Fault::CloseAfterEach => {
                let _ = write.write_all(ok.as_bytes()).await;
                return;
            }
            Fault::LingersForClose => {
                let bye = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
                let _ = write.write_all(bye.as_bytes()).await;
                let _ = write.shutdown().await;
                // Returns (and notifies `closed`) once the client has closed its side.
                while read_request(&mut read).await.is_some() {}
                return;
            }
            Fault::DropSecond if index == 0 => {
                let _ = write.write_all(ok.as_bytes()).await;
            }
            Fault::DropSecond => return,
            Fault::Silent => {}
            Fault::EndlessBody => {
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 107374182400\r\n\r\n";
                let _ = write.write_all(head.as_bytes()).await;
                let zeros = vec![0u8; 64 * 1024];
                while write.write_all(&zeros).await.is_ok() {}
                return;
            }
            Fault::BigBody(n) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                let _ = write.write_all(head.as_bytes()).await;
                let zeros = vec![b'x'; 64 * 1024];
                let mut left = n;
                while left > 0 {
                    let k = left.min(zeros.len() as u64) as usize;
                    if write.write_all(&zeros[..k]).await.is_err() {
                        return;
                    }
                    left -= k as u64;
                }
            }
            Fault::Garbage => {
                let _ = write.write_all(b"\x00\x01garbage, not HTTP\r\n\r\n").await;
                return;
            }
            Fault::AnnouncesKeepAlive(secs) => {
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nKeep-Alive: timeout={secs}\r\nContent-Length: 2\r\n\r\nok"
                );
                let _ = write.write_all(resp.as_bytes()).await;
            }
            Fault::CookieFlood => {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let mut head = String::from("HTTP/1.1 200 OK\r\n");
                for i in 0..50 {
                    head.push_str(&format!("Set-Cookie: c{n}_{i}=v; Path=/\r\n"));
                }
                let body = last_cookie.as_deref().unwrap_or("");
                head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
                let _ = write.write_all(head.as_bytes()).await;
            }
            Fault::UniqueBadRedirect => {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let resp = format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://bad host {n}/\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = write.write_all(resp.as_bytes()).await;
            }
        }
    }
}

/// Reads one request head and its `Content-Length` body: `None` at end of stream, else the
/// request's `Cookie` header, if any.
async fn read_request(read: &mut BufReader<OwnedReadHalf>) -> Option<Option<String>> {
    let mut length = 0usize;
    let mut first = true;
    let mut cookie = None;
    loop {
        let mut line = String::new();
        match read.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == "\r\n" && !first {
            break;
        }
        first = false;
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("cookie:") {
            cookie = Some(line["cookie:".len()..].trim().to_owned());
        }
    }
    let mut body = vec![0u8; length];
    read.read_exact(&mut body).await.ok()?;
    Some(cookie)
}
