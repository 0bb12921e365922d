//! `--otel`: metrics and spans over OTLP/HTTP (protobuf), with the `opentelemetry` crates,
//! configured by the standard `OTEL_*` variables as Locust's `--otel` is.
//!
//! - Metrics are observable instruments that read the same [`Telemetry`] as `/metrics`,
//!   so nothing is recorded per request: the SDK's periodic reader (its interval is
//!   `OTEL_METRIC_EXPORT_INTERVAL`, 60 s by default) asks for a reading when it collects.
//! - Spans are built from the records users queue ([`SpanSink`]), with the trace and span
//!   ids the requests carried in `traceparent`. The SDK's tracer would draw ids of its own,
//!   so the records go straight to the OTLP span exporter, in batches.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::WithHttpConfig;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::otlp_http::Poster;
use super::trace::{SpanRecord, SpanSink, Tracing};
use super::{Reading, Telemetry};

/// Spans per export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`'s default).
const BATCH: usize = 512;

/// What `--otel` runs: the meter provider and the span exporter's task.
pub struct Exporter {
    resource: Resource,
    poster: Poster,
    meters: Option<(SdkMeterProvider, Readings)>,
    spans: Option<(CancellationToken, tokio::task::JoinHandle<()>, SpanSink)>,
}

/// Sets up `--otel` from the environment: the span sink goes into `tracing` (made if
/// `--trace-context` did not), the metrics wait for [`Exporter::metrics`].
pub fn start(tracing: Option<Tracing>) -> Result<(Option<Tracing>, Exporter), String> {
    let poster = Poster::new(env_ms("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000));
    let resource = resource();
    let mut exporter = Exporter {
        resource,
        poster,
        meters: None,
        spans: None,
    };
    let mut tracing = tracing;
    if !exporter_off("OTEL_TRACES_EXPORTER") {
        let mut spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(exporter.poster.clone())
            .build()
            .map_err(|e| format!("--otel: the OTLP span exporter: {e}"))?;
        spans.set_resource(&exporter.resource);
        let (sink, rx) = SpanSink::new();
        let stop = CancellationToken::new();
        let delay = env_ms("OTEL_BSP_SCHEDULE_DELAY", 1_000);
        let task = tokio::spawn(export_spans(spans, rx, stop.clone(), delay));
        let t = tracing.get_or_insert_with(|| Tracing {
            propagate: false,
            spans: None,
            ratio: super::trace::sampler_ratio(),
        });
        t.spans = Some(sink.clone());
        exporter.spans = Some((stop, task, sink));
    }
    Ok((tracing, exporter))
}

impl Exporter {
    /// Starts exporting the metrics `telemetry` reads.
    pub fn metrics(&mut self, telemetry: Telemetry) {
        if exporter_off("OTEL_METRICS_EXPORTER") {
            return;
        }
        let built = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(self.poster.clone())
            .with_temporality(Temporality::Cumulative)
            .build();
        let exporter = match built {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("--otel: the OTLP metric exporter: {e}; no metrics are exported");
                return;
            }
        };
        let provider = SdkMeterProvider::builder()
            .with_resource(self.resource.clone())
            .with_reader(PeriodicReader::builder(exporter).build())
            .build();
        let readings = Readings::new(telemetry);
        instruments(&provider, readings.clone());
        self.meters = Some((provider, readings));
    }

    /// Exports what is left (the queued spans, then a last collection of the metrics).
    pub async fn finish(self) {
        if let Some((stop, task, sink)) = self.spans {
            stop.cancel();
            let _ = task.await;
            if sink.dropped() > 0 {
                tracing::warn!(
                    "--otel: {} spans were dropped: the collector did not keep up (sample with OTEL_TRACES_SAMPLER=traceidratio)",
                    sink.dropped()
                );
            }
        }
        if let Some((p, readings)) = self.meters {
            // The last collection reads the run's end, not a reading kept from before it.
            readings.forget();
            // The last collection calls back into the run's runtime from the reader's thread.
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = p.shutdown() {
                    tracing::warn!("--otel: the last metrics export failed: {e}");
                }
            })
            .await;
        }
    }
}

/// `service.name` is the environment's (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`),
/// else `stampede`.
fn resource() -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let b = Resource::builder();
    if named {
        b
    } else {
        b.with_service_name("stampede")
    }
    .build()
}

fn exporter_off(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v.trim().eq_ignore_ascii_case("none"))
}

fn env_ms(var: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default),
    )
}

/// Batches queued spans and exports them every `delay`, or at [`BATCH`]; at `stop`, what
/// is queued goes out, then the task ends.
async fn export_spans(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<SpanRecord>,
    stop: CancellationToken,
    delay: Duration,
) {
    let scope = InstrumentationScope::builder("stampede")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let mut batch = Vec::with_capacity(BATCH);
    let mut lost = Lost::default();
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
        if stopping {
            while let Ok(r) = rx.try_recv() {
                batch.push(span_data(r, &scope));
                if batch.len() == BATCH {
                    lost.note(send(&exporter, &mut batch).await);
                }
            }
        }
        lost.note(send(&exporter, &mut batch).await);
        if stopping {
            if lost.spans > 0 {
                tracing::warn!("--otel: {} spans in all were not exported", lost.spans);
            }
            return;
        }
    }
}

