use crate::codec::*;
use crate::endpoint::Endpoint;
use crate::error::{ZmqError, ZmqResult};
use crate::fair_queue::FairQueue;
use crate::message::*;
use crate::router_backend::RouterBackend;
use crate::transport::AcceptStopHandle;
use crate::util::PeerIdentity;
use crate::{MultiPeerBackend, SocketEvent, SocketOptions, SocketRecv, SocketSend};
use crate::{Socket, SocketBackend};

pub use crate::router_backend::ConnectionId;

use async_trait::async_trait;
use futures::channel::mpsc;
use futures::StreamExt;

use std::collections::HashMap;
use std::convert::TryInto;
use std::sync::Arc;

/// A ROUTER socket. Stampede's fork: peers are connections, each with a [`ConnectionId`].
/// An identity is routed to the first connection that announced it, not the last, until
/// that connection closes or [`RouterSendHalf::handover`] moves it; a later connection
/// under the same identity is heard only by `recv_from`, which names the connection.
pub struct RouterSocket {
    backend: Arc<RouterBackend>,
    binds: HashMap<Endpoint, AcceptStopHandle>,
    fair_queue: FairQueue<ZmqFramedRead, ConnectionId>,
}

impl Drop for RouterSocket {
    fn drop(&mut self) {
        self.backend.shutdown();
    }
}

#[async_trait]
impl Socket for RouterSocket {
    fn with_options(options: SocketOptions) -> Self {
        let mut fair_queue = FairQueue::new(true);
        let backend = Arc::new(RouterBackend::with_options(fair_queue.inner(), options));

        let backend_weak = Arc::downgrade(&backend);
        fair_queue.set_on_disconnect(move |conn: ConnectionId| {
            if let Some(backend) = backend_weak.upgrade() {
                backend.close(conn);
            }
        });

        Self {
            backend,
            binds: HashMap::new(),
            fair_queue,
        }
    }

    fn backend(&self) -> Arc<dyn MultiPeerBackend> {
        self.backend.clone()
    }

    fn binds(&mut self) -> &mut HashMap<Endpoint, AcceptStopHandle> {
        &mut self.binds
    }

    fn monitor(&mut self) -> mpsc::Receiver<SocketEvent> {
        let (sender, receiver) = mpsc::channel(1024);
        self.backend.socket_monitor.lock().replace(sender);
        receiver
    }
}

/// The next message from any connection, with its identity frame first; with
/// `routed_only`, messages from connections that do not hold their identity's route are
/// dropped, as libzmq's ROUTER ignores a peer whose identity is taken.
async fn next_message(
    fair_queue: &mut FairQueue<ZmqFramedRead, ConnectionId>,
    backend: &RouterBackend,
    routed_only: bool,
) -> ZmqResult<(ConnectionId, ZmqMessage)> {
    loop {
        match fair_queue.next().await {
            Some((conn, Ok(Message::Message(mut message)))) => {
                // A connection closed since this was read is not heard.
                let Some((identity, routed)) = backend.heard(conn) else {
                    continue;
                };
                if routed || !routed_only {
                    message.push_front(identity.into());
                    return Ok((conn, message));
                }
            }
            Some((_conn, Ok(_msg))) => {}
            Some((conn, Err(_e))) => backend.close(conn),
            None => return Err(ZmqError::NoMessage),
        }
    }
}

fn split_identity(mut message: ZmqMessage) -> ZmqResult<(PeerIdentity, ZmqMessage)> {
    if message.len() <= 1 {
        return Err(ZmqError::Socket(
            "ROUTER send requires at least 2 frames: identity frame + message",
        ));
    }
    let peer_id: PeerIdentity = message.pop_front().unwrap().try_into()?;
    Ok((peer_id, message))
}

#[async_trait]
impl SocketRecv for RouterSocket {
    /// The next message from a connection that holds its identity's route.
    async fn recv(&mut self) -> ZmqResult<ZmqMessage> {
        let (_conn, message) = next_message(&mut self.fair_queue, &self.backend, true).await?;
        Ok(message)
    }
}

#[async_trait]
impl SocketSend for RouterSocket {
    async fn send(&mut self, message: ZmqMessage) -> ZmqResult<()> {
        let (peer_id, message) = split_identity(message)?;
        self.backend
            .send_to_identity(&peer_id, Message::Message(message))
            .await
    }
}

impl RouterSocket {
    /// See [`RouterRecvHalf::recv_from`].
    pub async fn recv_from(&mut self) -> ZmqResult<(ConnectionId, ZmqMessage)> {
        next_message(&mut self.fair_queue, &self.backend, false).await
    }

    /// See [`RouterSendHalf::send_to`].
    pub async fn send_to(&mut self, conn: ConnectionId, message: ZmqMessage) -> ZmqResult<()> {
        self.backend
            .send_to_connection(conn, Message::Message(message))
            .await
    }

