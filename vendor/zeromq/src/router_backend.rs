//! Stampede: a ROUTER's peers, kept by connection rather than by identity.
//!
//! Upstream keys a ROUTER's peers by the identity each one announces, and a new connection
//! with an identity already in use replaces the old one. An identity is a name the peer
//! chooses, so any peer could take over another's messages by announcing its name. Here
//! each connection gets its own [`ConnectionId`], an identity is routed to the first
//! connection that claimed it until that one closes or [`RouterBackend::handover`] gives
//! it to another, and the application, which hears every connection with its id, decides
//! which connection speaks for a name.

use crate::async_rt;
use crate::backend::{send_to_peer_queue, PEER_SEND_QUEUE_CAPACITY};
use crate::codec::{FramedIo, Message, ZmqFramedRead};
use crate::fair_queue::QueueInner;
use crate::util::PeerIdentity;
use crate::write_queue::write_message_queue;
use crate::{MultiPeerBackend, SocketBackend, SocketEvent, SocketOptions, SocketType};
use crate::{ZmqError, ZmqResult};

use async_trait::async_trait;
use futures::channel::mpsc;
use parking_lot::Mutex;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One connection of a ROUTER, unique for the socket's life. Identities are chosen by
/// peers and may repeat; this is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

pub(crate) type ConnectionQueue = Arc<Mutex<QueueInner<ZmqFramedRead, ConnectionId>>>;

struct Connection {
    identity: PeerIdentity,
    send_queue: mpsc::Sender<Message>,
}

/// The open connections and which one each identity is routed to, under one lock so that
/// the two always agree.
#[derive(Default)]
struct Table {
    connections: HashMap<ConnectionId, Connection>,
    routes: HashMap<PeerIdentity, ConnectionId>,
}

pub(crate) struct RouterBackend {
    table: Mutex<Table>,
    next_id: AtomicU64,
    fair_queue_inner: ConnectionQueue,
    socket_options: Arc<SocketOptions>,
    pub(crate) socket_monitor: Mutex<Option<mpsc::Sender<SocketEvent>>>,
}

impl RouterBackend {
    pub(crate) fn with_options(fair_queue_inner: ConnectionQueue, options: SocketOptions) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(0),
            fair_queue_inner,
            socket_options: Arc::new(options),
            socket_monitor: Mutex::new(None),
        }
    }

    /// The identity `conn` announced and whether it holds that identity's route, or `None`
    /// once it is closed. An identity left without a route (its holder closed) goes to
    /// the first connection heard under it, as libzmq's ROUTER names a peer whose
    /// identity was taken once it is free.
    pub(crate) fn heard(&self, conn: ConnectionId) -> Option<(PeerIdentity, bool)> {
        let mut table = self.table.lock();
        let identity = table.connections.get(&conn)?.identity.clone();
        let holder = *table.routes.entry(identity.clone()).or_insert(conn);
        Some((identity, holder == conn))
    }

    /// Sends to one connection, whatever its identity.
    pub(crate) async fn send_to_connection(
        &self,
        conn: ConnectionId,
        message: Message,
    ) -> ZmqResult<()> {
        let sender = self
            .table
            .lock()
            .connections
            .get(&conn)
            .map(|c| c.send_queue.clone());
        let Some(mut sender) = sender else {
            return Err(ZmqError::Other("Destination connection is closed"));
        };
        send_to_peer_queue(&mut sender, message).await.map_err(|e| {
            self.close(conn);
            e.into()
        })
    }

    /// Sends to the connection that holds `identity`'s route.
    pub(crate) async fn send_to_identity(
        &self,
        identity: &PeerIdentity,
        message: Message,
    ) -> ZmqResult<()> {
        let conn = self.table.lock().routes.get(identity).copied();
        match conn {
            Some(conn) => self.send_to_connection(conn, message).await,
            None => Err(ZmqError::Other("Destination client not found by identity")),
        }
    }

    /// Routes `conn`'s identity to `conn` and closes the connection that held it. False
    /// if `conn` is closed.
    pub(crate) fn handover(&self, conn: ConnectionId) -> bool {
        let replaced = {
            let mut table = self.table.lock();
            let Some(identity) = table.connections.get(&conn).map(|c| c.identity.clone()) else {
                return false;
            };
            match table.routes.insert(identity, conn) {
                Some(old) if old != conn => table.connections.remove(&old).map(|c| (old, c)),
                _ => None,
            }
        };
        if let Some((old, connection)) = replaced {
            self.closed(old, connection.identity);
        }
        true
    }

    /// Closes a connection: it is no longer read, it is sent what was already queued for
    /// it, then its socket closes; its identity's route is freed if it held it.
    pub(crate) fn close(&self, conn: ConnectionId) {
        let removed = {
            let mut table = self.table.lock();
            let connection = table.connections.remove(&conn);
            if let Some(c) = &connection {
                if table.routes.get(&c.identity) == Some(&conn) {
                    table.routes.remove(&c.identity);
                }
            }
            connection
        };
        if let Some(connection) = removed {
            self.closed(conn, connection.identity);
        }
    }

    /// After a connection left the table: its read half goes too (dropping its send
    /// queue, done by the caller, ends its writer), and the monitor hears of it.
    fn closed(&self, conn: ConnectionId, identity: PeerIdentity) {
        self.fair_queue_inner.lock().remove(&conn);
        if let Some(monitor) = self.socket_monitor.lock().as_mut() {
            let _ = monitor.try_send(SocketEvent::Disconnected(identity));
        }
    }
}

impl SocketBackend for RouterBackend {
    fn socket_type(&self) -> SocketType {
        SocketType::ROUTER
    }

    fn socket_options(&self) -> &Arc<SocketOptions> {
        &self.socket_options
    }

    fn shutdown(&self) {
        *self.table.lock() = Table::default();
        self.fair_queue_inner.lock().clear();
    }

    fn monitor(&self) -> &Mutex<Option<mpsc::Sender<SocketEvent>>> {
        &self.socket_monitor
    }
}

#[async_trait]
impl MultiPeerBackend for RouterBackend {
    async fn peer_connected(self: Arc<Self>, peer_id: &PeerIdentity, io: FramedIo) {
        let (recv_queue, send_queue) = io.into_parts();
        let (queue_sender, queue_receiver) = mpsc::channel(PEER_SEND_QUEUE_CAPACITY);
        let conn = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        {
            let mut table = self.table.lock();
            let connection = Connection {
                identity: peer_id.clone(),
                send_queue: queue_sender,
            };
            table.connections.insert(conn, connection);
            table.routes.entry(peer_id.clone()).or_insert(conn);
        }
        let writer_backend = self.clone();
        async_rt::task::spawn(async move {
            if let Err(error) = write_message_queue(queue_receiver, send_queue).await {
                log::debug!("Error sending message to connection {}: {:?}", conn, error);
                writer_backend.close(conn);
            }
        });
        self.fair_queue_inner.lock().insert(conn, recv_queue);
        // Closed while being registered (its writer failed at once): do not keep reading.
        if !self.table.lock().connections.contains_key(&conn) {
            self.fair_queue_inner.lock().remove(&conn);
        }
    }

    /// Closes the connection that holds `peer_id`'s route.
    fn peer_disconnected(&self, peer_id: &PeerIdentity) {
        let conn = self.table.lock().routes.get(peer_id).copied();
        if let Some(conn) = conn {
            self.close(conn);
        }
    }
}
