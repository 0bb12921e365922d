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

    /// Everything queued so far. Disarms before taking the queue, so a message pushed
    /// while this runs either is taken now or writes a new byte: no wakeup is lost.
    pub fn drain(&self) -> Vec<T> {
        self.inner.armed.store(false, Ordering::Release);
        let mut buf = [0u8; 256];
        loop {
            match (&self.rx).read(&mut buf) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
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
    fn pushes_from_threads_all_arrive() {
        let (wake, drain) = pair::<u64>().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = wake.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        w.push(t * 1000 + i);
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 4000 {
            got.extend(drain.drain());
            std::thread::yield_now();
        }
        for t in threads {
            t.join().unwrap();
        }
        got.extend(drain.drain());
        got.sort_unstable();
        assert_eq!(got, (0..4000).collect::<Vec<_>>());
    }
}
