//! What crosses between Python's greenlets and the engine's users, both ways. Neither side
//! holds the other's objects: Python keys its waiters by ticket, Rust its pending records.

use std::time::Duration;

use bytes::Bytes;
use stampede::advanced::client::Phase;
use stampede::{ClientError, Response};

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
    /// Record a success at once, by this rule, without waiting for Python's verdict.
    pub auto: AutoVerdict,
}

/// When the engine may record a request itself: Python's verdict for a plain request
/// (no `catch_response`) that succeeds by its library's rule is known in advance, and
/// recording it here spares a second command (and a wakeup of the engine) per request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AutoVerdict {
    /// Python judges (a `catch_response` block, a streamed body, custom codes).
    #[default]
    Never,
    /// requests' rule (`raise_for_status`): any status outside 400-599 succeeds.
    Requests,
    /// geventhttpclient's, as FastHttpUser sets it: 200-208, 226, 301-304, 307, 308.
    Fast,
}

impl AutoVerdict {
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => AutoVerdict::Requests,
            2 => AutoVerdict::Fast,
            _ => AutoVerdict::Never,
        }
    }

    /// Whether a response with `status` is a success that can be recorded now.
    pub fn succeeds(self, status: u16) -> bool {
        match self {
            AutoVerdict::Never => false,
            AutoVerdict::Requests => !(400..600).contains(&status),
            AutoVerdict::Fast => matches!(status, 200..=208 | 226 | 301..=304 | 307 | 308),
        }
    }
}

/// Python → one user's life in Rust.
#[derive(Debug)]
pub enum Cmd {
    /// Send this on session `session` (0 is the user's own client); reply under `ticket`.
    Request {
        ticket: u64,
        session: u32,
        spec: Spec,
        /// Tasks that ran since the last command, counted on the way (no wakeup of their own).
        ran: Vec<String>,
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
        tasks: Vec<String>,
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
    /// The handle through which sessions built outside any user send (see
    /// `user::Role::OutsideUsers`); a new one replaces the last.
    OutsideUsers { handle: crate::handle::UserHandle },
    /// The runner asks this user to stop (Locust's `User.stop`).
    Stop { user_id: u64 },
    /// The runner gave up on this user: kill its greenlet now.
    Kill { user_id: u64 },
    /// The answer to a ticket.
    Reply { ticket: u64, reply: Reply },
    /// Run the locustfile's listeners of a lifecycle event (`test_start`, `test_stop`),
    /// then answer `Engine.hook_done(ticket)`; the run waits for them, as Locust's does.
    Hook { ticket: u64, event: &'static str },
    /// A moment of the test (`stampede::advanced::lifecycle::Milestone`), as a kind and its values.
    Milestone(Milestone),
    /// The run is over, with this exit code.
    Finished { code: i32 },
    /// Master-worker traffic of the locustfile's own (`send_message`, reports).
    Relay(Relayed),
}

/// What the engine's relay hands the locustfile.
pub enum Relayed {
    /// A message of a type the locustfile registers (`register_message`).
    Message {
        kind: String,
        data: rmpv::Value,
        from: String,
    },
    /// On a master: a worker's whole report (`worker_report`).
    WorkerReport { from: String, data: rmpv::Value },
    /// On a master: its workers (id, state, users) changed.
    Workers { workers: Vec<(String, String, u64)> },
    /// On a worker: the index its master gave it.
    Joined { index: u64 },
    /// On a worker: its master's options, before `test_start`.
    MasterOptions {
        options: rmpv::Value,
        host: Option<String>,
    },
    /// The web UI's start form set these locustfile arguments (as text), before the test.
    UiOptions {
        values: Vec<(String, String)>,
        host: Option<String>,
    },
    /// On a worker: fire `report_to_master`, then answer `Engine.report_extra(ticket, ...)`.
    ReportDue { ticket: u64 },
}

pub enum Reply {
    Raw(Box<RawData>),
    Cookies(Vec<(String, String, String, String)>),
}

/// A redirect followed: status, URL, headers.
pub type Hop = (u16, String, Vec<(String, String)>);

/// A response (or its absence) as Python's `Raw` reads it.
pub struct RawData {
    pub status: u16,
    pub reason: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub elapsed: f64,
    pub redirects: u32,
    /// Each redirect followed: status, URL, headers (`response.history`).
    pub history: Vec<Hop>,
    pub error_kind: Option<&'static str>,
    pub error: Option<String>,
    pub content_length: u64,
    /// The engine recorded it already (see [`AutoVerdict`]).
    pub recorded: bool,
    /// The body has a Content-Encoding for Python to undo.
    pub encoded: bool,
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
                history: r
                    .history()
                    .iter()
                    .map(|h| (h.status().as_u16(), h.url().to_string(), h.header_pairs()))
                    .collect(),
                error_kind: None,
                error: None,
                content_length: r.content_length(),
                recorded: false,
                encoded: r
                    .header("content-encoding")
                    .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")),
            },
            Err(e) => RawData {
                status: 0,
                reason: String::new(),
                url: String::new(),
                headers: Vec::new(),
                body: Bytes::new(),
                elapsed: elapsed.as_secs_f64(),
                redirects: 0,
                history: Vec::new(),
                error_kind: Some(error_kind(e)),
                error: Some(e.to_string()),
                content_length: 0,
                recorded: false,
                encoded: false,
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

#[cfg(test)]
mod tests {
    use super::AutoVerdict;

    #[test]
    fn the_libraries_success_rules() {
        let r = AutoVerdict::Requests;
        assert!(r.succeeds(200) && r.succeeds(302) && r.succeeds(399) && r.succeeds(600));
        assert!(!r.succeeds(400) && !r.succeeds(404) && !r.succeeds(599));
        let f = AutoVerdict::Fast;
        assert!(f.succeeds(200) && f.succeeds(208) && f.succeeds(226) && f.succeeds(304));
        assert!(!f.succeeds(209) && !f.succeeds(300) && !f.succeeds(305) && !f.succeeds(404));
        assert!(!AutoVerdict::Never.succeeds(200));
        assert_eq!(AutoVerdict::from_code(7), AutoVerdict::Never);
    }
}
