//! `--otel`: metrics and spans over OTLP/HTTP (protobuf), with the `opentelemetry` crates,
//! configured by the standard `OTEL_*` variables as Locust's `--otel` is.
//!
//! - Metrics are observable instruments that read the same [`Telemetry`] as `/metrics`,
//!   so nothing is recorded per request: the SDK's periodic reader (its interval is
//!   `OTEL_METRIC_EXPORT_INTERVAL`, 60 s by default) asks for a reading when it collects.
//! - Spans are built from the records users queue ([`SpanSink`]), with the trace and span
//!   ids the requests carried in `traceparent`. The SDK's tracer would draw ids of its own,
//!   so the records go straight to the OTLP span exporter, in batches.

mod metrics;
mod spans;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{RetryPolicy, WithHttpConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use tokio_util::sync::CancellationToken;

use super::otlp_http::Poster;
use super::Telemetry;
use crate::client::trace::{SpanSink, Tracing};
use metrics::{instruments, Durations, Readings, Reporting};

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
    check_environment()?;
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
            // No retries: a failed batch is counted and said once (spans.rs), and the
            // exporter's retry backoff would sleep on a runtime thread.
            .with_retry_policy(RetryPolicy::disabled())
            .build()
            .map_err(|e| format!("--otel: the OTLP span exporter: {e}"))?;
        spans.set_resource(&exporter.resource);
        let (sink, rx) = SpanSink::new();
        let stop = CancellationToken::new();
        let delay = env_ms("OTEL_BSP_SCHEDULE_DELAY", 1_000);
        let task = tokio::spawn(spans::export_spans(
            spans,
            rx,
            stop.clone(),
            delay,
            exporter.poster.clone(),
        ));
        let t = tracing.get_or_insert_with(|| Tracing {
            propagate: false,
            spans: None,
            ratio: crate::client::trace::sampler_ratio(),
        });
        t.spans = Some(sink.clone());
        exporter.spans = Some((stop, task, sink));
    }
    Ok((tracing, exporter))
}

impl Exporter {
    /// Starts exporting the metrics `telemetry` reads; returns the observer that records
    /// the response-time histogram, for every test's aggregator.
    pub fn metrics(
        &mut self,
        telemetry: Telemetry,
        max_names: usize,
    ) -> Option<Arc<dyn crate::stats::Observer>> {
        if exporter_off("OTEL_METRICS_EXPORTER") {
            return None;
        }
        let built = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(self.poster.clone())
            .with_temporality(Temporality::Cumulative)
            // Cumulative counts: the next export carries what a failed one had.
            .with_retry_policy(RetryPolicy::disabled())
            .build();
        let exporter = match built {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("--otel: the OTLP metric exporter: {e}; no metrics are exported");
                return None;
            }
        };
        let provider = SdkMeterProvider::builder()
            .with_resource(self.resource.clone())
            .with_reader(
                PeriodicReader::builder(Reporting {
                    inner: exporter,
                    poster: self.poster.clone(),
                    failing: Default::default(),
                })
                .build(),
            )
            .build();
        let readings = Readings::new(telemetry);
        instruments(&provider, readings.clone());
        let histogram = Durations::new(&provider, max_names);
        self.meters = Some((provider, readings));
        Some(Arc::new(histogram))
    }

    /// Exports what is left: the queued spans and a last collection of the metrics, side
    /// by side, each given one export's timeout (and a second) at most, so a collector
    /// that hangs cannot hold the process after its run.
    pub async fn finish(self) {
        let bound = self.poster.timeout() + Duration::from_secs(1);
        let spans = async {
            let Some((stop, mut task, sink)) = self.spans else {
                return;
            };
            stop.cancel();
            if tokio::time::timeout(bound, &mut task).await.is_err() {
                task.abort();
                tracing::warn!("--otel: the last spans were not exported within {bound:?}");
            }
            if sink.dropped() > 0 {
                tracing::warn!(
                    "--otel: {} spans were dropped: the collector did not keep up (sample with OTEL_TRACES_SAMPLER=traceidratio)",
                    sink.dropped()
                );
            }
        };
        let poster = self.poster.clone();
        let meters = async {
            let Some((p, readings)) = self.meters else {
                return;
            };
            // The last collection reads the run's end, not a reading kept from before it.
            readings.forget();
            // It calls back into the run's runtime from the reader's own thread.
            let last = tokio::task::spawn_blocking(move || p.shutdown());
            match tokio::time::timeout(bound, last).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(
                    "--otel: the run's last metrics were not exported: {}",
                    poster.explain(&e.to_string())
                ),
                _ => tracing::warn!(
                    "--otel: the run's last metrics were not exported within {bound:?}"
                ),
            }
        };
        tokio::join!(spans, meters);
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

/// The settings Stampede cannot honour, refused before the run rather than ignored.
fn check_environment() -> Result<(), String> {
    for var in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() && v.trim() != "http/protobuf" {
                return Err(format!(
                    "--otel speaks OTLP over HTTP with protobuf only: {var}={v} is not supported (use http/protobuf, port 4318)"
                ));
            }
        }
    }
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        if let Ok(v) = std::env::var(var) {
            let ok = url::Url::parse(v.trim())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !v.trim().is_empty() && !ok {
                return Err(format!(
                    "{var}={v}: not an http:// or https:// URL (as http://collector:4318)"
                ));
            }
        }
    }
    Ok(())
}