/// Spans a collector refused or never answered for: said when it starts and when it
/// ends, not at every batch.
#[derive(Default)]
struct Lost {
    spans: u64,
    failing: bool,
}

impl Lost {
    fn note(&mut self, sent: Result<(), (usize, String)>) {
        match sent {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::warn!("--otel: spans are exported again");
            }
            Ok(()) => {}
            Err((n, e)) => {
                self.spans += n as u64;
                if !self.failing {
                    self.failing = true;
                    tracing::warn!("--otel: {n} spans were not exported ({e}); said again when the collector answers");
                }
            }
        }
    }
}

async fn send(
    exporter: &opentelemetry_otlp::SpanExporter,
    batch: &mut Vec<SpanData>,
) -> Result<(), (usize, String)> {
    if batch.is_empty() {
        return Ok(());
    }
    let n = batch.len();
    exporter
        .export(std::mem::take(batch))
        .await
        .map_err(|e| (n, e.to_string()))
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

/// The last reading and when it was taken.
type Cached = Option<(Instant, Arc<Reading>)>;

/// Readings for the callbacks: one per collection, not one per instrument.
#[derive(Clone)]
struct Readings {
    telemetry: Telemetry,
    rt: tokio::runtime::Handle,
    last: Arc<Mutex<Cached>>,
}

impl Readings {
    fn new(telemetry: Telemetry) -> Self {
        Self {
            telemetry,
            rt: tokio::runtime::Handle::current(),
            last: Arc::default(),
        }
    }

    fn forget(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A reading at most 100 ms old, from the reader's own thread (outside tokio).
    fn get(&self) -> Arc<Reading> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, r)) = last.as_ref() {
            if at.elapsed() < Duration::from_millis(100) {
                return r.clone();
            }
        }
        let r = Arc::new(self.rt.block_on(self.telemetry.read()));
        *last = Some((Instant::now(), r.clone()));
        r
    }
}

fn row_attrs(method: &str, name: &str) -> [KeyValue; 2] {
    [
        KeyValue::new("http.request.method", method.to_owned()),
        KeyValue::new("stampede.name", name.to_owned()),
    ]
}

/// The instruments (`docs/telemetry.md` lists them), all observed from [`Readings`].
fn instruments(provider: &SdkMeterProvider, readings: Readings) {
    let meter = provider.meter("stampede");
    let r = readings.clone();
    meter
        .u64_observable_counter("stampede.requests")
        .with_description("Requests made, answered or failed")
        .with_unit("{request}")
        .with_callback(move |o| {
            for row in &r.get().metrics.rows {
                o.observe(row.counts.requests, &row_attrs(&row.method, &row.name));
            }
        })
        .build();
    let r = readings.clone();
    meter
        .u64_observable_counter("stampede.failures")
        .with_description("Requests that failed")
        .with_unit("{request}")
        .with_callback(move |o| {
            for row in &r.get().metrics.rows {
                o.observe(row.counts.failures, &row_attrs(&row.method, &row.name));
            }
        })
        .build();
    let r = readings.clone();
    meter
        .f64_observable_counter("stampede.request.duration.sum")
        .with_description("Sum of response times")
        .with_unit("s")
        .with_callback(move |o| {
            for row in &r.get().metrics.rows {
                o.observe(
                    row.counts.sum_us as f64 / 1e6,
                    &row_attrs(&row.method, &row.name),
                );
            }
        })
        .build();
    let r = readings.clone();
    meter
        .f64_observable_gauge("stampede.request.duration.percentile")
        .with_description("Exact response-time percentiles since the statistics' last reset")
        .with_unit("s")
        .with_callback(move |o| {
            for row in &r.get().metrics.rows {
                let Some(qs) = row.quantiles else { continue };
                for (q, v) in crate::stats::SUMMARY_QUANTILES.iter().zip(qs) {
                    let [m, n] = row_attrs(&row.method, &row.name);
                    o.observe(v, &[m, n, KeyValue::new("quantile", *q)]);
                }
            }
        })
        .build();
    let r = readings.clone();
    meter
        .u64_observable_gauge("stampede.users")
        .with_description("Users running, by user type")
        .with_unit("{user}")
        .with_callback(move |o| {
            for (u, n) in &r.get().metrics.users {
                o.observe(*n, &[KeyValue::new("stampede.user_type", u.clone())]);
            }
        })
        .build();
    let r = readings;
    meter
        .u64_observable_gauge("stampede.generator.saturated")
        .with_description("1 while the load generator is saturated")
        .with_callback(move |o| {
            o.observe(u64::from(r.get().metrics.generator.saturated_now), &[]);
        })
        .build();
}
