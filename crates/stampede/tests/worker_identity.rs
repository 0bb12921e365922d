//! A worker's ZeroMQ identity is no credential: the UI shows it and it is easy to guess.
//! Admission under `--worker-token` belongs to the connection that presented the token, so
//! a peer that connects under an admitted worker's identity without the token hears
//! nothing and counts for nothing, and the real worker, reconnecting under its identity
//! with the token, takes its place back. Each case drives a real master and a real worker
//! over TCP on 127.0.0.1 and ends with exact counts: the master's totals are what the
//! worker counted, which is what the test server served. The last case drives the ROUTER
//! fork underneath on its own.

mod common;
mod fakes;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fakes::{master, real_worker, report, until, workers, Fake};
use futures_util::StreamExt;
use rmpv::Value;
use stampede::advanced::distributed::Admission;
use stampede::advanced::stats::unix_now;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zeromq::{
    DealerSocket, Endpoint, RouterSocket, Socket, SocketEvent, SocketOptions, SocketRecv,
    SocketSend, ZmqMessage,
};

const TOKEN: &str = "s3cret";

fn with_token() -> Admission {
    Admission {
        token: Some(TOKEN.into()),
        allow: vec![],
    }
}

/// What the master has counted so far.
async fn master_total(swarm: &stampede::advanced::swarm::Swarm) -> u64 {
    swarm.stats.summary().await.total.num_requests
}

/// A peer under `id`, without the token: it says `client_ready` as a Locust worker would,
/// forges a report of 777,777 requests, and beats.
async fn thief(port: u16, id: &str) -> Fake {
    let mut f = Fake::connect(port, id).await;
    f.say("client_ready", Value::from("2.47.0")).await;
    f.say("stats", report(777_777, 0, 20, unix_now(), 4)).await;
    f.beat().await;
    f
}

