//! Settings shared by every user's client in a run: limits, TLS trust, pinned names, the
//! user agent, and the plan's listeners.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{stamp, tls, RequestListener, Resolve, UserErrorListener, DEFAULT_MAX_COOKIES};

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
    /// `--max-cookies`: cookies a user's jar keeps, all domains together.
    pub max_cookies: u16,
    /// Names pinned to addresses (`--resolve`).
    pub resolve: Arc<[Resolve]>,
    /// The `User-Agent` every request sends (`stampede/VERSION`).
    pub user_agent: http::HeaderValue,
    /// Log every request and response (the single-user debugging mode).
    pub verbose: bool,
    /// Paced users' requests also feed corrected histograms (`--correct-omission`).
    pub correct_omission: bool,
    /// Multiplies every `think()` (and the runner multiplies every `wait_time`) by this
    /// (`--wait-scale`); 0 runs flat out.
    pub wait_scale: f64,
    /// The plan's `on_request` listeners, called after every request.
    pub listeners: Vec<RequestListener>,
    /// The plan's `on_user_error` hooks, called by each user's life (Locust's `user_error`).
    pub user_error: Vec<UserErrorListener>,
    /// Trace context and spans (`--trace-context`, `--otel`); `None` costs nothing.
    pub tracing: Option<Arc<super::trace::Tracing>>,
}

/// The default of `--max-body`.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

impl ClientConfig {
    /// The defaults: 10 s to connect, 60 s per request, 16 MiB of body kept, 180 cookies; `insecure` accepts any certificate (`--insecure`).
    pub fn new(insecure: bool) -> Self {
        Self::with_tls(insecure, None).expect("no CA file, nothing to fail")
    }

    /// With an extra CA (`--ca-cert`): fails when the file holds no usable certificate.
    pub fn with_tls(insecure: bool, ca_cert: Option<&Path>) -> Result<Self, String> {
        // Before any connection, so that the first responses are stamped too.
        stamp::keep_stamping_on();
        Ok(Self {
            tls: tls::tls_config(insecure, ca_cert)?,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body: DEFAULT_MAX_BODY,
            max_cookies: DEFAULT_MAX_COOKIES,
            resolve: Arc::from(Vec::new()),
            user_agent: http::HeaderValue::from_static(concat!(
                "stampede/",
                env!("CARGO_PKG_VERSION")
            )),
            verbose: false,
            correct_omission: false,
            wait_scale: 1.0,
            listeners: Vec::new(),
            user_error: Vec::new(),
            tracing: None,
        })
    }
}
