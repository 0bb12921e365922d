//! The engine's way to wake Python: a queue of messages and one byte on a socket pair.
//!
//! Tokio threads never take the GIL. They push a message and, when the queue was not
//! already armed, write one byte to a Unix socket whose other end gevent's hub watches
//! (`hub.loop.io(fd, READ)`). A write needs no GIL and is thread-safe, so Python never
//! blocks on Rust's I/O, and a burst of completions costs one wakeup.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Producer side, cloned into every user's future.
pub struct Wake<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Wake<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T> {
    queue: Mutex<Vec<T>>,
    /// A byte is on its way, or the consumer has not drained yet: no need to write another.
    armed: AtomicBool,
    tx: UnixStream,
}

/// Consumer side: the socket Python's hub watches.
pub struct Drain<T> {
    inner: Arc<Inner<T>>,
    rx: UnixStream,
}

/// A connected pair: the producer, and the consumer whose socket the hub watches.
pub fn pair<T>() -> io::Result<(Wake<T>, Drain<T>)> {
    let (tx, rx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    rx.set_nonblocking(true)?;
    let inner = Arc::new(Inner {
        queue: Mutex::new(Vec::new()),
        armed: AtomicBool::new(false),
        tx,
    });
    Ok((
        Wake {
            inner: inner.clone(),
        },
        Drain { inner, rx },
    ))
}

impl<T> Wake<T> {
    /// Queues `msg` and makes sure the consumer will wake for it.
    pub fn push(&self, msg: T) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg);
        if !self.inner.armed.swap(true, Ordering::AcqRel) {
            // WouldBlock means bytes are already waiting: the consumer wakes anyway.
            let _ = (&self.inner.tx).write(b"x");
        }
    }
}

impl<T> Drain<T> {
    /// The socket to watch for reading.
    pub fn socket(&self) -> &UnixStream {
        &self.rx
    }

    /// Everything queued so far. The wakeup bytes are read first, then the queue is
    /// disarmed, then taken: a producer that found it armed pushed before this take (its
    /// message is taken now), and one that finds it disarmed writes a new byte. Disarming
    /// before reading would lose a wakeup: a byte written for a message this take gets
    /// would be read, leaving the queue armed with no byte for the next push.
    pub fn drain(&self) -> Vec<T> {
        let mut buf = [0u8; 256];
        loop {
            match (&self.rx).read(&mut buf) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        self.inner.armed.store(false, Ordering::Release);
        std::mem::take(&mut *self.inner.queue.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::io::AsRawFd;

    /// Whether a byte waits on the socket (a read would consume it, so read and count).
    fn readable(s: &UnixStream) -> bool {
        let mut b = [0u8; 16];
        matches!((&*s).read(&mut b), Ok(n) if n > 0)
    }

    #[test]
    fn many_pushes_one_byte_and_nothing_lost() {
        let (wake, drain) = pair::<u32>().unwrap();
        assert!(drain.socket().as_raw_fd() > 2);
        for i in 0..100 {
            wake.push(i);
        }
        assert_eq!(drain.drain(), (0..100).collect::<Vec<_>>());
        assert!(!readable(drain.socket()), "drain consumed the wakeup byte");
        wake.push(7);
        assert!(readable(drain.socket()), "a push after a drain wakes again");
        assert_eq!(drain.drain(), vec![7]);
    }

    #[test]
    fn pushes_from_threads_all_arrive_and_no_wakeup_is_lost() {
        // The consumer sleeps on the socket as the hub does: a lost wakeup leaves messages
        // queued with no byte to read, and the read below times out. (It did not catch the
        // first version's ordering bug, whose window is one syscall wide; a real run with
        // 10 users did, within 2,000 requests: `tests/differential.rs` and `modes.rs` cover
        // that path end to end.)
        let (wake, drain) = pair::<u64>().unwrap();
        let waiter = drain.socket().try_clone().unwrap();
        waiter.set_nonblocking(false).unwrap();
        waiter
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = wake.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        w.push(t * 20_000 + i);
                        if i % 64 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 80_000 {
            let mut b = [0u8; 1];
            let n = (&waiter).read(&mut b);
            assert!(
                matches!(n, Ok(1)),
                "no wakeup came with {} of 80000 messages taken: {n:?}",
                got.len()
            );
            got.extend(drain.drain());
        }
        for t in threads {
            t.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, (0..80_000).collect::<Vec<_>>());
    }
}
