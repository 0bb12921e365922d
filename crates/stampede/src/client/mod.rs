//! The per-user HTTP session: a browser-like client with its own cookie jar and keep-alive
//! connections, that records every request into the statistics.
//!
//! ```no_run
//! # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
//! let page = client.get("/account/signup/").await?;
//! let token = page.hidden_input("csrfmiddlewaretoken")?;
//! client
//!     .post("/account/signup/")
//!     .form(&[("csrfmiddlewaretoken", token.as_str()), ("email", "a@example.com"), ("password", "pw")])
//!     .expect_redirect_to("/")
//!     .await?;
//! # Ok(()) }
//! ```

mod config;
mod conn;
mod cookies;
mod error;
mod expect;
mod extract;
mod fields;
mod framing;
mod h1;
mod h1_error;
#[cfg(test)]
mod h1_props;
mod headers;
mod io;
mod progress;
mod request;
mod response;
mod scan;
mod stamp;
mod target;
mod think;
pub(crate) mod tls;
pub mod trace;
mod userinfo;

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cookie_store::CookieStore;
use url::Url;

pub use config::{ClientConfig, DEFAULT_MAX_BODY};
pub use conn::Resolve;
pub use cookies::DEFAULT_MAX_COOKIES;
pub use error::{ClientError, Phase};
pub use request::{Pending, RequestBuilder, Unrecorded};
pub use response::{ExtractError, Redirect, Response};

use crate::stats::Recorder;
use conn::{Conn, Health, Origin};
use io::IoMark;
pub(crate) use progress::Progress;

/// A request that was counted as a failure. It has already been recorded in the statistics;
/// a task that returns it with `?` ends quietly, without an entry in the exceptions table.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {name}: {reason}")]
pub struct RequestError {
    /// The request's method (`GET`).
    pub method: String,
    /// The name it is counted under in the statistics.
    pub name: String,
    /// The text grouped in the failures table.
    pub reason: String,
    /// The response, when there was one (an HTTP error status or a failed check).
    pub response: Option<Box<Response>>,
}

/// One finished request, as listeners see it (Locust's `events.request`).
#[derive(Debug)]
pub struct RequestEvent<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The name it is counted under.
    pub name: &'a str,
    /// From sending to the last body byte (the kernel's timestamps when it has them).
    pub response_time: Duration,
    /// Body bytes that arrived.
    pub content_length: u64,
    /// The final status, when a response arrived.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<&'a str>,
}

/// Called on every request of every user, on the user's own task: keep it cheap.
pub type RequestListener = Arc<dyn Fn(&RequestEvent<'_>) + Send + Sync>;

/// A user's `on_start` that failed, as the plan's `on_user_error` hooks see it (Locust's
/// `events.user_error`).
#[derive(Debug)]
pub struct UserError<'a> {
    /// The user type whose `on_start` failed.
    pub user_type: &'a str,
    /// Where it failed: `on_start`.
    pub task: &'a str,
    /// What failed, as the exceptions table says it.
    pub message: &'a str,
}

