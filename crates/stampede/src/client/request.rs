//! Building and sending one request: the part of the session a task talks to.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::Full;
use url::Url;

use super::conn::Origin;
use super::expect;
use super::{Client, ClientError, RequestError, RequestEvent, Response};
use crate::stats::Event;

/// Redirects followed before giving up, as `requests` does (it allows 30; browsers ~20).
const MAX_REDIRECTS: usize = 20;

type Check<'c> = Box<dyn FnOnce(&Response) -> Result<(), String> + Send + 'c>;

/// A request being put together; nothing is sent until it is awaited (or
/// [`send`](RequestBuilder::send) is).
#[must_use = "a request is sent only when awaited: add `.await?`"]
pub struct RequestBuilder<'c> {
    client: &'c mut Client,
    method: Method,
    path: String,
    name: Option<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    follow_redirects: bool,
    timeout: Option<Duration>,
    /// Expectations and custom checks, run in order on the final response.
    checks: Vec<Check<'c>>,
    /// A check decides success instead of the status code (`check`, `expect_status`).
    status_decided: bool,
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
                method: Arc::from(self.method.as_str()),
                name: Arc::from(name),
                hops: hits,
            });
            // The user's task is being dropped: nothing else will flush its buffer.
            recorder.flush();
        }
    }
}

impl<'c> RequestBuilder<'c> {
    pub(super) fn new(client: &'c mut Client, method: Method, path: &str) -> Self {
        let error = client.invalid_header();
        Self {
            client,
            method,
            path: path.to_owned(),
            name: None,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            follow_redirects: true,
            timeout: None,
            checks: Vec::new(),
            status_decided: false,
            error,
            in_flight: false,
        }
    }

    /// The name this request is grouped under in the statistics (default: the path).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds query parameters, encoded.
    pub fn query<K: ToString, V: ToString>(mut self, pairs: &[(K, V)]) -> Self {
        self.query
            .extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Adds a header, over the client's defaults. An invalid name or value is reported (and
    /// counted as a failure) when the request is sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match super::headers::parse(name, value) {
            Ok((n, v)) => {
                self.headers.insert(n, v);
            }
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// A URL-encoded form body, as a browser submits a `<form method="post">`.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, fields: &[(K, V)]) -> Self {
        let mut enc = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            enc.append_pair(k.as_ref(), v.as_ref());
        }
        self.body = Bytes::from(enc.finish());
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(v) => {
                self.body = Bytes::from(v);
                self.headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Err(e) => self.error = Some(ClientError::Body(e.to_string())),
        }
        self
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Marks the request as sent by JavaScript (`X-Requested-With: XMLHttpRequest`), which
    /// Django views use to answer JSON instead of a page.
    pub fn ajax(self) -> Self {
        self.header("X-Requested-With", "XMLHttpRequest")
    }

