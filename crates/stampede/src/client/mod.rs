//! The per-user HTTP session: a browser-like client with its own cookie jar and keep-alive
//! connections, that records every request into the statistics.
//!
//! ```no_run
//! # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
//! let page = client.get("/account/signup/").send().await?;
//! let token = page.hidden_input("csrfmiddlewaretoken")?;
//! client
//!     .post("/account/signup/")
//!     .form(&[("csrfmiddlewaretoken", token.as_str()), ("email", "a@example.com"), ("password", "pw")])
//!     .send()
//!     .await?;
//! # Ok(()) }
//! ```

mod conn;
mod error;
mod io;
mod request;
mod response;
mod tls;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cookie_store::CookieStore;
use http_body_util::Full;
use url::Url;

pub use conn::Resolve;
pub use error::{ClientError, Phase};
pub use request::RequestBuilder;
pub use response::{ExtractError, Response};

use crate::stats::Recorder;
use conn::{Conn, Origin};
use io::{IoCounters, IoMark};

/// A request that was counted as a failure. It has already been recorded in the statistics;
/// a task that returns it with `?` ends quietly, without an entry in the exceptions table.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {name}: {reason}")]
pub struct RequestError {
    pub method: String,
    pub name: String,
    /// The text grouped in the failures table.
    pub reason: String,
    /// The response, when there was one (an HTTP error status or a failed check).
    pub response: Option<Box<Response>>,
}

/// One finished request, as listeners see it (Locust's `events.request`).
#[derive(Debug)]
pub struct RequestEvent<'a> {
    pub method: &'a str,
    pub name: &'a str,
    pub response_time: Duration,
    pub content_length: u64,
    /// The final status, when a response arrived.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
}

/// Called on every request of every user, on the user's own task: keep it cheap.
pub type RequestListener = Arc<dyn Fn(&RequestEvent<'_>) + Send + Sync>;

/// Settings shared by every user's client in a run.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) tls: Arc<rustls::ClientConfig>,
    /// DNS, TCP connect and TLS handshake together (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// A whole request, redirects included (`--request-timeout`); Locust's FastHttpUser
    /// also uses 60 s.
    pub request_timeout: Duration,
    /// Body bytes a plan can read (`--max-body`); the rest is counted, not kept.
    pub max_body: usize,
    /// Names pinned to addresses (`--resolve`).
    pub resolve: Arc<[Resolve]>,
    pub user_agent: http::HeaderValue,
    /// Log every request and response (the single-user debugging mode).
    pub verbose: bool,
    pub listeners: Vec<RequestListener>,
}

/// The default of `--max-body`.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

impl ClientConfig {
    pub fn new(insecure: bool) -> Self {
        Self::with_tls(insecure, None).expect("no CA file, nothing to fail")
    }

    /// With an extra CA (`--ca-cert`): fails when the file holds no usable certificate.
    pub fn with_tls(insecure: bool, ca_cert: Option<&Path>) -> Result<Self, String> {
        Ok(Self {
            tls: tls::tls_config(insecure, ca_cert)?,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body: DEFAULT_MAX_BODY,
            resolve: Arc::from(Vec::new()),
            user_agent: http::HeaderValue::from_static(concat!(
                "stampede/",
                env!("CARGO_PKG_VERSION")
            )),
            verbose: false,
            listeners: Vec::new(),
        })
    }
}

/// How far the request in flight has got: read when its time runs out (to name the phase)
/// and when it is abandoned at the end of a run (to count it as unanswered).
#[derive(Default)]
pub(crate) struct Progress {
    pub phase: Phase,
    /// Responses received so far: each is one hit in the server's log.
    pub answered: u32,
    /// The connection of the hop in flight, and its byte counts when the hop began.
    pub hop: Option<(Arc<IoCounters>, IoMark)>,
    pub origin: Option<Arc<Origin>>,
}

impl Progress {
    /// Whether the hop in flight has written anything: it has left the machine.
    pub fn hop_written(&self) -> bool {
        self.hop
            .as_ref()
            .is_some_and(|(io, mark)| io.since(*mark).written > 0)
    }

    /// Server hits so far, the hop in flight included once it was written.
    pub fn hits(&self) -> u32 {
        self.answered + u32::from(self.hop_written())
    }

    /// The phase to name when time runs out: a written request waits for its answer.
    pub fn timeout_phase(&self) -> Phase {
        match self.phase {
            Phase::Send if self.hop_written() => Phase::Headers,
            p => p,
        }
    }

    pub fn target(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(String::new, |o| o.target())
    }
}

/// One simulated user's browser.
pub struct Client {
    base: Url,
    config: ClientConfig,
    cookies: CookieStore,
    /// Open connections by origin; a user rarely talks to more than one.
    conns: Vec<Conn>,
    progress: Progress,
    recorder: Recorder,
    /// The last page fetched, sent as `Referer` like a browser does (Django's CSRF check
    /// demands one over HTTPS).
    last_url: Option<Url>,
    /// Added to the next request's time: an open-model arrival's lag behind schedule.
    start_lag: Duration,
}

impl Client {
    pub fn new(base: Url, config: ClientConfig, recorder: Recorder) -> Self {
        Self {
            base,
            config,
            cookies: CookieStore::default(),
            conns: Vec::new(),
            progress: Progress::default(),
            recorder,
            last_url: None,
            start_lag: Duration::ZERO,
        }
    }

