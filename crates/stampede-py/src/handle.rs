//! A user's handle, held by its Python object: every call only queues a command for the
//! user's life in Rust and returns at once, so the hub thread never waits on the engine.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::mpsc::UnboundedSender;

use crate::msg::{Cmd, Spec};

/// Tickets are unique in the process: Python keeps one table of parked greenlets.
static TICKETS: AtomicU64 = AtomicU64::new(1);

pub fn next_ticket() -> u64 {
    TICKETS.fetch_add(1, Ordering::Relaxed)
}

/// Commands the hub's greenlets sent since the hub last went to sleep. Sending each at once
/// would wake the engine's thread once per request (a syscall, and a context switch on a
/// shared core); the hub flushes them all in one go before it waits for I/O
/// (`Engine.flush`, from a gevent `prepare` watcher), so a burst of users costs one wakeup.
#[derive(Default)]
pub struct Outbox {
    queue: Mutex<Vec<(UnboundedSender<Box<Cmd>>, Cmd)>>,
}

impl Outbox {
    fn push(&self, tx: &UnboundedSender<Box<Cmd>>, cmd: Cmd) {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((tx.clone(), cmd));
    }

    /// Hands every queued command to its user.
    pub fn flush(&self) {
        let queued = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for (tx, cmd) in queued {
            let _ = tx.send(Box::new(cmd));
        }
    }
}

/// One user's way into the engine (the `Transport` of `stampede/_transport.py`).
#[pyclass(module = "stampede._core", frozen)]
pub struct UserHandle {
    /// Commands go boxed: a channel keeps a block of 32 slots per user once used, and a
    /// slot of the enum itself (192 bytes) made that 6 KB of every idle user's memory.
    tx: UnboundedSender<Box<Cmd>>,
    outbox: Arc<Outbox>,
    #[pyo3(get)]
    user_id: u64,
    sessions: AtomicU32,
}

impl UserHandle {
    pub fn new(tx: UnboundedSender<Box<Cmd>>, user_id: u64, outbox: Arc<Outbox>) -> Self {
        Self {
            tx,
            outbox,
            user_id,
            sessions: AtomicU32::new(1),
        }
    }

    /// Queues `cmd` when nothing answers it: once the user's life has ended (the run
    /// stopped under the greenlet), there is nothing left to count it to, and the request
    /// it may be about was already recorded when the life ended.
    fn post(&self, cmd: Cmd) {
        if !self.tx.is_closed() {
            self.outbox.push(&self.tx, cmd);
        }
    }

    /// Queues `cmd`. The user's life may have ended (the run stopped under the greenlet):
    /// then nothing will answer, and Python is told so it does not wait.
    fn send(&self, cmd: Cmd) -> PyResult<()> {
        if self.tx.is_closed() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "this user has been stopped by the run",
            ));
        }
        self.outbox.push(&self.tx, cmd);
        Ok(())
    }
}

#[pymethods]
impl UserHandle {
    /// Sends a request; the answer comes back under the returned ticket.
    #[pyo3(signature = (session, method, url, name, headers, body, allow_redirects=true, max_redirects=30, timeout=None, auto=0, ran=None))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        session: u32,
        method: String,
        url: String,
        name: String,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
        allow_redirects: bool,
        max_redirects: usize,
        timeout: Option<f64>,
        auto: u8,
        ran: Option<Vec<String>>,
    ) -> PyResult<u64> {
        let ticket = next_ticket();
        let timeout = match timeout {
            Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) if !(t.is_finite() && t >= 0.0) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "timeout must be a positive number of seconds, not {t}"
                )))
            }
            _ => None,
        };
        let spec = Spec {
            method,
            url,
            name,
            headers,
            body: body.unwrap_or_default(),
            allow_redirects,
            max_redirects,
            timeout,
            auto: crate::msg::AutoVerdict::from_code(auto),
        };
        self.send(Cmd::Request {
            ticket,
            session,
            spec,
            ran: ran.unwrap_or_default(),
        })?;
        Ok(ticket)
    }

    /// Records the request answered under `ticket`: `error` is the failure's text, or None.
    #[pyo3(signature = (ticket, method, name, error, length))]
    fn record(
        &self,
        ticket: u64,
        method: String,
        name: String,
        error: Option<String>,
        length: u64,
    ) -> PyResult<()> {
        self.post(Cmd::Record {
            ticket,
            method,
            name,
            error,
            length,
        });
        Ok(())
    }

    /// The request under `ticket` will not be recorded.
    fn forget(&self, ticket: u64) -> PyResult<()> {
        self.post(Cmd::Forget { ticket });
        Ok(())
    }

    /// A new session of this user (own jar and connections); its number.
    fn new_session(&self) -> PyResult<u32> {
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        self.send(Cmd::NewSession { session })?;
        Ok(session)
    }

    /// Asks for the session's cookies; they come back under the returned ticket.
    fn cookies(&self, session: u32) -> PyResult<u64> {
        let ticket = next_ticket();
        self.send(Cmd::Cookies { ticket, session })?;
        Ok(ticket)
    }

    #[pyo3(signature = (session, name, value, domain="".to_owned(), path="/".to_owned()))]
    fn set_cookie(
        &self,
        session: u32,
        name: String,
        value: String,
        domain: String,
        path: String,
    ) -> PyResult<()> {
        self.send(Cmd::SetCookie {
            session,
            name,
            value,
            domain,
            path,
        })
    }

    #[pyo3(signature = (session, name, domain=None, path=None))]
    fn remove_cookie(
        &self,
        session: u32,
        name: String,
        domain: Option<String>,
        path: Option<String>,
    ) -> PyResult<()> {
        self.send(Cmd::RemoveCookie {
            session,
            name,
            domain,
            path,
        })
    }

    fn clear_cookies(&self, session: u32) -> PyResult<()> {
        self.send(Cmd::ClearCookies { session })
    }

    /// Counts a request the user code reported itself; `response_time` in milliseconds.
    #[pyo3(signature = (method, name, response_time, length, error))]
    fn event(
        &self,
        method: String,
        name: String,
        response_time: f64,
        length: u64,
        error: Option<String>,
    ) -> PyResult<()> {
        let ms = if response_time.is_finite() && response_time > 0.0 {
            response_time
        } else {
            0.0
        };
        self.send(Cmd::Event {
            method,
            name,
            elapsed: Duration::from_secs_f64(ms / 1000.0),
            length,
            error,
        })
    }

    /// Counts an exception the user's loop caught: its message and traceback text.
    fn exception(&self, message: String, traceback: String) -> PyResult<()> {
        self.post(Cmd::Exception { message, traceback });
        Ok(())
    }

    /// Counts runs of tasks of this user's class (names, one per run).
    fn tasks_ran(&self, tasks: Vec<String>) -> PyResult<()> {
        self.post(Cmd::TaskRun { tasks });
        Ok(())
    }

    /// The user's greenlet is over.
    fn ended(&self) {
        self.post(Cmd::Ended);
    }
}