    /// Returns redirects as they are instead of following them.
    pub fn no_redirects(mut self) -> Self {
        self.follow_redirects = false;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Decides success or failure instead of the status code (Locust's `catch_response`):
    /// `Err(reason)` counts the request as failed with that reason, `Ok` as a success even
    /// for a 404. Expectations added beside it still apply.
    pub fn check(
        mut self,
        check: impl FnOnce(&Response) -> Result<(), String> + Send + 'c,
    ) -> Self {
        self.status_decided = true;
        self.checks.push(Box::new(check));
        self
    }

    /// Adds a condition on the final response on top of the status rule.
    fn expect(mut self, check: impl FnOnce(&Response) -> Result<(), String> + Send + 'c) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// Fails the request unless the final status is `status` (which may then be a 404).
    pub fn expect_status(mut self, status: u16) -> Self {
        self.status_decided = true;
        let base = self.client.base.clone();
        self.expect(move |r| expect::status(r, status, &base))
    }

    /// Fails the request unless it was redirected and landed on `target`: a path on the
    /// plan's host (`/`, compared with the final URL's path and query) or a whole URL. A
    /// form that a site accepts redirects; one it refuses is shown again, so this tells
    /// them apart.
    pub fn expect_redirect_to(self, target: impl Into<String>) -> Self {
        let (target, base) = (target.into(), self.client.base.clone());
        self.expect(move |r| expect::redirect_to(r, &target, &base))
    }

    /// Fails the request unless the final URL's path passes `test`, as in
    /// `.expect_path(|p| p.ends_with("/payment/"))`. The failure names this line.
    #[track_caller]
    pub fn expect_path(self, test: impl FnOnce(&str) -> bool + Send + 'c) -> Self {
        let (at, base) = (std::panic::Location::caller(), self.client.base.clone());
        self.expect(move |r| expect::path(r, test, at, &base))
    }

    /// Fails the request unless the body contains `text` (within `--max-body`).
    pub fn expect_text(self, text: impl Into<String>) -> Self {
        let (text, base) = (text.into(), self.client.base.clone());
        self.expect(move |r| expect::text(r, &text, &base))
    }

    /// Sends the request, follows redirects, reads the body and records the outcome.
    ///
    /// Returns `Err` when the request failed: no response, an HTTP status of 400 or more, or
    /// a failed [`check`](Self::check). The failure is already counted in the statistics.
    pub async fn send(mut self) -> Result<Response, RequestError> {
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
                    })
                }
            },
        };
        self.in_flight = false;
        let name = self.name.take().unwrap_or_else(|| self.path.clone());
        let hops = self.client.progress.hits();
        // One clock per request: the kernel's timestamps when every hop had them, else
        // the monotonic clock. An open-model arrival's lag behind its schedule is added.
        let kernel = match outcome {
            Ok(_) => self.client.progress.kernel_elapsed(),
            Err(_) => None,
        };
        let timing = self.client.progress.timing(kernel.is_some());
        let elapsed = kernel.unwrap_or_else(|| started.elapsed()) + lag;
        let (response, reason) = match outcome {
            Ok(mut resp) => {
                resp.elapsed = elapsed;
                let verdict = self.verdict(&resp, &name);
                (Some(resp), verdict)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        let content_length = response.as_ref().map_or(0, |r| r.content_length);
        if self.client.config.verbose {
            log_exchange(
                &method,
                &name,
                response.as_ref(),
                reason.as_deref(),
                elapsed,
            );
        }
        for listener in &self.client.config.listeners {
            listener(&RequestEvent {
                method: method.as_str(),
                name: &name,
                response_time: elapsed,
                content_length,
                status: response.as_ref().map(|r| r.status.as_u16()),
                error: reason.as_deref(),
            });
        }
        self.client.recorder.record(Event::Request {
            method: Arc::from(method.as_str()),
            name: Arc::from(name.as_str()),
            elapsed_us: elapsed.as_micros() as u64,
            content_length,
            error: reason.clone(),
            at: self.client.progress.completed_at(timing.kernel),
            hops,
            resent: self.client.progress.resent,
            timing,
            pacing_us: 0,
        });
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

    /// Why the response counts as a failure, if it does: the status rule (unless a check
    /// replaced it), then each expectation in the order given; the first failure wins.
    fn verdict(&mut self, resp: &Response, name: &str) -> Option<String> {
        if !self.status_decided {
            if let Some(e) = http_error(resp.status, name) {
                return Some(e);
            }
        }
        std::mem::take(&mut self.checks)
            .into_iter()
            .find_map(|check| check(resp).err())
    }

    /// The request and its redirects, up to the final response with its body read.
    async fn exchange(&mut self) -> Result<Response, ClientError> {
        let mut url = self
            .client
            .base
            .join(&self.path)
            .map_err(|e| ClientError::Url(format!("{}: {e}", self.path)))?;
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(self.query.iter());
        }
        let mut method = self.method.clone();
        let mut body = self.body.clone();
        // The first hop's origin, kept once a redirect happens (not before: it costs an
        // allocation, and most requests are one hop).
        let mut first: Option<Origin> = None;
        for redirects in 0..=MAX_REDIRECTS {
            let origin = Origin::of(&url)?;
            let cross = first.as_ref().is_some_and(|f| *f != origin);
            let headers = self.request_headers(&url, &origin, &method, cross);
            let target = request_target(&url);
            let (m, b) = (method.clone(), body.clone());
            let (parts, answer) = self
                .client
                .send_hop(&origin, &method, || {
                    let mut req = http::Request::new(Full::new(b.clone()));
                    *req.method_mut() = m.clone();
                    *req.uri_mut() = target
                        .parse()
                        .expect("a URL's path and query form a valid URI");
                    *req.headers_mut() = headers.clone();
                    req
                })
                .await?;
            self.client.store_cookies(&parts.headers, &url);
            let location = parts
                .headers
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok());
            match location {
                Some(loc) if self.follow_redirects && parts.status.is_redirection() => {
                    first.get_or_insert(origin);
                    url = url
                        .join(loc)
                        .map_err(|e| ClientError::Url(format!("redirect to {loc}: {e}")))?;
                    if matches!(
                        parts.status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
                    ) && method != Method::HEAD
                    {
                        method = Method::GET;
                        body = Bytes::new();
                    }
                }
                _ => {
                    self.client.last_url = Some(url.clone());
                    return Ok(Response {
                        status: parts.status,
                        headers: parts.headers,
                        url,
                        content_length: answer.total,
                        body: answer.kept,
                        elapsed: Duration::ZERO,
                        redirects: redirects as u32,
                    });
                }
            }
        }
        Err(ClientError::TooManyRedirects(MAX_REDIRECTS))
    }

    /// The headers of one hop. A hop to another origin than the request's first (`cross`)
    /// carries no credentials, the client's or the request's own.
    fn request_headers(
        &self,
        url: &Url,
        origin: &Origin,
        method: &Method,
        cross: bool,
    ) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(8 + self.headers.len());
        let default_port = if origin.tls { 443 } else { 80 };
        let host = match url.host_str() {
            Some(host) if origin.port == default_port => host.to_owned(),
            Some(host) => format!("{host}:{}", origin.port),
            None => String::new(),
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            h.insert(header::HOST, v);
        }
        h.insert(header::USER_AGENT, self.client.config.user_agent.clone());
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(v) = self
            .client
            .cookie_header(url)
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            h.insert(header::COOKIE, v);
        }
        if let Some(prev) = &self.client.last_url {
            if super::same_origin(prev, url) {
                if let Ok(v) = HeaderValue::from_str(prev.as_str()) {
                    h.insert(header::REFERER, v);
                }
            }
        }
        self.client.add_default_headers(url, cross, &mut h);
        for (k, v) in &self.headers {
            if cross && super::headers::is_credential(k) {
                continue;
            }
            // A redirected POST becomes a GET and loses its body's content type.
            if *method == Method::GET && k == header::CONTENT_TYPE && self.method != Method::GET {
                continue;
            }
            h.insert(k.clone(), v.clone());
        }
        h
    }
}

