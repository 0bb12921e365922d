//! W3C trace context (`--trace-context`) and the spans `--otel` exports. It lives with the
//! client, which writes `traceparent` and records each span; telemetry only exports them.
//!
//! Each user is one trace: its requests are spans under it, in the order the user made
//! them, so a target's tracing backend shows one user's visit as one trace. The span id
//! sent in `traceparent` is the id of the span exported over OTLP, so the target's server
//! span is the child of Stampede's client span.
//!
//! A user's trace is sampled or not as a whole, by the standard `OTEL_TRACES_SAMPLER`
//! (`always_on`, `always_off`, `traceidratio` with `OTEL_TRACES_SAMPLER_ARG`, and their
//! `parentbased_` forms, which here mean the same: a user has no parent). Nothing here runs
//! when neither flag is given: the client holds `None`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;
use tokio::sync::mpsc;

/// How many finished spans may wait for the exporter; past that they are dropped and
/// counted, so a collector that is down cannot grow the process.
pub const SPAN_QUEUE: usize = 8192;

/// Trace context and span export for every user of a run.
#[derive(Debug)]
pub struct Tracing {
    /// Send `traceparent` on every request (`--trace-context`).
    pub propagate: bool,
    /// Where sampled spans go (`--otel`, unless `OTEL_TRACES_EXPORTER=none`).
    pub spans: Option<SpanSink>,
    /// The share of users whose traces are sampled, 0..=1.
    pub ratio: f64,
}

impl Tracing {
    /// The command line's wish, before any exporter: `None` without `--trace-context`
    /// (`--otel` adds its span sink itself).
    /// Trace context alone (`--trace-context` without `--otel`), when `propagate` asks for it.
    pub fn context_only(propagate: bool) -> Option<Self> {
        propagate.then(|| Self {
            propagate: true,
            spans: None,
            ratio: sampler_ratio(),
        })
    }

    /// A fresh trace for one user.
    pub fn user(&self) -> UserTrace {
        let trace_id = loop {
            let id: u128 = rand::random();
            if id != 0 {
                break id;
            }
        };
        // The spec's ratio rule: the trace id's low 64 bits against ratio * 2^64.
        let sampled = self.ratio >= 1.0 || ((trace_id as u64) as f64) < self.ratio * 2f64.powi(64);
        UserTrace {
            trace_id,
            sampled,
            propagate: self.propagate,
            exported: sampled && self.spans.is_some(),
        }
    }
}

/// The ratio the standard variables ask for (1.0 when unset or unreadable: the
/// spec's default sampler, `parentbased_always_on`).
pub(crate) fn sampler_ratio() -> f64 {
    let sampler = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
    let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
    ratio_for(&sampler, arg.as_deref())
}

fn ratio_for(sampler: &str, arg: Option<&str>) -> f64 {
    match sampler.trim().to_ascii_lowercase().as_str() {
        "always_off" | "parentbased_always_off" => 0.0,
        "traceidratio" | "parentbased_traceidratio" => arg
            .and_then(|a| a.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0),
        _ => 1.0,
    }
}

/// One user's trace.
#[derive(Clone, Copy, Debug)]
pub struct UserTrace {
    pub trace_id: u128,
    pub sampled: bool,
    /// Its requests carry `traceparent`.
    pub propagate: bool,
    /// Its requests' spans are exported.
    pub exported: bool,
}

impl UserTrace {
    /// A span for the next request (a fresh span id, its header, and its start), if its
    /// header is sent or the span exported.
    pub fn begin(&self) -> Option<RequestSpan> {
        if !(self.propagate || self.exported) {
            return None;
        }
        let span_id = loop {
            let id: u64 = rand::random();
            if id != 0 {
                break id;
            }
        };
        Some(RequestSpan {
            span_id,
            // Read only for a span that is exported: a header alone needs no clock.
            start: if self.exported {
                SystemTime::now()
            } else {
                SystemTime::UNIX_EPOCH
            },
            header: self
                .propagate
                .then(|| traceparent(self.trace_id, span_id, self.sampled)),
        })
    }
}

/// The span of one request in flight.
#[derive(Clone, Debug)]
pub struct RequestSpan {
    pub span_id: u64,
    pub start: SystemTime,
    /// `traceparent: 00-<trace id>-<span id>-<flags>`, the same on each redirect hop;
    /// `None` without `--trace-context`.
    pub header: Option<HeaderValue>,
}

/// The `traceparent` value (W3C Trace Context, version 00), written into a stack buffer:
/// the header's own copy is the one allocation per request.
pub fn traceparent(trace_id: u128, span_id: u64, sampled: bool) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut v = *b"00-00000000000000000000000000000000-0000000000000000-00";
    for (i, d) in v[3..35].iter_mut().enumerate() {
        *d = HEX[((trace_id >> (124 - 4 * i)) & 0xf) as usize];
    }
    for (i, d) in v[36..52].iter_mut().enumerate() {
        *d = HEX[((span_id >> (60 - 4 * i)) & 0xf) as usize];
    }
    if sampled {
        v[54] = b'1';
    }
    HeaderValue::from_bytes(&v).expect("hex digits and dashes are a valid header value")
}

/// A finished request, for the span exporter.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    pub trace_id: u128,
    pub span_id: u64,
    pub method: String,
    pub name: String,
    pub url: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// Where users put finished spans: a bounded queue to the exporter.
#[derive(Clone, Debug)]
pub struct SpanSink {
    tx: mpsc::Sender<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

impl SpanSink {
    pub fn new() -> (Self, mpsc::Receiver<SpanRecord>) {
        let (tx, rx) = mpsc::channel(SPAN_QUEUE);
        let sink = Self {
            tx,
            dropped: Arc::default(),
        };
        (sink, rx)
    }

    /// Queues a span, or counts it dropped when the exporter is behind.
    pub fn send(&self, span: SpanRecord) {
        if self.tx.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_w3c_version_00() {
        let v = traceparent(0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, true);
        assert_eq!(v, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let v = traceparent(1, 2, false);
        assert_eq!(v, "00-00000000000000000000000000000001-0000000000000002-00");
    }

    #[test]
    fn traceparent_digits_match_formatted_hex() {
        for _ in 0..100 {
            let (t, s): (u128, u64) = (rand::random(), rand::random());
            let want = format!("00-{t:032x}-{s:016x}-01");
            assert_eq!(traceparent(t, s, true), want.as_str());
        }
    }

    #[test]
    fn the_standard_samplers_give_their_ratio() {
        assert_eq!(ratio_for("", None), 1.0);
        assert_eq!(ratio_for("always_off", None), 0.0);
        assert_eq!(ratio_for("parentbased_traceidratio", Some("0.25")), 0.25);
        assert_eq!(
            ratio_for("traceidratio", Some("2")),
            1.0,
            "out of range: the default"
        );
    }

    #[test]
    fn a_ratio_samples_about_that_share_of_users() {
        let t = Tracing {
            propagate: true,
            spans: None,
            ratio: 0.25,
        };
        let sampled = (0..4000).filter(|_| t.user().sampled).count();
        // Binomial(4000, 0.25): the mean is 1000 and the standard deviation 27.
        assert!((850..1150).contains(&sampled), "{sampled} of 4000");
    }
}