    /// Counts `lag` into the next request's response time, so an arrival that started late
    /// is measured from when it should have started.
    pub fn set_start_lag(&mut self, lag: Duration) {
        self.start_lag = lag;
    }

    /// The host every relative path is joined to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The recorder this client reports to, for recording non-HTTP work.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    pub fn get(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::GET, path)
    }
    pub fn post(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::POST, path)
    }
    pub fn put(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::PUT, path)
    }
    pub fn patch(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::PATCH, path)
    }
    pub fn delete(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::DELETE, path)
    }
    pub fn head(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(http::Method::HEAD, path)
    }
    pub fn request(&mut self, method: http::Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder::new(self, method, path)
    }

    /// The value of cookie `name` that would be sent to the base host, such as Django's
    /// `csrftoken` for the `X-CSRFToken` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .get_request_values(&self.base)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Forgets every cookie (a fresh browser profile).
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Closes every connection; the next request opens a new one.
    pub fn close_connections(&mut self) {
        self.conns.clear();
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let mut out = String::new();
        for (n, v) in self.cookies.get_request_values(url) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
        (!out.is_empty()).then_some(out)
    }

    fn store_cookies(&mut self, headers: &http::HeaderMap, url: &Url) {
        for value in headers.get_all(http::header::SET_COOKIE) {
            if let Ok(s) = value.to_str() {
                // A malformed attribute (Saleor's `Max-Age=315360000.0`) is ignored by the
                // parser and the cookie kept, as browsers do.
                let _ = self.cookies.parse(s, url);
            }
        }
    }

    /// Sends one request (one hop) to `origin` and reads its answer, on the open connection
    /// when it can still take one.
    ///
    /// A request that fails on a reused connection before a single response byte arrived
    /// met a connection the server had closed. It is sent again, once, on a new connection
    /// when it was never written or is safe to repeat (every method but POST and PATCH, as
    /// browsers and hyper-util's pool do). A written POST is a failure that says so: the
    /// server may have acted on it. (A POST after a second of idleness gets a fresh
    /// connection to begin with, see [`conn::FRESH_FOR_UNSAFE_AFTER`].)
    async fn send_hop(
        &mut self,
        origin: &Origin,
        method: &http::Method,
        req: impl Fn() -> http::Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, conn::Body), ClientError> {
        let idempotent = !matches!(*method, http::Method::POST | http::Method::PATCH);
        let mut retried = false;
        loop {
            let (i, reused) = self.connection(origin, idempotent).await?;
            let conn = &mut self.conns[i];
            let mark = conn.io.mark();
            self.progress.hop = Some((conn.io.clone(), mark));
            self.progress.origin = Some(conn.origin.clone());
            self.progress.phase = Phase::Send;
            let sent = conn.send(req()).await;
            let moved = conn.io.since(mark);
            let head = match sent {
                Ok(head) => head,
                Err(e) => {
                    self.conns.swap_remove(i);
                    let stale = reused && moved.read == 0;
                    if stale && !retried && (moved.written == 0 || idempotent) {
                        retried = true;
                        continue;
                    }
                    if stale && moved.written > 0 {
                        return Err(ClientError::StaleNotRetried {
                            method: method.to_string(),
                        });
                    }
                    let phase = if moved.written == 0 {
                        Phase::Send
                    } else {
                        Phase::Headers
                    };
                    return Err(ClientError::failed(
                        phase,
                        &origin.target(),
                        error::hyper_detail(&e),
                    ));
                }
            };
            self.progress.phase = Phase::Body;
            let (parts, body) = head.into_parts();
            let conn = &mut self.conns[i];
            let read = conn.read_body(&parts, body, self.config.max_body).await;
            let body = match read {
                Ok(b) => b,
                Err(e) => {
                    self.conns.swap_remove(i);
                    return Err(ClientError::failed(
                        Phase::Body,
                        &origin.target(),
                        error::hyper_detail(&e),
                    ));
                }
            };
            self.progress.answered += 1;
            self.progress.hop = None;
            if let Some(expected) = content_length(method, &parts) {
                if body.total < expected {
                    self.conns.swap_remove(i);
                    return Err(ClientError::failed(
                        Phase::Body,
                        &origin.target(),
                        format!("the body ended after {} of {expected} bytes", body.total),
                    ));
                }
            }
            return Ok((parts, body));
        }
    }

    /// The connection to `origin` and whether it was reused; opens one when there is none
    /// or the open one cannot take another request.
    async fn connection(
        &mut self,
        origin: &Origin,
        idempotent: bool,
    ) -> Result<(usize, bool), ClientError> {
        if let Some(i) = self.conns.iter().position(|c| *c.origin == *origin) {
            if self.conns[i].reusable(idempotent) {
                return Ok((i, true));
            }
            self.conns.swap_remove(i);
        }
        let origin = Arc::new(origin.clone());
        self.progress.origin = Some(origin.clone());
        let conn = Conn::open(origin, &self.config, &mut self.progress.phase).await?;
        self.conns.push(conn);
        Ok((self.conns.len() - 1, false))
    }
}

/// The body length the head announces, where a body follows it at all.
fn content_length(method: &http::Method, head: &http::response::Parts) -> Option<u64> {
    let s = head.status.as_u16();
    if *method == http::Method::HEAD || s < 200 || s == 204 || s == 304 {
        return None;
    }
    head.headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
