//! Recording a request that has been exchanged: its event, the listeners, the verbose
//! line and its span. [`RequestBuilder::send`] records at once with the engine's verdict;
//! another front (the Python one) judges a response by its own rules first, then records
//! what it decided through the same path, so both count alike.

use std::time::Duration;

use http::Method;

use crate::client::trace::RequestSpan;
use crate::client::{Client, ClientError, RequestEvent, Response};
use crate::stats::{Event, Timing};

/// A request exchanged and not yet recorded (see [`RequestBuilder::send_unrecorded`](super::RequestBuilder::send_unrecorded)).
pub struct Unrecorded {
    /// The final response, redirects followed and body read, or why there was none.
    pub outcome: Result<Response, ClientError>,
    /// What recording it takes; hand it to [`Client::record_pending`].
    pub pending: Pending,
}

/// Everything a request's record holds but the verdict, measured when its exchange ended.
pub struct Pending {
    pub(super) method: Method,
    pub(super) name: String,
    pub(super) elapsed: Duration,
    pub(super) hops: u32,
    pub(super) resent: u32,
    pub(super) at: f64,
    pub(super) timing: Timing,
    pub(super) span: Option<RequestSpan>,
}

impl Pending {
    /// The response time that will be recorded.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
    /// The name the request is counted under.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Counts it under another method and name (a front that names requests itself).
    pub fn rename(&mut self, method: Method, name: String) {
        self.method = method;
        self.name = name;
    }
}

impl Client {
    /// Records an exchanged request with its verdict: `error` is why it failed (the
    /// failures table's text), `None` for a success. `response` gives the content length,
    /// the status for listeners and the verbose line.
    pub fn record_pending(
        &mut self,
        pending: Pending,
        response: Option<&Response>,
        error: Option<String>,
    ) {
        self.record_pending_sized(pending, response, error, None);
    }

    /// [`record_pending`](Self::record_pending) with the content length a front counts
    /// itself (Locust's `response_length` after decoding), when it differs.
    pub fn record_pending_sized(
        &mut self,
        pending: Pending,
        response: Option<&Response>,
        error: Option<String>,
        content_length: Option<u64>,
    ) {
        let Pending {
            method,
            name,
            elapsed,
            hops,
            resent,
            at,
            timing,
            span,
        } = pending;
        let content_length =
            content_length.unwrap_or_else(|| response.map_or(0, |r| r.content_length));
        if self.config.verbose {
            log_exchange(&method, &name, response, error.as_deref(), elapsed);
        }
        for listener in &self.config.listeners {
            listener(&RequestEvent {
                method: method.as_str(),
                name: &name,
                response_time: elapsed,
                content_length,
                status: response.map(|r| r.status.as_u16()),
                error: error.as_deref(),
            });
        }
        let recorder = &self.recorder;
        recorder.record(Event::Request {
            id: recorder.name_id(method.as_str(), &name),
            elapsed_us: elapsed.as_micros() as u64,
            content_length,
            error: error.clone(),
            at,
            hops,
            resent,
            timing,
            pacing_us: 0,
        });
        if let Some(span) = span {
            self.end_span(span, &method, &name, response, &error);
        }
    }
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
