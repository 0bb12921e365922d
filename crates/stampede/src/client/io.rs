//! The socket under a connection, counting the bytes that cross it.
//!
//! The counts answer the questions connection reuse depends on: did this request leave the
//! machine (bytes written), and did the server answer anything before it closed (bytes
//! read)? A request that was never written, or was written on a kept-alive connection that
//! then closed without a response byte, can be sent again on a new connection.

use std::io;
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
