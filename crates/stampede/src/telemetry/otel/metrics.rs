//! Metrics: observable instruments over the same counts as `/metrics`, and the
//! semantic conventions' client histogram, recorded by the aggregator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};

use crate::telemetry::otlp_http::Poster;
use crate::telemetry::{Reading, Telemetry};

/// The last reading and when it was taken.
type Cached = Option<(Instant, Arc<Reading>)>;

/// Readings for the callbacks: one per collection, not one per instrument.
#[derive(Clone)]
pub(super) struct Readings {
    telemetry: Telemetry,
    rt: tokio::runtime::Handle,
    last: Arc<Mutex<Cached>>,
}

impl Readings {
    pub(super) fn new(telemetry: Telemetry) -> Self {
        Self {
            telemetry,
            rt: tokio::runtime::Handle::current(),
            last: Arc::default(),
        }
    }

    pub(super) fn forget(&self) {
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

/// A counter of requests per row, `value` of its counts.
fn row_counter(
    meter: &opentelemetry::metrics::Meter,
    readings: &Readings,
    name: &'static str,
    description: &'static str,
    value: fn(&crate::stats::Counts) -> u64,
) {
    let r = readings.clone();
    meter
        .u64_observable_counter(name)
        .with_description(description)
        .with_unit("{request}")
        .with_callback(move |o| {
            for row in &r.get().metrics.rows {
                o.observe(value(&row.counts), &row_attrs(&row.method, &row.name));
            }
        })
        .build();
}

/// The instruments (`docs/telemetry.md` lists them), all observed from [`Readings`].
pub(super) fn instruments(provider: &SdkMeterProvider, readings: Readings) {
    let meter = provider.meter("stampede");
    row_counter(
        &meter,
        &readings,
        "stampede.requests",
        "Requests made, answered or failed",
        |c| c.requests,
    );
    row_counter(
        &meter,
        &readings,
        "stampede.failures",
        "Requests that failed",
        |c| c.failures,
    );
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

/// Attributes per (name, method) row.
type AttributeSets = std::collections::HashMap<(String, String), Arc<[KeyValue]>>;

/// `http.client.request.duration`, the semantic conventions' client histogram (what
/// Locust's `--otel` exports through its `requests` instrumentation). It is recorded by
/// the aggregator as it counts each request, not by the users; a master, which receives
/// its workers' counts and not their requests, has none of its own.
pub(super) struct Durations {
    histogram: opentelemetry::metrics::Histogram<f64>,
    /// Attributes per row, made once; at most `cap` rows, then `(other names)`.
    attributes: Mutex<AttributeSets>,
    cap: usize,
}

impl Durations {
    pub(super) fn new(provider: &SdkMeterProvider, cap: usize) -> Self {
        let histogram = provider
            .meter("stampede")
            .f64_histogram("http.client.request.duration")
            .with_description("Duration of HTTP client requests")
            .with_unit("s")
            .with_boundaries(crate::stats::BUCKETS_SECONDS.to_vec())
            .build();
        Self {
            histogram,
            attributes: Mutex::default(),
            cap,
        }
    }
}

impl crate::stats::Observer for Durations {
    fn request(&self, key: &(String, String), elapsed_us: u64, failed: bool) {
        let attrs = {
            let mut all = self.attributes.lock().unwrap_or_else(|p| p.into_inner());
            match all.get(key) {
                Some(a) => a.clone(),
                None => {
                    let (name, method) = key;
                    let (method, name) = if all.len() < self.cap {
                        (method.as_str(), name.as_str())
                    } else {
                        (
                            crate::stats::overflow_method(method),
                            crate::stats::OTHER_NAMES,
                        )
                    };
                    let a: Arc<[KeyValue]> = Arc::from(row_attrs(method, name));
                    if all.len() < self.cap {
                        all.insert(key.clone(), a.clone());
                    }
                    a
                }
            }
        };
        let secs = elapsed_us as f64 / 1e6;
        if failed {
            let mut with_error = attrs.to_vec();
            with_error.push(KeyValue::new("error.type", "failed"));
            self.histogram.record(secs, &with_error);
        } else {
            self.histogram.record(secs, &attrs);
        }
    }
}

/// The OTLP metric exporter, saying when exports start failing and when they work again
/// (once each, with the cause), where the SDK would log an error at every interval.
pub(super) struct Reporting<E> {
    pub inner: E,
    pub poster: Poster,
    pub failing: AtomicBool,
}

impl<E: PushMetricExporter> PushMetricExporter for Reporting<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let sent = self.inner.export(metrics).await;
        match &sent {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => tracing::warn!(
                "--otel: metrics were not exported: {}; said again when the collector answers",
                self.poster.explain(&e.to_string())
            ),
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                tracing::warn!("--otel: metrics are exported again");
            }
            _ => {}
        }
        sent
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
