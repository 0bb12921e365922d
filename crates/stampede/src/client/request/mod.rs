//! Building and sending one request: the part of the session a task talks to. The trip
//! over the wire (hops, redirects, each hop's headers) is in `exchange.rs`.

mod exchange;
mod record;

pub use record::{Pending, Unrecorded};

use std::any::Any;
use std::borrow::Cow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};

use super::expect::Check;
use super::{Client, ClientError, RequestError, Response};
use crate::stats::Event;

/// Redirects followed before giving up, as `requests` does (it allows 30; browsers ~20).
const MAX_REDIRECTS: usize = 20;

/// W3C Trace Context's header (`--trace-context`).
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A request being put together; nothing is sent until it is awaited (or
/// [`send`](RequestBuilder::send) is).
#[must_use = "a request is sent only when awaited: add `.await?`"]
pub struct RequestBuilder<'c> {
    client: &'c mut Client,
    method: Method,
    /// Borrowed when the plan passes a `&str`, as it usually does: nothing is copied.
    path: Cow<'c, str>,
    name: Option<Cow<'c, str>>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    /// The body's `Content-Type` when `form` or `json` made it (kept apart from `headers`,
    /// which then need no map of their own).
    content_type: Option<HeaderValue>,
    body: Bytes,
    follow_redirects: bool,
    /// Redirects followed before giving up (20; a front may ask requests' 30).
    max_redirects: usize,
    /// Sends the browser-like headers (`User-Agent`, `Accept`, `Referer`); a front that
    /// builds every header itself (the Python one, as requests does) turns them off.
    browser_headers: bool,
    timeout: Option<Duration>,
    /// Expectations and custom checks, run in order on the final response.
    checks: Vec<Check<'c>>,
    /// A check decides success instead of the status code (`check`, `expect_status`).
    status_decided: bool,
    /// `extract(..)`: runs on a response that passed every check; its value is kept in
    /// `extracted` for `extract` to hand back.
    extractor: Option<Extractor<'c>>,
    extracted: Option<Box<dyn Any + Send>>,
    /// A problem found while building, reported (and recorded) at `send`.
    error: Option<ClientError>,
    /// `send` has begun and not yet recorded an outcome: dropped in this state (the run
    /// ended mid-request), the request is counted as unanswered if it left the machine.
    in_flight: bool,
}

impl Drop for RequestBuilder<'_> {
    fn drop(&mut self) {
        if !std::mem::take(&mut self.in_flight) {
            return;
        }
        let name = self.name.as_deref().unwrap_or(&self.path);
        let hits = self.client.progress.hits();
        if hits > 0 {
            let recorder = &self.client.recorder;
            recorder.record(Event::Unanswered {
                id: recorder.name_id(self.method.as_str(), name),
                hops: hits,
                mid_body: self.client.progress.phase == super::Phase::Body,
            });
            // The user's task is being dropped: nothing else will flush its buffer.
            recorder.flush();
        }
    }
}

impl<'c> RequestBuilder<'c> {
    pub(super) fn new(client: &'c mut Client, method: Method, path: Cow<'c, str>) -> Self {
        let error = client.invalid_header();
        Self {
            client,
            method,
            path,
            name: None,
            query: Vec::new(),
            headers: HeaderMap::new(),
            content_type: None,
            body: Bytes::new(),
            follow_redirects: true,
            max_redirects: MAX_REDIRECTS,
            browser_headers: true,
            timeout: None,
            checks: Vec::new(),
            status_decided: false,
            extractor: None,
            extracted: None,
            error,
            in_flight: false,
        }
    }

