//! Serving the UI with limits, so that no client can take it away from the operator:
//! a connection must send its request headers within a deadline (an idle or half-sent
//! connection is closed, which is what 20,000 of them exhausting the process's file
//! descriptors needed), and only so many connections are served at once.
//!
//! When every slot is taken and another connection arrives, one is dropped to make room
//! for it, as nginx drops idle keep-alive connections when it runs out of them: first the
//! oldest connection that has not yet sent a whole request head (300 connections that
//! never sent a byte held every slot until their deadline, and the operator could not load
//! the page), then the one idle longest between requests. A connection in the middle of an
//! exchange is never dropped; when all are, the new one waits for a slot.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The UI's connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once (a browser opens six; the API's pollers one each).
    pub max_connections: usize,
    /// Time a connection has to send a whole request head.
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `stop`, then lets open exchanges finish (up to 5 s).
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let table = Arc::new(Table::new(limits.max_connections));
    let mut conns = JoinSet::new();
    loop {
        let sock = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => sock,
                // Out of descriptors, most likely: give the others a moment to close.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Holding one accepted socket while every slot is mid-exchange costs a descriptor;
        // it lets the newcomer take the place of a silent connection as soon as it arrives.
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = table.make_room() => {}
        }
        let admitted = table.admit();
        conns.spawn(serve_one(sock, app.clone(), admitted, limits, stop.clone()));
        while conns.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

/// One connection, until it closes, is dropped for a newcomer, or the server stops.
async fn serve_one(
    sock: TcpStream,
    app: Router,
    admitted: Admitted,
    limits: Limits,
    stop: CancellationToken,
) {
    let inner = TowerToHyperService::new(app);
    let conn = admitted.conn.clone();
    let table = admitted.table.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let exchange = Exchange::begin(&table, &conn);
        let answer = hyper::service::Service::call(&inner, req);
        async move {
            let res = answer.await?;
            // The exchange lasts until hyper has written the whole body and drops it.
            Ok::<_, Infallible>(res.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &exchange;
                    frame
                }))
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(sock), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = admitted.conn.evict.cancelled() => {
            if admitted.conn.requested() {
                // Idle between requests when picked: close it, or let an exchange that
                // began since then end first.
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(limits.header_timeout, conn).await;
            }
            // Never sent a whole head: closed at once, whatever half of one it sent.
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The connections that hold a slot.
struct Table {
    max: usize,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    /// Orders accepts and request starts, so that "oldest" needs no clock.
    clock: AtomicU64,
    /// A slot was freed, or an exchange ended (its connection may be dropped now).
    room: Notify,
}

/// What the table knows of one connection.
struct Conn {
    /// The clock when it was accepted.
    opened: u64,
    /// The clock when its last request head arrived; 0 before its first.
    last_request: AtomicU64,
    /// Exchanges under way (a request read, its response not yet all written).
    in_flight: AtomicUsize,
    /// Dropped to make room for a newcomer.
    evict: CancellationToken,
}

impl Conn {
    fn requested(&self) -> bool {
        self.last_request.load(Ordering::Acquire) != 0
    }

    /// Its place in the order of dropping (lowest first), or `None` while mid-exchange.
    fn drop_order(&self) -> Option<(u8, u64)> {
        if !self.requested() {
            return Some((0, self.opened));
        }
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| (1, self.last_request.load(Ordering::Acquire)))
    }
}

impl Table {
    fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            conns: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            room: Notify::new(),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::AcqRel) + 1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once a slot is free, dropping a connection for it if one may be dropped.
    async fn make_room(&self) {
        loop {
            // `notify_one` keeps a permit when no one waits, so no wake-up is lost here.
            let freed = self.room.notified();
            if self.try_make_room() {
                return;
            }
            freed.await;
        }
    }

    fn try_make_room(&self) -> bool {
        let mut conns = self.lock();
        if conns.len() < self.max {
            return true;
        }
        let victim = conns
            .iter()
            .filter_map(|(id, c)| c.drop_order().map(|o| (o, *id)))
            .min()
            .map(|(_, id)| id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(c) => {
                c.evict.cancel();
                true
            }
            None => false,
        }
    }

    fn admit(self: &Arc<Self>) -> Admitted {
        let opened = self.tick();
        let conn = Arc::new(Conn {
            opened,
            last_request: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evict: CancellationToken::new(),
        });
        self.lock().insert(opened, conn.clone());
        Admitted {
            table: self.clone(),
            conn,
        }
    }
}

/// A connection's slot, given back when its task ends (however it ends).
struct Admitted {
    table: Arc<Table>,
    conn: Arc<Conn>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.table.lock().remove(&self.conn.opened);
        self.table.room.notify_one();
    }
}

/// One request and its response, from the head's arrival to the body's last byte.
struct Exchange {
    table: Arc<Table>,
    conn: Arc<Conn>,
}

impl Exchange {
    fn begin(table: &Arc<Table>, conn: &Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.last_request.store(table.tick(), Ordering::Release);
        Self {
            table: table.clone(),
            conn: conn.clone(),
        }
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.table.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_connections_go_first_then_the_longest_idle_and_never_one_mid_exchange() {
        let table = Arc::new(Table::new(3));
        let (a, b, c) = (table.admit(), table.admit(), table.admit());
        // a's exchange is over, c's is not, and b never sent a byte.
        drop(Exchange::begin(&table, &a.conn));
        let _busy = Exchange::begin(&table, &c.conn);
        assert!(table.try_make_room());
        assert!(b.conn.evict.is_cancelled(), "the silent one first");
        assert!(!a.conn.evict.is_cancelled());
        // Full again with a, c and d, which also sent a request after a's: no silent one.
        let d = table.admit();
        drop(Exchange::begin(&table, &d.conn));
        assert!(table.try_make_room());
        assert!(a.conn.evict.is_cancelled(), "then the one idle longest");
        assert!(!d.conn.evict.is_cancelled());
        // A newcomer that is silent goes before d, idle but newer in its requests.
        let e = table.admit();
        assert!(table.try_make_room());
        assert!(e.conn.evict.is_cancelled() && !d.conn.evict.is_cancelled());
        assert!(!c.conn.evict.is_cancelled(), "never the one mid-exchange");
    }

    #[test]
    fn a_full_table_of_exchanges_makes_no_room_until_one_ends() {
        let table = Arc::new(Table::new(1));
        let a = table.admit();
        let busy = Exchange::begin(&table, &a.conn);
        assert!(!table.try_make_room());
        drop(busy);
        assert!(table.try_make_room());
        assert!(a.conn.evict.is_cancelled());
    }
}
