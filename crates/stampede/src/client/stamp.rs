//! Response times from the kernel: a TCP stream that reads with `recvmsg` and keeps the
//! kernel's receive timestamp (`SO_TIMESTAMPNS`) of the bytes it read.
//!
//! A busy load generator polls a user late: the response has been in the socket buffer
//! for a while when the user reads it, and a clock read in user space would add that wait
//! to the response time. The kernel stamps each segment as it arrives, so the arrival of a
//! response's last bytes is known however late they are read. The request's start is read
//! on the same clock (`CLOCK_REALTIME`) immediately before the write that sends it, so a
//! response time is the difference of two readings of one clock.
//!
//! The stream sits under TLS: rustls reads through it and never knows.
//! Where the socket option is refused, reads go on as plain reads and nothing is stamped;
//! the client then falls back to the monotonic clock (the report says which was used).

use std::io::Write as _;
use std::io::{self, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use nix::sys::time::TimeSpec;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// `CLOCK_REALTIME` now, in nanoseconds since the epoch: the kernel timestamps' clock.
pub(crate) fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The most one read takes: a body read asks for up to 64 KiB, a head for 1 KiB.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    /// `recvmsg` needs initialized memory and the caller's buffer is not: zeroing it on
    /// every read (the reader hands over all its spare room) cost more than reading into this
    /// thread's buffer and copying the few bytes that arrived. One per thread, not per
    /// connection, so ten thousand users do not hold 160 MB of it.
    static SCRATCH_BUF: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0u8; SCRATCH].into_boxed_slice());
}

/// One connection's timestamps, written by its stream and read by its user.
#[derive(Debug, Default)]
pub(crate) struct Stamps {
    /// The kernel stamps this socket's reads.
    pub enabled: AtomicBool,
    /// Realtime just before the first write after a read (a request going out).
    pub sent_ns: AtomicU64,
    /// Kernel arrival of the first bytes read after that write (time to first byte).
    pub first_rx_ns: AtomicU64,
    /// Kernel arrival of the last bytes read.
    pub last_rx_ns: AtomicU64,
}

/// A TCP stream whose reads keep the kernel's arrival time.
pub(crate) struct StampedTcp {
    io: Io,
    stamps: Arc<Stamps>,
    /// Reused for every read's control message.
    cmsg: Vec<u8>,
    /// Bytes were written since the last read: the next read starts a response.
    wrote: bool,
}

/// The socket: tokio's own stream where the kernel does not stamp; else the same socket
/// under an `AsyncFd`, whose readiness guard can be cleared after a short read, as tokio's
/// `TcpStream` does. Without that, every response cost one more `recvmsg` (the one that
/// answers EAGAIN), about a tenth of the generator's throughput.
enum Io {
    Plain(TcpStream),
    Stamped(AsyncFd<std::net::TcpStream>),
}

/// `STAMPEDE_KERNEL_TIMESTAMPS=0` turns kernel timing off (every request is then timed on
/// the monotonic clock): for measuring what it costs, or a kernel that misbehaves.
fn wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var("STAMPEDE_KERNEL_TIMESTAMPS").map_or(true, |v| v != "0"))
}

/// Linux stamps packets only while some socket asks for it, and switching that on from
/// none takes effect later (a deferred static-key flip): packets arriving meanwhile carry
/// no stamp. A connection that opens just after the last one closed would lose its
/// stamps, so one idle socket of the process keeps asking for as long as it runs.
pub(crate) fn keep_stamping_on() {
    static KEEPER: OnceLock<Option<UdpSocket>> = OnceLock::new();
    if !wanted() {
        return;
    }
    KEEPER.get_or_init(|| {
        let s = UdpSocket::bind("127.0.0.1:0").ok()?;
        setsockopt(&s, sockopt::ReceiveTimestampns, &true).ok()?;
        Some(s)
    });
}