    /// The name this request is grouped under in the statistics (default: the path).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/products/42/").name("/products/[id]/").await?;
    /// # Ok(()) }
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'c, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds query parameters, encoded.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/search/").query(&[("q", "hoodie"), ("page", "2")]).await?;
    /// # Ok(()) }
    /// ```
    pub fn query<K: ToString, V: ToString>(mut self, pairs: &[(K, V)]) -> Self {
        self.query
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Adds a header, over the client's defaults. An invalid name or value is reported (and
    /// counted as a failure) when the request is sent.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/api/items").header("Accept", "application/json").await?;
    /// # Ok(()) }
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match super::headers::parse(name, value) {
            Ok((n, v)) => {
                if n == header::CONTENT_TYPE {
                    self.content_type = None;
                }
                self.headers.insert(n, v);
            }
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// A URL-encoded form body, as a browser submits a `<form method="post">`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let csrf = client.get("/account/login/").await?.form_field("csrfmiddlewaretoken")?;
    /// client.post("/account/login/").form(&[("csrfmiddlewaretoken", csrf.as_str()), ("username", "ann")]).await?;
    /// # Ok(()) }
    /// ```
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, fields: &[(K, V)]) -> Self {
        let text = &mut self.client.scratch;
        text.clear();
        let mut enc = url::form_urlencoded::Serializer::new(text);
        for (k, v) in fields {
            enc.append_pair(k.as_ref(), v.as_ref());
        }
        enc.finish();
        self.body = self.client.body_from_scratch();
        self.set_content_type("application/x-www-form-urlencoded")
    }

    /// A JSON body.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/api/cart/items").json(&stampede::prelude::json!({ "variant_id": 1, "quantity": 2 })).await?;
    /// # Ok(()) }
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        let body = self.client.body_buffer();
        match serde_json::to_writer(bytes::BufMut::writer(&mut *body), value) {
            Ok(()) => {
                self.body = body.split().freeze();
                self.set_content_type("application/json")
            }
            Err(e) => {
                body.clear();
                self.error = Some(ClientError::Body(e.to_string()));
                self
            }
        }
    }

    /// The body's type, replacing one set before (by a header or another body).
    fn set_content_type(mut self, value: &'static str) -> Self {
        self.headers.remove(header::CONTENT_TYPE);
        self.content_type = Some(HeaderValue::from_static(value));
        self
    }

    /// A raw body.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.put("/api/blob").header("Content-Type", "text/plain").body("plain text").await?;
    /// # Ok(()) }
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Marks the request as sent by JavaScript (`X-Requested-With: XMLHttpRequest`), which
    /// Django views use to answer JSON instead of a page.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/products/codemash-1/add/").form(&[("quantity", "1")]).ajax().await?;
    /// # Ok(()) }
    /// ```
    pub fn ajax(self) -> Self {
        self.header("X-Requested-With", "XMLHttpRequest")
    }

    /// Returns redirects as they are instead of following them.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/old-page/").no_redirects().await?;
    /// assert!(r.status().is_redirection());
    /// # Ok(()) }
    /// ```
    pub fn no_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    /// This request's limit, instead of `--request-timeout` (60 s by default); the
    /// failure names the phase the time ran out in.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/report.pdf").timeout(std::time::Duration::from_secs(120)).await?;
    /// # Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Decides success or failure instead of the status code (Locust's `catch_response`):
    /// `Err(reason)` counts the request as failed with that reason, `Ok` as a success even
    /// for a 404. Expectations added beside it still apply.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client
    ///     .get("/search/?q=none")
    ///     .check(|r| match r.status().as_u16() {
    ///         200 | 404 => Ok(()),
    ///         other => Err(format!("unexpected {other}")),
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn check(
        mut self,
        check: impl FnOnce(&Response) -> Result<(), String> + Send + 'c,
    ) -> Self {
        self.status_decided = true;
        self.checks.push(Check::Custom(Box::new(check)));
        self
    }

    /// Follows at most `n` redirects (20 unless set); one more fails the request.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Sends only the headers given here and the client's own (`set_header`), besides
    /// `Host`, `Cookie`, `Content-Length` and trace context: no browser-like `User-Agent`,
    /// `Accept` or `Referer`. For a front that builds every header as its own library does.
    pub fn without_browser_headers(mut self) -> Self {
        self.browser_headers = false;
        self
    }

    /// Fails the request unless the final status is `status` (which may then be a 404).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/api/orders").expect_status(201).await?;
    /// # Ok(()) }
    /// ```
    pub fn expect_status(mut self, status: u16) -> Self {
        self.status_decided = true;
        self.checks.push(Check::Status(status));
        self
    }