/// Called when a user's `on_start` fails, on the user's own task.
pub type UserErrorListener = Arc<dyn Fn(&UserError<'_>) + Send + Sync>;

/// One simulated user's browser.
pub struct Client {
    base: Url,
    config: ClientConfig,
    cookies: CookieStore,
    /// Open connections by origin; a user rarely talks to more than one.
    conns: Vec<Conn>,
    /// Origins seen hanging up a kept-alive connection within a second of an answer,
    /// without `Connection: close`: their POSTs always get a fresh connection.
    quick_closers: Vec<Arc<Origin>>,
    progress: Progress,
    recorder: Recorder,
    /// The last page fetched, sent as `Referer` like a browser does (Django's CSRF check
    /// demands one over HTTPS).
    last: Option<Arc<target::Target>>,
    /// Recent paths, prepared (see `target.rs`).
    targets: target::Targets,
    /// Bumped whenever the jar may have changed: a `Cookie` header made before is stale.
    jar_generation: u64,
    /// The `Cookie` header made for each origin, and the jar's count against its budget
    /// (see `cookies.rs`).
    cookie_lines: cookies::CookieLines,
    /// A buffer reused for text built per request (a form body).
    scratch: String,
    /// The headers of the hop going out, kept between requests for their room.
    out_headers: http::HeaderMap,
    /// Request bodies are split off this buffer: once the last body is sent and dropped,
    /// its room is used again, so a form posts without allocating.
    body_buf: bytes::BytesMut,
    /// An open-model arrival's intended start: the next request is timed from it.
    intended_start: Option<tokio::time::Instant>,
    /// Headers of this client's own, on every request.
    defaults: headers::DefaultHeaders,
    /// The user's stop, which ends a `think`; `None` outside a run.
    stop: Option<tokio_util::sync::CancellationToken>,
    /// This user's trace (`--trace-context`, `--otel`), and the span of the request in
    /// flight, whose `traceparent` every hop carries.
    trace: Option<trace::UserTrace>,
    span: Option<trace::RequestSpan>,
}

impl Client {
    /// Hands a finished request's span to the exporter, if this user's trace is exported.
    pub(crate) fn end_span(
        &self,
        span: trace::RequestSpan,
        method: &http::Method,
        name: &str,
        resp: Option<&Response>,
        reason: &Option<String>,
    ) {
        let (Some(trace), Some(tracing)) = (&self.trace, &self.config.tracing) else {
            return;
        };
        let Some(sink) = tracing.spans.as_ref().filter(|_| trace.exported) else {
            return;
        };
        sink.send(trace::SpanRecord {
            trace_id: trace.trace_id,
            span_id: span.span_id,
            method: method.as_str().to_owned(),
            name: name.to_owned(),
            url: resp.map(|r| r.url.to_string()).unwrap_or_default(),
            status: resp.map(|r| r.status.as_u16()),
            error: reason.clone(),
            start: span.start,
            end: std::time::SystemTime::now(),
        });
    }

    /// A client for one user: `base` is the host relative paths join (its user info becomes Basic auth for that origin), `recorder` where its requests are counted. Plans get one from [`UserContext::client`](crate::UserContext::client); this is for programs and tests that drive a client themselves.
    pub fn new(base: Url, config: ClientConfig, recorder: Recorder) -> Self {
        let trace = config.tracing.as_ref().map(|t| t.user());
        let (base, basic) = userinfo::split(base);
        let mut client = Self {
            base,
            config,
            cookies: CookieStore::default(),
            conns: Vec::new(),
            quick_closers: Vec::new(),
            progress: Progress::default(),
            recorder,
            last: None,
            targets: Default::default(),
            jar_generation: 0,
            cookie_lines: Default::default(),
            scratch: String::new(),
            body_buf: bytes::BytesMut::new(),
            out_headers: http::HeaderMap::new(),
            intended_start: None,
            defaults: Default::default(),
            stop: None,
            trace,
            span: None,
        };
        client.defaults.base_auth = basic.map(|v| (client.base.clone(), v));
        client
    }

    /// Times the next request from `intended` (an open-model arrival's scheduled start),
    /// so the delay before it went out counts, as wrk2 and k6's arrival rates count it:
    /// that delay grows exactly when the generator or the target saturates.
    pub fn set_intended_start(&mut self, intended: Option<tokio::time::Instant>) {
        self.intended_start = intended;
    }

    /// The host every relative path is joined to.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let host = client.base_url().host_str().unwrap_or("").to_owned();
    /// # let _ = host;
    /// # Ok(()) }
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The recorder this client reports to, for recording non-HTTP work.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// A GET of `path` (joined to the base URL, or a whole URL), sent when awaited.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/products/codemash-1/").name("product").await?;
    /// # Ok(()) }
    /// ```
    pub fn get<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::GET, path)
    }
    /// A POST of `path`; give it a body with `form`, `json` or `body`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/api/orders").json(&stampede::prelude::json!({})).await?;
    /// # Ok(()) }
    /// ```
    pub fn post<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::POST, path)
    }
    /// A PUT of `path`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.put("/api/profile").json(&stampede::prelude::json!({ "name": "Ann" })).await?;
    /// # Ok(()) }
    /// ```
    pub fn put<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::PUT, path)
    }
    /// A PATCH of `path`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.patch("/api/cart/items/1").json(&stampede::prelude::json!({ "quantity": 3 })).await?;
    /// # Ok(()) }
    /// ```
    pub fn patch<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::PATCH, path)
    }
    /// A DELETE of `path`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.delete("/api/cart/items/1").expect_status(204).await?;
    /// # Ok(()) }
    /// ```
    pub fn delete<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::DELETE, path)
    }
    /// A HEAD of `path`: the status and headers, no body.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.head("/static/app.js").await?;
    /// let size = r.header("content-length");
    /// # let _ = size;
    /// # Ok(()) }
    /// ```
    pub fn head<'c>(&'c mut self, path: impl Into<Cow<'c, str>>) -> RequestBuilder<'c> {
        self.request(http::Method::HEAD, path)
    }
    /// A request with any method. `path` is joined to the base URL; a `&str` is borrowed,
    /// not copied.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.request(http::Method::OPTIONS, "/api/products").expect_status(204).await?;
    /// # Ok(()) }
    /// ```
    pub fn request<'c>(
        &'c mut self,
        method: http::Method,
        path: impl Into<Cow<'c, str>>,
    ) -> RequestBuilder<'c> {
        RequestBuilder::new(self, method, path.into())
    }

    /// Closes every connection; the next request opens a new one.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.close_connections(); // as a new browser session would
    /// client.get("/").await?;
    /// # Ok(()) }
    /// ```
    pub fn close_connections(&mut self) {
        self.conns.clear();
    }

    /// Where a redirect from `from` to `location` goes. A location that means the same
    /// against the base URL (a path from the root on the base's origin, or a whole URL) is
    /// looked up as it is, without joining it first.
    fn redirect_target(
        &mut self,
        from: &target::Target,
        location: &str,
    ) -> Result<Arc<target::Target>, ClientError> {
        let rooted = location.starts_with('/') && !location.starts_with("//");
        let whole = has_scheme(location);
        if whole || (rooted && same_origin(&from.url, &self.base)) {
            return self.targets.get(&self.base, location);
        }
        let url = from
            .url
            .join(location)
            .map_err(|e| ClientError::Url(format!("redirect to {location}: {e}")))?;
        self.targets.get(&self.base, url.as_str())
    }

    /// The body buffer, emptied, with room for a typical form.
    fn body_buffer(&mut self) -> &mut bytes::BytesMut {
        self.body_buf.clear();
        self.body_buf.reserve(BODY_ROOM);
        &mut self.body_buf
    }

    /// The text in `scratch` as a body, split off the body buffer.
    fn body_from_scratch(&mut self) -> Bytes {
        self.body_buffer();
        self.body_buf.reserve(self.scratch.len());
        self.body_buf.extend_from_slice(self.scratch.as_bytes());
        self.body_buf.split().freeze()
    }

    /// Sends one request (one hop) to `origin` and reads its answer, on the open connection
    /// when it can still take one.
    ///
    /// A request that fails on a reused connection before a single response byte arrived
    /// met a connection the server had closed. It is to be sent again ([`Hop::Stale`]),
    /// once (`retried` says it was), on a new connection when it was never written or is
    /// safe to repeat (every method but POST and PATCH, as browsers and hyper-util's pool
    /// do). A written POST is a failure that says so: the server may have acted on it. (A
    /// POST is kept off a connection that may be closing under it to begin with, see
    /// [`Client::connection`].)
    async fn send_hop(
        &mut self,
        origin: &Arc<Origin>,
        out: Outgoing<'_>,
        retried: bool,
    ) -> Result<(h1::Head, conn::Body), Hop> {
        let method = out.method;
        let idempotent = !matches!(*method, http::Method::POST | http::Method::PATCH);
        let (i, idle) = self.connection(origin, idempotent).await?;
        let conn = &mut self.conns[i];
        let mark = conn.io.mark();
        self.progress.hop = Some((conn.io.clone(), mark));
        self.progress.origin = Some(conn.origin.clone());
        self.progress.phase = Phase::Send;
        let sent = conn.send(method, out.uri, out.headers, out.body).await;
        let moved = conn.io.since(mark);
        if moved.written > 0 && self.progress.began_ns == 0 {
            // A reused connection: the request began with its write.
            self.progress.began_ns = conn.stamps.sent_ns.load(Ordering::Relaxed);
        }
        if !conn.stamps.enabled.load(Ordering::Relaxed) {
            self.progress.unstamped = true;
        }
        let head = match sent {
            Ok(head) => head,
            Err(e) => {
                self.conns.swap_remove(i);
                // Reused (it has an idle time) and closed before a single response byte.
                let stale = idle.is_some() && moved.read == 0;
                if idle.is_some_and(|d| d < conn::FRESH_FOR_UNSAFE_AFTER) && stale {
                    // Not an idle timeout: this server hangs up right after answering.
                    self.mark_closes_quickly(origin);
                }
                if stale && !retried && (moved.written == 0 || idempotent) {
                    // Written, it may be in the server's log as well as the resend.
                    self.progress.resent += u32::from(moved.written > 0);
                    return Err(Hop::Stale);
                }
                if stale && moved.written > 0 {
                    return Err(Hop::Failed(ClientError::StaleNotRetried {
                        method: method.to_string(),
                    }));
                }
                return Err(Hop::Failed(send_error(&e, moved, &origin.target())));
            }
        };
        self.progress.phase = Phase::Body;
        let conn = &mut self.conns[i];
        let read = conn.read_body(&head, self.config.max_body).await;
        let body = match read {
            Ok(b) => b,
            Err(e) => {
                self.conns.swap_remove(i);
                let target = origin.target();
                return Err(Hop::Failed(ClientError::failed(Phase::Body, &target, e)));
            }
        };
        self.progress.answered += 1;
        self.progress.hop = None;
        let st = &conn.stamps;
        self.progress.stamps = Some((
            st.sent_ns.load(Ordering::Relaxed),
            st.first_rx_ns.load(Ordering::Relaxed),
            st.last_rx_ns.load(Ordering::Relaxed),
        ));
        if conn.closing() {
            // Closed at once, as a browser does: a server that lingers for the client's
            // close (gunicorn waits up to 2 s, RFC 9112 §9.6) is not kept waiting.
            self.conns.swap_remove(i);
        }
        Ok((head, body))
    }

    fn closes_quickly(&self, origin: &Origin) -> bool {
        self.quick_closers.iter().any(|o| **o == *origin)
    }

    fn mark_closes_quickly(&mut self, origin: &Arc<Origin>) {
        if !self.closes_quickly(origin) {
            self.quick_closers.push(origin.clone());
        }
    }

    /// The connection to `origin`, with how long it had been idle if it is a reused one;
    /// opens one when there is none or the open one cannot take another request (closed,
    /// or written on unasked).
    /// A POST or PATCH is not sent on a connection that may be closing under it: one idle
    /// half as long as this server was seen to keep an idle connection, or longer (see
    /// [`conn::may_risk_unrepeatable`]), or any kept-alive connection of a server seen
    /// hanging up within a second of an answer without saying so (it will race every such
    /// request).
    async fn connection(
        &mut self,
        origin: &Arc<Origin>,
        idempotent: bool,
    ) -> Result<(usize, Option<Duration>), ClientError> {
        if let Some(i) = self.conns.iter().position(|c| *c.origin == **origin) {
            match self.conns[i].health() {
                Health::Open { idle }
                    if idempotent
                        || (!self.closes_quickly(origin)
                            && conn::may_risk_unrepeatable(
                                idle,
                                self.targets.idle_close(origin),
                            )) =>
                {
                    return Ok((i, Some(idle)));
                }
                Health::Closed { idle, said: false } if idle < conn::FRESH_FOR_UNSAFE_AFTER => {
                    self.mark_closes_quickly(origin);
                }
                Health::Closed { idle, said: false } => self.targets.saw_idle_close(origin, idle),
                _ => {}
            }
            self.conns.swap_remove(i);
        }
        self.progress.origin = Some(origin.clone());
        let conn = Conn::open(origin.clone(), &self.config, &mut self.progress.phase).await?;
        self.progress.opened(conn.setup);
        self.conns.push(conn);
        Ok((self.conns.len() - 1, None))
    }
}

