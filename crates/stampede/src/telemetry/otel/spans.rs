//! Spans: batches of the records users queue, exported with the ids their requests
//! carried in `traceparent`.

use std::borrow::Cow;
use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::trace::SpanRecord;
use crate::telemetry::otlp_http::Poster;

/// Spans per export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`'s default).
const BATCH: usize = 512;

/// Batches queued spans and exports them every `delay`, or at [`BATCH`]. At `stop`,
/// what is queued goes out, unless the collector is failing: then it is counted, not
/// sent, so a collector that is down or hangs holds up the run's end by one export at
/// most.
pub(super) async fn export_spans(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<SpanRecord>,
    stop: CancellationToken,
    delay: Duration,
    poster: Poster,
) {
    let scope = InstrumentationScope::builder("stampede")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lost = Lost::new(poster);
    let mut tick = tokio::time::interval(delay);
    loop {
        let stopping = tokio::select! {
            got = rx.recv() => match got {
                Some(r) => {
                    batch.push(span_data(r, &scope));
                    if batch.len() < BATCH {
                        continue;
                    }
                    false
                }
                None => true,
            },
            _ = tick.tick() => false,
            _ = stop.cancelled() => true,
        };
        if !stopping {
            lost.note(send(&exporter, &mut batch).await);
            continue;
        }
        loop {
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(span_data(r, &scope)),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            if lost.failing {
                lost.spans += batch.len() as u64;
                batch.clear();
            } else {
                lost.note(send(&exporter, &mut batch).await);
            }
        }
        if lost.spans > 0 {
            tracing::warn!("--otel: {} spans in all were not exported", lost.spans);
        }
        return;
    }
}

/// Spans a collector refused or never answered for: said when it starts failing and when
/// it answers again, not at every batch.
struct Lost {
    spans: u64,
    failing: bool,
    /// Knows why the last post failed, which the exporter's error does not say.
    poster: Poster,
}

impl Lost {
    fn new(poster: Poster) -> Self {
        Self {
            spans: 0,
            failing: false,
            poster,
        }
    }

    /// Notes an export's outcome (`None`: nothing was sent).
    fn note(&mut self, sent: Option<Result<(), (usize, String)>>) {
        match sent {
            None => {}
            Some(Ok(())) if self.failing => {
                self.failing = false;
                tracing::warn!("--otel: spans are exported again");
            }
            Some(Ok(())) => {}
            Some(Err((n, e))) => {
                self.spans += n as u64;
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(
                        "--otel: {n} spans were not exported: {}; said again when the collector answers",
                        self.poster.explain(&e)
                    );
                }
            }
        }
    }
}

/// Exports `batch` (emptying it); `None` when it was empty.
async fn send(
    exporter: &opentelemetry_otlp::SpanExporter,
    batch: &mut Vec<SpanData>,
) -> Option<Result<(), (usize, String)>> {
    if batch.is_empty() {
        return None;
    }
    let n = batch.len();
    Some(
        exporter
            .export(std::mem::take(batch))
            .await
            .map_err(|e| (n, e.to_string())),
    )
}

fn span_data(r: SpanRecord, scope: &InstrumentationScope) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("http.request.method", r.method.clone()),
        KeyValue::new("stampede.name", r.name.clone()),
    ];
    if !r.url.is_empty() {
        attributes.push(KeyValue::new("url.full", r.url));
    }
    if let Some(s) = r.status {
        attributes.push(KeyValue::new("http.response.status_code", i64::from(s)));
    }
    let status = match &r.error {
        Some(e) => {
            attributes.push(KeyValue::new("error.type", e.clone()));
            Status::error(e.clone())
        }
        None => Status::Unset,
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(r.trace_id.to_be_bytes()),
            SpanId::from_bytes(r.span_id.to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name: Cow::Owned(format!("{} {}", r.method, r.name)),
        start_time: r.start,
        end_time: r.end,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}