/// Ends the run, then checks that the master's totals are exactly the real worker's own
/// and that the test server served exactly those requests.
async fn finish_exact(
    swarm: stampede::advanced::swarm::Swarm,
    stop: stampede::CancellationToken,
    run: tokio::task::JoinHandle<stampede::advanced::Outcome>,
    srv: &common::TestServer,
) {
    swarm.runner.stop().await;
    swarm.runner.quit().await;
    stop.cancel();
    let outcome = run.await.unwrap();
    assert_eq!(outcome.exit_code, 0);
    let mine = &outcome.stats.total;
    let theirs = swarm.stats.snapshot().await.total;
    assert_eq!(
        (theirs.num_requests, theirs.num_unanswered),
        (mine.num_requests, mine.num_unanswered),
        "the master counted the real worker's requests and nothing else"
    );
    let sent = mine.num_requests + mine.num_unanswered;
    assert!(sent > 0, "the real worker sent load");
    assert_eq!(
        srv.hits.settled_at("/", sent).await,
        sent,
        "the server served what the worker counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borrowed_identity_without_the_token_hears_nothing_and_counts_nothing() {
    let srv = common::start().await;
    let (swarm, port) = master(with_token(), &srv).await;
    let relay = Relay::start(port).await;
    let (stop, run) = real_worker(relay.port, &["--worker-token", TOKEN]);
    until("the real worker joins", || workers(&swarm).len() == 1).await;
    let id = workers(&swarm)[0].id.clone();
    swarm.runner.start(4, 100.0, None);
    until("the real worker runs 4 users", || {
        workers(&swarm)[0].user_count == 4
    })
    .await;
    let mut thief = thief(port, &id).await;
    // New counts while the thief is connected: the spawn is the real worker's alone.
    swarm.runner.start(6, 100.0, None);
    until("the real worker runs 6 users", || {
        let w = workers(&swarm);
        w.len() == 1 && w[0].user_count == 6
    })
    .await;
    let heard = thief.heard(Duration::from_secs(1)).await;
    eprintln!("the thief heard {heard:?}");
    assert!(heard.is_empty(), "the thief heard {heard:?}");
    assert_eq!(relay.accepted(), 1, "the real worker kept its connection");
    finish_exact(swarm, stop, run, &srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_reconnects_with_the_token_takes_its_identity_back() {
    let srv = common::start().await;
    let (swarm, port) = master(with_token(), &srv).await;
    let relay = Relay::start(port).await;
    let (stop, run) = real_worker(relay.port, &["--worker-token", TOKEN]);
    until("the real worker joins", || workers(&swarm).len() == 1).await;
    let id = workers(&swarm)[0].id.clone();
    swarm.runner.start(4, 100.0, None);
    until("the real worker runs 4 users", || {
        workers(&swarm)[0].user_count == 4
    })
    .await;
    // The master falls silent to the worker, which still reaches it; the master keeps the
    // old connection. While the worker waits out the silence, a thief claims its identity.
    relay.mute();
    let mut thief = thief(port, &id).await;
    until("the worker rebuilds its connection", || {
        relay.accepted() == 2
    })
    .await;
    let before = master_total(&swarm).await;
    let start = Instant::now();
    while master_total(&swarm).await <= before {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no report over the new connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until("the worker runs its 4 users again", || {
        let w = workers(&swarm);
        w.len() == 1 && w[0].id == id && w[0].user_count == 4
    })
    .await;
    let heard = thief.heard(Duration::from_secs(1)).await;
    eprintln!("the thief heard {heard:?}");
    assert!(heard.is_empty(), "the thief heard {heard:?}");
    finish_exact(swarm, stop, run, &srv).await;
}

/// Without a token an identity is all a worker has, and anyone may join: a new connection
/// under an admitted identity speaks for it with no new `client_ready`, as a Locust
/// worker's libzmq reconnects, and takes its users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_a_new_connection_under_an_admitted_identity_speaks_for_it() {
    let srv = common::start().await;
    let (swarm, port) = master(Admission::default(), &srv).await;
    let _old = Fake::admitted(port, "box_1").await;
    let mut new = Fake::connect(port, "box_1").await;
    new.say("stats", report(10, 0, 20, unix_now(), 0)).await;
    new.beat().await;
    let start = Instant::now();
    while master_total(&swarm).await != 10 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new connection's report was not merged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    swarm.runner.start(2, 100.0, None);
    new.expect("spawn", Duration::from_secs(10))
        .await
        .expect("the new connection is given the users");
    swarm.runner.quit().await;
}

/// The router underneath (vendor/zeromq/PATCH.md): two connections under one identity are
/// told apart, the identity stays routed to the first, a message can go to either by its
/// connection, and a handover gives the identity to the second and closes the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_tells_apart_two_connections_under_one_identity() {
    let mut router = RouterSocket::new();
    let Endpoint::Tcp(_, port) = router.bind("tcp://127.0.0.1:0").await.unwrap() else {
        unreachable!("a TCP bind")
    };
    let mut first = Twin::connect(port).await;
    let mut events = first.socket.monitor();
    first.say("one").await;
    let (a, m) = within(router.recv_from()).await.unwrap();
    assert_eq!(text(m), ["twin", "one"]);
    let mut second = Twin::connect(port).await;
    second.say("two").await;
    let (b, m) = within(router.recv_from()).await.unwrap();
    assert_eq!(text(m), ["twin", "two"]);
    assert_ne!(a, b, "two connections, two ids");

    let to_twin = |body: &str| {
        let mut m = ZmqMessage::from(body);
        m.push_front(bytes::Bytes::from_static(b"twin"));
        m
    };
    router.send(to_twin("by name")).await.unwrap();
    assert_eq!(first.hear().await, "by name", "the first holds the name");
    router.send_to(b, ZmqMessage::from("direct")).await.unwrap();
    assert_eq!(second.hear().await, "direct");

    assert!(router.handover(b));
    router.send(to_twin("by name again")).await.unwrap();
    assert_eq!(
        second.hear().await,
        "by name again",
        "the second holds it now"
    );
    assert!(router.send_to(a, ZmqMessage::from("x")).await.is_err());
    // The first's connection closes; reading is what notices it.
    let closed = async {
        while !matches!(
            events.next().await,
            Some(SocketEvent::Disconnected(_)) | None
        ) {}
    };
    within(async {
        tokio::select! {
            _ = closed => {}
            got = first.socket.recv() => assert!(got.is_err(), "the first heard {got:?}"),
        }
    })
    .await;

    router.close_connection(b);
    assert!(
        !router.handover(b),
        "a closed connection cannot take a name"
    );
    assert!(router.send(to_twin("nobody")).await.is_err());
}

/// A dealer connected under the identity `twin`.
struct Twin {
    socket: DealerSocket,
}

impl Twin {
    async fn connect(port: u16) -> Self {
        let mut options = SocketOptions::default();
        options.peer_identity(b"twin".to_vec().try_into().unwrap());
        let mut socket = DealerSocket::with_options(options);
        socket
            .connect(&format!("tcp://127.0.0.1:{port}"))
            .await
            .unwrap();
        Self { socket }
    }

    async fn say(&mut self, body: &str) {
        self.socket.send(ZmqMessage::from(body)).await.unwrap();
    }

    async fn hear(&mut self) -> String {
        let m = within(self.socket.recv()).await.unwrap();
        text(m).concat()
    }
}

/// `f`'s output, failing the test after 10 s.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no answer in 10 s")
}

fn text(m: ZmqMessage) -> Vec<String> {
    m.into_vec()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// A TCP relay in front of the master that never passes a close on, as a path that loses
/// FINs: each end learns that the other left only by its own timeouts. So a worker whose
/// connection the master drops hears nothing for 5 s before it rebuilds it, instead of
/// rebuilding it at once. [`Relay::mute`] also drops the master's bytes on the connections
/// relayed so far (the worker's still reach the master): the master falls silent to the
/// worker, which rebuilds its connection under its identity while the master still holds
/// the old one. Later connections are relayed both ways.
struct Relay {
    port: u16,
    accepted: Arc<AtomicUsize>,
    muted_below: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    async fn start(master_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let muted_below = Arc::new(AtomicUsize::new(0));
        let (count, muted) = (accepted.clone(), muted_below.clone());
        let task = tokio::spawn(async move {
            // Dropped with the task: every relayed connection ends with the relay.
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((worker, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let muted = muted.clone();
                pipes.spawn(async move {
                    let Ok(master) = TcpStream::connect(("127.0.0.1", master_port)).await else {
                        return;
                    };
                    let (from_worker, to_worker) = worker.into_split();
                    let (from_master, to_master) = master.into_split();
                    let is_muted = move || n < muted.load(Ordering::SeqCst);
                    tokio::join!(
                        copy(from_worker, to_master, || false),
                        copy(from_master, to_worker, is_muted),
                    );
                });
            }
        });
        Self {
            port,
            accepted,
            muted_below,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn mute(&self) {
        self.muted_below.store(self.accepted(), Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, dropping what arrives while `muted`; at the end of either, holds
/// both open until the relay ends.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    muted: impl Fn() -> bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if !muted() && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    std::future::pending::<()>().await;
}