/// Why a hop got no answer.
enum Hop {
    /// The kept-alive connection was found closed: send the hop again, on a new one.
    Stale,
    Failed(ClientError),
}

impl From<ClientError> for Hop {
    fn from(e: ClientError) -> Self {
        Hop::Failed(e)
    }
}

/// A request on its way out: what one hop writes.
pub(crate) struct Outgoing<'a> {
    pub method: &'a http::Method,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub body: &'a Bytes,
}

/// A failure before the response head, named by what had happened on the wire.
fn send_error(e: &h1::H1Error, moved: IoMark, target: &str) -> ClientError {
    let write = matches!(e, h1::H1Error::Write(_));
    if moved.written == 0 && moved.read == 0 && (write || matches!(e, h1::H1Error::Unanswered)) {
        return ClientError::failed(
            Phase::Send,
            target,
            "the server closed the connection before the request was sent",
        );
    }
    let phase = if moved.written == 0 || write {
        Phase::Send
    } else {
        Phase::Headers
    };
    ClientError::failed(phase, target, e)
}

/// Whether two URLs share scheme, host and port, compared in place (`Url::origin`
/// allocates).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Whether `location` is a whole URL (`https://…`, `mailto:…`): it begins with a scheme.
fn has_scheme(location: &str) -> bool {
    let Some((scheme, _)) = location.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The room a body buffer is given up front: a form of the workshop's size fits.
const BODY_ROOM: usize = 1024;