    /// Fails the request unless it was redirected and landed on `target`: a path on the
    /// plan's host (`/`, compared with the final URL's path and query) or a whole URL. A
    /// form that a site accepts redirects; one it refuses is shown again, so this tells
    /// them apart.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/account/signup/").form(&[("email", "ann@example.com")]).expect_redirect_to("/").await?;
    /// # Ok(()) }
    /// ```
    pub fn expect_redirect_to(mut self, target: impl Into<Cow<'c, str>>) -> Self {
        self.checks.push(Check::RedirectTo(target.into()));
        self
    }

    /// Fails the request unless the final URL's path passes `test`, as in
    /// `.expect_path(|p| p.ends_with("/payment/"))`. The failure names this line.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.post("/checkout/summary/").expect_path(|p| p.ends_with("/payment/")).await?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn expect_path(mut self, test: impl FnOnce(&str) -> bool + Send + 'c) -> Self {
        let at = std::panic::Location::caller();
        self.checks.push(Check::Path(Box::new(test), at));
        self
    }

    /// Fails the request unless the body contains `text` (within `--max-body`).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.get("/cart/").expect_text("Your cart").await?;
    /// # Ok(()) }
    /// ```
    pub fn expect_text(mut self, text: impl Into<Cow<'c, str>>) -> Self {
        self.checks.push(Check::Text(text.into()));
        self
    }

    /// Sends the request, follows redirects, reads the body and records the outcome.
    ///
    /// Returns `Err` when the request failed: no response, an HTTP status of 400 or more, or
    /// a failed [`check`](Self::check). The failure is already counted in the statistics.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// match client.get("/maybe/").send().await {
    ///     Ok(r) => println!("{}", r.status()),
    ///     Err(e) => println!("failed: {} (already counted)", e.reason),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(mut self) -> Result<Response, RequestError> {
        self.run().await
    }

    /// Sends the request as [`send`](Self::send) does, then hands back what `f` takes out
    /// of the response: a token, an id, a CSRF field. `f` runs only on a response that
    /// passed (the status rule or a [`check`](Self::check), and every expectation); when it
    /// fails, the request is counted as failed with `could not extract: ` and `f`'s error,
    /// which for the built-in extractors says what was missing.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let token: String = client
    ///     .post("/api/login")
    ///     .json(&serde_json::json!({ "email": "ann@example.com", "password": "hoodies!" }))
    ///     .name("login")
    ///     .extract(|r| r.json_path("token"))
    ///     .await?;
    /// client.set_header("Authorization", &format!("Bearer {token}"));
    /// # Ok(()) }
    /// ```
    pub async fn extract<T, E>(
        mut self,
        f: impl FnOnce(&Response) -> Result<T, E> + Send + 'c,
    ) -> Result<T, RequestError>
    where
        T: Send + 'static,
        E: std::fmt::Display,
    {
        self.extractor = Some(Box::new(move |r| match f(r) {
            Ok(v) => Ok(Box::new(v) as Box<dyn Any + Send>),
            Err(e) => Err(format!("could not extract: {e}")),
        }));
        self.run().await?;
        let value = self
            .extracted
            .take()
            .and_then(|v| v.downcast::<T>().ok())
            .expect("a request that passed ran its extractor, of this type");
        Ok(*value)
    }

    /// The body of [`send`](Self::send) and [`extract`](Self::extract).
    async fn run(&mut self) -> Result<Response, RequestError> {
        let done = self.exchange_timed().await;
        let reason = match &done.outcome {
            Ok(resp) => self.verdict(resp, &done.pending.name),
            Err(e) => Some(e.to_string()),
        };
        let response = done.outcome.ok();
        let pending = done.pending;
        let method = pending.method.clone();
        let name = pending.name.clone();
        self.client
            .record_pending(pending, response.as_ref(), reason.clone());
        match (response, reason) {
            (Some(r), None) => Ok(r),
            (response, Some(reason)) => Err(RequestError {
                method: method.to_string(),
                name,
                reason,
                response: response.map(Box::new),
            }),
            (None, None) => unreachable!("a request without a response always has a reason"),
        }
    }

    /// Sends the request and follows redirects, as [`send`](Self::send) does, but neither
    /// judges nor records it: the caller decides success or failure (another front's rules
    /// and failure texts, Locust's `catch_response`) and hands the [`Pending`] back to
    /// [`Client::record_pending`]. A `Pending` dropped unrecorded counts nothing, as Locust
    /// reports nothing for a request whose verdict never came.
    pub async fn send_unrecorded(mut self) -> Unrecorded {
        let done = self.exchange_timed().await;
        Unrecorded {
            outcome: done.outcome,
            pending: done.pending,
        }
    }

    /// The exchange under its timeout, with its timing taken: everything but the verdict.
    async fn exchange_timed(&mut self) -> Unrecorded {
        let method = self.method.clone();
        let started = Instant::now();
        // An arrival's lag behind its schedule, up to the moment its request goes out.
        let lag = self
            .client
            .intended_start
            .take()
            .map_or(Duration::ZERO, |i| {
                tokio::time::Instant::now().saturating_duration_since(i)
            });
        let timeout = self.timeout.unwrap_or(self.client.config.request_timeout);
        self.client.progress = Default::default();
        self.client.span = self.client.trace.as_ref().and_then(|t| t.begin());
        self.in_flight = true;
        let outcome = match self.error.take() {
            Some(e) => Err(e),
            None => match tokio::time::timeout(timeout, self.exchange()).await {
                Ok(r) => r,
                Err(_) => {
                    // The abandoned exchange would hold the connection: start afresh.
                    self.client.close_connections();
                    Err(ClientError::Timeout {
                        phase: self.client.progress.timeout_phase(),
                        after: timeout,
                        target: self.client.progress.target(),
                        arrived: self.client.progress.body_arrived(),
                    })
                }
            },
        };
        self.in_flight = false;
        let name = self
            .name
            .take()
            .unwrap_or_else(|| std::mem::take(&mut self.path));
        let progress = &self.client.progress;
        // One clock per request: the kernel's timestamps when every hop had them, else
        // the monotonic clock. An open-model arrival's lag behind its schedule is added.
        let kernel = match outcome {
            Ok(_) => progress.kernel_elapsed(),
            Err(_) => None,
        };
        let timing = progress.timing(kernel.is_some());
        let elapsed = kernel.unwrap_or_else(|| started.elapsed()) + lag;
        let pending = Pending {
            method,
            name: name.into_owned(),
            elapsed,
            hops: progress.hits(),
            resent: progress.resent,
            at: progress.completed_at(timing.kernel),
            timing,
            span: self.client.span.take(),
        };
        let outcome = outcome.map(|mut resp| {
            resp.elapsed = elapsed;
            resp
        });
        Unrecorded { outcome, pending }
    }

    /// Why the response counts as a failure, if it does: the status rule (unless a check
    /// replaced it), then each expectation in the order given; the first failure wins.
    fn verdict(&mut self, resp: &Response, name: &str) -> Option<String> {
        if !self.status_decided {
            if let Some(e) = http_error(resp.status, name) {
                return Some(e);
            }
        }
        let base = &self.client.base;
        let failed = std::mem::take(&mut self.checks)
            .into_iter()
            .find_map(|check| check.run(resp, base).err());
        if failed.is_some() {
            return failed;
        }
        match self.extractor.take().map(|f| f(resp)) {
            Some(Ok(value)) => {
                self.extracted = Some(value);
                None
            }
            Some(Err(reason)) => Some(reason),
            None => None,
        }
    }
}

/// What `extract` runs on the response: the value, boxed, or why there was none.
type Extractor<'c> = Box<dyn FnOnce(&Response) -> Result<Box<dyn Any + Send>, String> + Send + 'c>;

/// Locust's wording for an HTTP error status, so failure tables read the same.
fn http_error(status: StatusCode, name: &str) -> Option<String> {
    if status.as_u16() < 400 {
        return None;
    }
    let kind = if status.is_client_error() {
        "Client"
    } else {
        "Server"
    };
    let reason = status.canonical_reason().unwrap_or("Unknown");
    Some(format!(
        "HTTPError('{} {kind} Error: {reason} for url: {name}')",
        status.as_u16()
    ))
}
