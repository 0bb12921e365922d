//! What crosses between Python's greenlets and the engine's users, both ways. Neither side
//! holds the other's objects: Python keys its waiters by ticket, Rust its pending records.

use std::time::Duration;

use bytes::Bytes;
use stampede::client::{ClientError, Phase, Response};

/// One request as a session built it: every header and the body, already encoded.
#[derive(Debug, Default)]
pub struct Spec {
    pub method: String,
    /// Absolute.
    pub url: String,
    /// The name it is counted under (also when the run cuts it off unanswered).
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub allow_redirects: bool,
    pub max_redirects: usize,
    pub timeout: Option<Duration>,
}

/// Python → one user's life in Rust.
#[derive(Debug)]
pub enum Cmd {
    /// Send this on session `session` (0 is the user's own client); reply under `ticket`.
    Request {
        ticket: u64,
        session: u32,
        spec: Spec,
    },
    /// Record the request answered under `ticket`, with this verdict.
    Record {
        ticket: u64,
        method: String,
        name: String,
        error: Option<String>,
        length: u64,
    },
    /// The request under `ticket` will never be recorded (Locust reports nothing).
    Forget {
        ticket: u64,
    },
    /// A new session (a hand-built `HttpSession`) for this user.
    NewSession {
        session: u32,
    },
    Cookies {
        ticket: u64,
        session: u32,
    },
    SetCookie {
        session: u32,
        name: String,
        value: String,
        domain: String,
        path: String,
    },
    RemoveCookie {
        session: u32,
        name: String,
        domain: Option<String>,
        path: Option<String>,
    },
    ClearCookies {
        session: u32,
    },
    /// A request the user code reported itself (`events.request.fire`).
    Event {
        method: String,
        name: String,
        elapsed: Duration,
        length: u64,
        error: Option<String>,
    },
    /// An exception the user's loop caught (the Exceptions tab): `str(e)` and traceback.
    Exception {
        message: String,
        traceback: String,
    },
    /// A task of this user returned (the task table's runs).
    TaskRun {
        task: String,
    },
    /// The user's greenlet is over.
    Ended,
}

/// Engine → Python, drained on the hub.
pub enum Msg {
    /// Start a user of class `class` (an index into the classes given at start).
    Spawn {
        class: usize,
        user_id: u64,
        /// The run's host as the engine has it (a worker's comes from its master).
        host: String,
        handle: crate::handle::UserHandle,
    },
    /// The runner asks this user to stop (Locust's `User.stop`).
    Stop { user_id: u64 },
    /// The runner gave up on this user: kill its greenlet now.
    Kill { user_id: u64 },
    /// The answer to a ticket.
    Reply { ticket: u64, reply: Reply },
    /// Run the locustfile's listeners of a lifecycle event (`test_start`, `test_stop`),
    /// then answer `Engine.hook_done(ticket)`; the run waits for them, as Locust's does.
    Hook { ticket: u64, event: &'static str },
    /// A moment of the test (`stampede::lifecycle::Milestone`), as a kind and its values.
    Milestone(Milestone),
    /// The run is over, with this exit code.
    Finished { code: i32 },
}

pub enum Reply {
    Raw(Box<RawData>),
    Cookies(Vec<(String, String, String, String)>),
}

/// A response (or its absence) as Python's `Raw` reads it.
pub struct RawData {
    pub status: u16,
    pub reason: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub elapsed: f64,
    pub redirects: u32,
    pub error_kind: Option<&'static str>,
    pub error: Option<String>,
    pub content_length: u64,
}

impl RawData {
    pub fn from_outcome(outcome: &Result<Response, ClientError>, elapsed: Duration) -> Self {
        match outcome {
            Ok(r) => RawData {
                status: r.status().as_u16(),
                reason: r.reason(),
                url: r.url().to_string(),
                headers: r.header_pairs(),
                body: r.bytes().clone(),
                elapsed: elapsed.as_secs_f64(),
                redirects: r.redirects(),
                error_kind: None,
                error: None,
                content_length: r.content_length(),
            },
            Err(e) => RawData {
                status: 0,
                reason: String::new(),
                url: String::new(),
                headers: Vec::new(),
                body: Bytes::new(),
                elapsed: elapsed.as_secs_f64(),
                redirects: 0,
                error_kind: Some(error_kind(e)),
                error: Some(e.to_string()),
                content_length: 0,
            },
        }
    }
}

/// Which of Locust's exceptions a client error stands for (Python builds the exception).
pub fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Timeout { .. } => "timeout",
        ClientError::Failed { phase, detail, .. } => {
            let d = detail.to_ascii_lowercase();
            match phase {
                Phase::Dns => "dns",
                Phase::Connect if d.contains("refused") => "refused",
                _ if d.contains("parse") || d.contains("invalid") || d.contains("malformed") => {
                    "parse"
                }
                Phase::Headers | Phase::Send | Phase::Body => "closed",
                _ => "other",
            }
        }
        ClientError::StaleNotRetried { .. } => "closed",
        ClientError::TooManyRedirects(_) => "redirects",
        _ => "other",
    }
}

/// A test's milestone, flattened for Python.
pub enum Milestone {
    WebUi(String),
    Ramping { users: u64, rate: f64, shape: bool },
    Spawned(Vec<(String, u64)>),
    Ending(&'static str),
}