    /// See [`RouterSendHalf::handover`].
    pub fn handover(&self, conn: ConnectionId) -> bool {
        self.backend.handover(conn)
    }

    /// See [`RouterSendHalf::close_connection`].
    pub fn close_connection(&self, conn: ConnectionId) {
        self.backend.close(conn)
    }

    /// Splits the socket into separate send and recv halves, allowing concurrent
    /// sending and receiving from independent async tasks.
    ///
    /// The underlying socket stays alive until both halves are dropped.
    pub fn split(mut self) -> (RouterSendHalf, RouterRecvHalf) {
        let backend = std::mem::replace(
            &mut self.backend,
            Arc::new(RouterBackend::with_options(
                FairQueue::new(true).inner(),
                SocketOptions::default(),
            )),
        );
        let fair_queue = std::mem::replace(&mut self.fair_queue, FairQueue::new(true));
        let binds = std::mem::take(&mut self.binds);

        let inner = Arc::new(RouterSocketInner {
            backend,
            _binds: binds,
        });

        (
            RouterSendHalf {
                inner: inner.clone(),
            },
            RouterRecvHalf { inner, fair_queue },
        )
    }
}

struct RouterSocketInner {
    backend: Arc<RouterBackend>,
    _binds: HashMap<Endpoint, AcceptStopHandle>,
}

impl Drop for RouterSocketInner {
    fn drop(&mut self) {
        self.backend.shutdown();
    }
}

/// The send half of a [`RouterSocket`] produced by [`RouterSocket::split`].
///
/// This half can be cloned to send from multiple async tasks concurrently.
#[derive(Clone)]
pub struct RouterSendHalf {
    inner: Arc<RouterSocketInner>,
}

impl RouterSendHalf {
    /// Sends `message` (without an identity frame) to one connection, whatever its
    /// identity; an error if that connection is closed.
    pub async fn send_to(&mut self, conn: ConnectionId, message: ZmqMessage) -> ZmqResult<()> {
        self.inner
            .backend
            .send_to_connection(conn, Message::Message(message))
            .await
    }

    /// Routes `conn`'s identity to `conn` and closes the connection that held it, as
    /// libzmq's `ZMQ_ROUTER_HANDOVER` does, but at the application's word. False if
    /// `conn` is closed.
    pub fn handover(&self, conn: ConnectionId) -> bool {
        self.inner.backend.handover(conn)
    }

    /// Closes one connection: nothing more is read from it.
    pub fn close_connection(&self, conn: ConnectionId) {
        self.inner.backend.close(conn)
    }
}

/// The recv half of a [`RouterSocket`] produced by [`RouterSocket::split`].
pub struct RouterRecvHalf {
    inner: Arc<RouterSocketInner>,
    fair_queue: FairQueue<ZmqFramedRead, ConnectionId>,
}

impl RouterRecvHalf {
    /// The next message from any connection, with its identity frame first, and the
    /// connection it came from: two connections may announce the same identity, and only
    /// this tells them apart.
    pub async fn recv_from(&mut self) -> ZmqResult<(ConnectionId, ZmqMessage)> {
        next_message(&mut self.fair_queue, &self.inner.backend, false).await
    }
}

#[async_trait]
impl SocketSend for RouterSendHalf {
    async fn send(&mut self, message: ZmqMessage) -> ZmqResult<()> {
        let (peer_id, message) = split_identity(message)?;
        self.inner
            .backend
            .send_to_identity(&peer_id, Message::Message(message))
            .await
    }
}

#[async_trait]
impl SocketRecv for RouterRecvHalf {
    /// The next message from a connection that holds its identity's route.
    async fn recv(&mut self) -> ZmqResult<ZmqMessage> {
        let (_conn, message) =
            next_message(&mut self.fair_queue, &self.inner.backend, true).await?;
        Ok(message)
    }
}

// Stampede: upstream ran these on its PUB socket (pub.rs, gone from this fork), with the
// binds on port 0 instead of fixed ports; the binding they check is every socket's, so they run on the ROUTER now.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::async_rt;
    use crate::util::tests::{
        test_bind_to_any_port_helper, test_bind_to_unspecified_interface_helper,
    };
    use std::net::IpAddr;

    #[async_rt::test]
    async fn test_bind_to_any_port() -> ZmqResult<()> {
        let s = RouterSocket::new();
        test_bind_to_any_port_helper(s).await
    }

    #[async_rt::test]
    async fn test_bind_to_any_ipv4_interface() -> ZmqResult<()> {
        let any_ipv4: IpAddr = "0.0.0.0".parse().unwrap();
        let s = RouterSocket::new();
        test_bind_to_unspecified_interface_helper(any_ipv4, s).await
    }

    #[async_rt::test]
    async fn test_bind_to_any_ipv6_interface() -> ZmqResult<()> {
        let any_ipv6: IpAddr = "::".parse().unwrap();
        let s = RouterSocket::new();
        test_bind_to_unspecified_interface_helper(any_ipv6, s).await
    }
}