impl StampedTcp {
    /// Asks the kernel to stamp `tcp`'s reads; where it will not (or
    /// `STAMPEDE_KERNEL_TIMESTAMPS=0`), the stream reads as tokio's own.
    pub fn new(tcp: TcpStream, stamps: Arc<Stamps>) -> io::Result<Self> {
        let stamped = wanted() && {
            keep_stamping_on();
            setsockopt(&tcp, sockopt::ReceiveTimestampns, &true).is_ok()
        };
        let io = if stamped {
            // Deprecated (tokio#8587) because a type may hand out a raw fd it does not
            // own; `std::net::TcpStream` owns its socket, and its replacement is `unsafe`,
            // which this workspace forbids.
            #[allow(deprecated)]
            let fd = AsyncFd::new(tcp.into_std()?)?;
            Io::Stamped(fd)
        } else {
            Io::Plain(tcp)
        };
        stamps.enabled.store(stamped, Ordering::Relaxed);
        Ok(Self {
            io,
            stamps,
            cmsg: nix::cmsg_space!(TimeSpec),
            wrote: false,
        })
    }
}

/// One `recvmsg` of at most `into.len()` bytes: how many, and the kernel's timestamp.
fn recv_stamped(fd: i32, into: &mut [u8], cmsg: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    let mut iov = [IoSliceMut::new(into)];
    let msg =
        recvmsg::<()>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)?;
    let mut stamp = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                let ns = ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128;
                stamp = u64::try_from(ns).ok();
            }
        }
    }
    Ok((msg.bytes, stamp))
}

impl AsyncRead for StampedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let fd = match &mut this.io {
            Io::Plain(tcp) => return Pin::new(tcp).poll_read(cx, buf),
            Io::Stamped(fd) => fd,
        };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let mut guard = ready!(fd.poll_read_ready(cx))?;
            let cmsg = &mut this.cmsg;
            let read = SCRATCH_BUF.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let len = buf.remaining().min(scratch.len());
                let got =
                    guard.try_io(|fd| recv_stamped(fd.as_raw_fd(), &mut scratch[..len], cmsg));
                if let Ok(Ok((n, _))) = &got {
                    buf.put_slice(&scratch[..*n]);
                    if 0 < *n && *n < len {
                        // A short read drained the socket: wait for the next wake-up
                        // instead of asking again and hearing EAGAIN.
                        guard.clear_ready();
                    }
                }
                got
            });
            match read {
                Ok(Ok((n, stamp))) => {
                    if let (Some(ns), true) = (stamp, n > 0) {
                        if std::mem::take(&mut this.wrote) {
                            this.stamps.first_rx_ns.store(ns, Ordering::Relaxed);
                        }
                        this.stamps.last_rx_ns.store(ns, Ordering::Relaxed);
                    }
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {} // readiness was stale: poll again
            }
        }
    }
}

impl StampedTcp {
    /// Notes the start of a request: the first write after a read.
    fn before_write(&mut self) {
        if !self.wrote {
            self.wrote = true;
            self.stamps.sent_ns.store(realtime_ns(), Ordering::Relaxed);
        }
    }
}

/// A write on a stamped socket, clearing readiness after a short one as tokio does.
fn write_ready(
    fd: &AsyncFd<std::net::TcpStream>,
    cx: &mut Context<'_>,
    len: usize,
    write: impl Fn(&std::net::TcpStream) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        let mut guard = ready!(fd.poll_write_ready(cx))?;
        match guard.try_io(|fd| write(fd.get_ref())) {
            Ok(Ok(n)) => {
                if 0 < n && n < len {
                    guard.clear_ready();
                }
                return Poll::Ready(Ok(n));
            }
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(_would_block) => {} // readiness was stale: poll again
        }
    }
}

impl AsyncWrite for StampedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.before_write();
        match &mut this.io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Io::Stamped(fd) => write_ready(fd, cx, buf.len(), |mut s| s.write(buf)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.before_write();
        match &mut this.io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Io::Stamped(fd) => {
                let len = bufs.iter().map(|b| b.len()).sum();
                write_ready(fd, cx, len, |mut s| s.write_vectored(bufs))
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Io::Stamped(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Io::Stamped(fd) => Poll::Ready(fd.get_ref().shutdown(std::net::Shutdown::Write)),
        }
    }
}
