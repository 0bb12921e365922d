//! Bytes a server writes on an idle keep-alive connection (a late `HTTP/1.1 500`, a close)
//! must not become the next request's answer (issue 24, item 6).
//!
//! The servers here answer a request, then wait for the test to say what to do on the idle
//! connection: write a stray answer, or close it. The test then waits until the kernel
//! holds those bytes (or the close) in the client's socket, read from /proc/net/tcp, and
//! only then sends the next request. It waits by blocking the runtime's only thread, as a
//! busy load generator would: its reactor has not yet seen what arrived, so a check that
//! asks the reactor's cached readiness, not the socket, misses it.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const STRAY: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
/// The longest any one wait of these tests lasts before it fails.
const BOUND: Duration = Duration::from_secs(10);

/// What the server does on the idle connection once it has answered.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Writes [`STRAY`] and keeps the connection.
    Stray,
    /// Closes the connection, without having said `Connection: close`.
    Close,
    /// Nothing: the connection stays open and quiet.
    Nothing,
}

/// A server that answers one request at a time and then does what it is told.
struct Server {
    port: u16,
    /// The test's orders, one per answered request.
    orders: mpsc::Sender<Then>,
    /// The client's port, once an order has been carried out.
    done: mpsc::Receiver<u16>,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

impl Server {
    /// Orders `then` for the connection that answered last, and waits until the client's
    /// kernel holds the result: the stray bytes unread in its socket, or the close.
    fn order(&self, then: Then, stray_len: usize) {
        self.orders.send(then).unwrap();
        let port = self
            .done
            .recv_timeout(BOUND)
            .expect("the server carried it out");
        let deadline = Instant::now() + BOUND;
        loop {
            let (state, unread) = socket(port, self.port).expect("the client's socket");
            let there = match then {
                Then::Stray => unread >= stray_len as u64,
                // CLOSE_WAIT: the server's FIN has come, the client has not closed.
                Then::Close => state == 0x08,
                Then::Nothing => true,
            };
            if there {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{then:?} never reached the client"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// The TCP state and the unread bytes of the socket on 127.0.0.1:`local` connected to
/// port `remote`, as /proc/net/tcp has them.
fn socket(local: u16, remote: u16) -> Option<(u8, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || port(f[1])? != local || port(f[2])? != remote {
            return None;
        }
        let state = u8::from_str_radix(f[3], 16).ok()?;
        let unread = u64::from_str_radix(f[4].split(':').nth(1)?, 16).ok()?;
        Some((state, unread))
    })
}

/// The length of the request head (and its `Content-Length` body) at the start of `buf`.
fn whole_request(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let body: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    (buf.len() >= end + body).then_some(end + body)
}

/// A plain HTTP server on 127.0.0.1:0, one connection at a time (the client keeps one).
fn plain_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (orders, take) = mpsc::channel::<Then>();
    let (tell, done) = mpsc::channel();
    let requests = Arc::new(AtomicU64::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let (reqs, conns) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { return };
            conns.fetch_add(1, Ordering::SeqCst);
            let peer = sock.peer_addr().unwrap().port();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            'conn: loop {
                while let Some(len) = whole_request(&seen) {
                    seen.drain(..len);
                    reqs.fetch_add(1, Ordering::SeqCst);
                    if sock.write_all(OK).is_err() {
                        break 'conn;
                    }
                    let Ok(then) = take.recv() else { return };
                    match then {
                        Then::Stray => sock.write_all(STRAY).unwrap(),
                        Then::Close => {
                            let _ = sock.shutdown(std::net::Shutdown::Both);
                            tell.send(peer).unwrap();
                            break 'conn;
                        }
                        Then::Nothing => {}
                    }
                    tell.send(peer).unwrap();
                }
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
    Server {
        port,
        orders,
        done,
        requests,
        connections,
    }
}

/// The statuses of `n` requests, alternately GET and POST, each followed by `then` on the
/// idle connection; and the failures the stats counted.
async fn run(srv: &Server, base: &str, then: Then, n: usize, insecure: bool) -> (Vec<u16>, u64) {
    let config = stampede::advanced::client::ClientConfig::new(insecure);
    let (mut c, stats) = common::client_with(base.parse().unwrap(), config);
    let mut statuses = Vec::new();
    for i in 0..n {
        let sent = if i % 2 == 0 {
            c.get("/").send().await
        } else {
            c.post("/").form(&[("a", "1")]).send().await
        };
        let status = match sent {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.response.map_or(0, |r| r.status().as_u16()),
        };
        statuses.push(status);
        if status != 200 {
            break; // the server now waits for a connection, not for an order
        }
        // Blocks this thread, the runtime's only one: nothing polls the reactor meanwhile.
        srv.order(then, STRAY.len());
    }
    c.recorder().flush();
    (statuses, stats.snapshot().await.total.num_failures)
}

#[tokio::test]
async fn a_stray_answer_on_an_idle_connection_is_not_the_next_requests_answer() {
    let srv = plain_server();
    let base = format!("http://127.0.0.1:{}/", srv.port);
    let (statuses, failures) = run(&srv, &base, Then::Stray, 10, false).await;
    assert_eq!(statuses, vec![200; 10], "every request got its own answer");
    assert_eq!(failures, 0);
    assert_eq!(srv.requests(), 10, "each request reached the server once");
    // Each stray answer spoils its connection: the next request opens another.
    assert_eq!(srv.connections(), 10);
}

#[tokio::test]
async fn a_close_not_yet_seen_by_the_runtime_is_seen_before_a_post_is_written() {
    let srv = plain_server();
    let base = format!("http://127.0.0.1:{}/", srv.port);
    // Every request, POSTs included, finds its connection closed and opens a new one: none
    // is written into the closed one (a POST written there would fail, unrepeatable).
    let (statuses, failures) = run(&srv, &base, Then::Close, 10, false).await;
    assert_eq!(statuses, vec![200; 10]);
    assert_eq!(failures, 0);
    assert_eq!((srv.requests(), srv.connections()), (10, 10));
}

#[tokio::test]
async fn a_quiet_idle_connection_is_kept_for_gets_and_posts_alike() {
    let srv = plain_server();
    let base = format!("http://127.0.0.1:{}/", srv.port);
    let (statuses, failures) = run(&srv, &base, Then::Nothing, 10, false).await;
    assert_eq!(statuses, vec![200; 10]);
    assert_eq!(failures, 0);
    assert_eq!((srv.requests(), srv.connections()), (10, 1));
}

fn self_signed(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is on every Debian machine");
    assert!(out.status.success(), "{out:?}");
}

/// The same server over TLS, on a runtime of its own: the test's thread blocks.
fn tls_server(dir: &Path) -> Server {
    let certs = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (orders, take) = mpsc::channel::<Then>();
    let (tell, done) = mpsc::channel();
    let requests = Arc::new(AtomicU64::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let (reqs, conns) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((sock, peer)) = listener.accept().await {
                conns.fetch_add(1, Ordering::SeqCst);
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    continue;
                };
                let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
                'conn: loop {
                    while let Some(len) = whole_request(&seen) {
                        seen.drain(..len);
                        reqs.fetch_add(1, Ordering::SeqCst);
                        if tls.write_all(OK).await.is_err() {
                            break 'conn;
                        }
                        // Orders come while this runtime has nothing else to do.
                        let Ok(then) = take.recv() else { return };
                        if let Then::Stray = then {
                            tls.write_all(STRAY).await.unwrap();
                            tls.flush().await.unwrap();
                        }
                        tell.send(peer.port()).unwrap();
                    }
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
            }
        });
    });
    Server {
        port,
        orders,
        done,
        requests,
        connections,
    }
}

#[tokio::test]
async fn over_tls_the_socket_under_the_session_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let srv = tls_server(dir.path());
    let base = format!("https://127.0.0.1:{}/", srv.port);
    // A stray record (its length is TLS's business: any unread byte counts).
    let (statuses, failures) = run(&srv, &base, Then::Stray, 6, true).await;
    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(failures, 0);
    assert_eq!((srv.requests(), srv.connections()), (6, 6));
}

#[tokio::test]
async fn over_tls_a_quiet_connection_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let srv = tls_server(dir.path());
    let base = format!("https://127.0.0.1:{}/", srv.port);
    // The session tickets a TLS 1.3 server sends after the handshake are not stray bytes.
    let (statuses, failures) = run(&srv, &base, Then::Nothing, 6, true).await;
    assert_eq!(statuses, vec![200; 6]);
    assert_eq!(failures, 0);
    assert_eq!((srv.requests(), srv.connections()), (6, 1));
}