/// `client.get("/").await?` sends the request, as [`RequestBuilder::send`] does, with the
/// error a task returns, so a task may also end with a request:
/// `async fn home(&mut self) -> TaskResult<Response> { self.client.get("/").await }`.
/// (`.send()` keeps the [`RequestError`] type.) The future is boxed, one allocation per
/// request; `.send()` has none.
impl<'c> std::future::IntoFuture for RequestBuilder<'c> {
    type Output = crate::task::TaskResult<Response>;
    type IntoFuture =
        std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send + 'c>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { Ok(self.send().await?) })
    }
}

/// Path and query, the request target of HTTP/1.1's origin form.
fn request_target(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

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

fn log_exchange(
    method: &Method,
    name: &str,
    resp: Option<&Response>,
    reason: Option<&str>,
    elapsed: Duration,
) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    match resp {
        Some(r) => {
            eprintln!(
                "{method} {name} -> {} {} ({ms:.1} ms, {} bytes)",
                r.status.as_u16(),
                r.url,
                r.body.len()
            );
            if let Some(reason) = reason {
                eprintln!("    FAILED: {reason}");
            }
        }
        None => eprintln!(
            "{method} {name} -> FAILED after {ms:.1} ms: {}",
            reason.unwrap_or("")
        ),
    }
}
