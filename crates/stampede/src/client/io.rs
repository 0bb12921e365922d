//! The socket under a connection, counting the bytes that cross it, and looked at directly
//! before an idle connection is reused.
//!
//! The counts answer the questions connection reuse depends on: did this request leave the
//! machine (bytes written), and did the server answer anything before it closed (bytes
//! read)? A request that was never written, or was written on a kept-alive connection that
//! then closed without a response byte, can be sent again on a new connection.

use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read and written on one connection since it opened (plaintext, above TLS).
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    read: AtomicU64,
    written: AtomicU64,
}

/// The counters at one moment, to measure one exchange.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IoMark {
    pub read: u64,
    pub written: u64,
}

impl IoCounters {
    pub fn mark(&self) -> IoMark {
        IoMark {
            read: self.read.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }

    /// Bytes moved since `mark`.
    pub fn since(&self, mark: IoMark) -> IoMark {
        let now = self.mark();
        IoMark {
            read: now.read - mark.read,
            written: now.written - mark.written,
        }
    }
}

/// What a look at a connection found, without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    Nothing,
    Data,
    /// The end of the stream, or an error.
    End,
}

/// What the kernel holds for an idle connection's socket: bytes nobody asked for, the
/// server's close (or a reset), or nothing. One `recv(MSG_PEEK | MSG_DONTWAIT)`, urllib3's
/// `poll(2)` before reuse in one call.
///
/// Polling the stream instead asks tokio's cached readiness, which only changes when the
/// runtime's reactor has seen the socket's event: a busy generator, or a user that sends its
/// next request without yielding in between, reused connections whose server had already
/// written a late answer or closed (tests/stray_bytes.rs). The kernel knows at once.
///
/// `fd` is the connection's TCP socket, owned by its stream and open as long as it is.
pub(crate) fn peek(fd: RawFd) -> Heard {
    use nix::errno::Errno;
    use nix::sys::socket::{recv, MsgFlags};
    let mut byte = [0u8; 1];
    loop {
        return match recv(fd, &mut byte, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
            Ok(0) => Heard::End,
            Ok(_) => Heard::Data,
            Err(Errno::EAGAIN) => Heard::Nothing,
            Err(Errno::EINTR) => continue,
            Err(_) => Heard::End,
        };
    }
}

/// A stream that counts what it moves. Only this connection's user touches the counters,
/// so relaxed atomics cost no more than plain adds.
pub(crate) struct Counted<S> {
    inner: S,
    counters: Arc<IoCounters>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, counters: Arc<IoCounters>) -> Self {
        Self { inner, counters }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let out = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            self.counters.read.fetch_add(n, Ordering::Relaxed);
        }
        out
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let out = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = out {
            self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        out
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let out = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = out {
            self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        out
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn a_peek_sees_unread_bytes_and_the_close_and_takes_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let fd = client.as_raw_fd();
        assert_eq!(peek(fd), Heard::Nothing);
        server.write_all(b"HTTP/1.1 500").unwrap();
        drop(server);
        // Blocking reads wait for what the kernel has not yet got; a peek never waits.
        let mut first = [0u8; 4];
        client.peek(&mut first).unwrap();
        assert_eq!(peek(fd), Heard::Data);
        assert_eq!(peek(fd), Heard::Data, "peeking took nothing");
        let mut all = Vec::new();
        client.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"HTTP/1.1 500");
        assert_eq!(peek(fd), Heard::End);
    }
}
