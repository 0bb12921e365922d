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
mod request;
mod response;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cookie_store::CookieStore;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use url::Url;

pub use request::RequestBuilder;
pub use response::{ExtractError, Response};

use crate::stats::Recorder;
use conn::Origin;

/// Why a request produced no usable response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Io(String),
    #[error("timed out")]
    Timeout,
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(usize),
    #[error("could not encode the request body: {0}")]
    Body(String),
}

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
    /// Applies to each request, redirects included; Locust's FastHttpUser also uses 60 s.
    pub timeout: Duration,
    pub user_agent: http::HeaderValue,
    /// Log every request and response (the single-user debugging mode).
    pub verbose: bool,
    pub listeners: Vec<RequestListener>,
}

impl ClientConfig {
    pub fn new(insecure: bool) -> Self {
        Self {
            tls: conn::tls_config(insecure),
            timeout: Duration::from_secs(60),
            user_agent: http::HeaderValue::from_static(concat!(
                "stampede/",
                env!("CARGO_PKG_VERSION")
            )),
            verbose: false,
            listeners: Vec::new(),
        }
    }
}

/// One simulated user's browser.
pub struct Client {
    base: Url,
    config: ClientConfig,
    cookies: CookieStore,
    /// Open connections by origin; a user rarely talks to more than one.
    conns: Vec<Conn>,
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

    /// Sends one request on the connection to `origin` and reads the whole answer, reusing
    /// the open connection when it is still alive. A request that fails on a reused
    /// connection before any answer (the server closed the idle keep-alive as we sent) is
    /// retried once on a new one, as browsers do.
    async fn send_once(
        &mut self,
        origin: &Origin,
        req: impl Fn() -> http::Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), ClientError> {
        let mut retried = false;
        loop {
            let (i, reused) = self.connection(origin).await?;
            let conn = &mut self.conns[i];
            let answer = conn::drive(&mut conn.driver, conn.sender.send_request(req())).await;
            let (resp, alive) = match answer {
                Ok(r) => (r, true),
                Err((r, _)) => (r, false),
            };
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    self.conns.swap_remove(i);
                    if reused
                        && !retried
                        && (e.is_canceled() || e.is_incomplete_message() || e.is_closed())
                    {
                        retried = true;
                        continue;
                    }
                    return Err(ClientError::Io(e.to_string()));
                }
            };
            let (parts, body) = resp.into_parts();
            let read = match alive {
                true => match conn::drive(&mut self.conns[i].driver, body.collect()).await {
                    Ok(r) => r,
                    Err((r, _)) => {
                        self.conns[i].dead = true;
                        r
                    }
                },
                false => body.collect().await,
            };
            if !alive || self.conns[i].dead {
                self.conns.swap_remove(i);
            }
            let bytes = read.map_err(|e| ClientError::Io(e.to_string()))?.to_bytes();
            return Ok((parts, bytes));
        }
    }

    async fn connection(&mut self, origin: &Origin) -> Result<(usize, bool), ClientError> {
        let open = self.conns.iter().position(|c| &c.origin == origin);
        if let Some(i) = open {
            let c = &mut self.conns[i];
            if let Ok(Ok(())) = conn::drive(&mut c.driver, c.sender.ready()).await {
                return Ok((i, true));
            }
            self.conns.swap_remove(i);
        }
        let (sender, driver) = conn::connect(origin, &self.config.tls, self.config.timeout).await?;
        self.conns.push(Conn {
            origin: origin.clone(),
            sender,
            driver,
            dead: false,
        });
        Ok((self.conns.len() - 1, false))
    }
}

/// An open connection: its request handle and the driver polled while it is in use.
struct Conn {
    origin: Origin,
    sender: SendRequest<Full<Bytes>>,
    driver: conn::Driver,
    /// The server closed it during the last exchange; dropped after reading the answer.
    dead: bool,
}
