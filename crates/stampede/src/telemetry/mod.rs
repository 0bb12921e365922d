//! Telemetry: the run where teams already look. Prometheus scrapes `/metrics`
//! (`prometheus.rs`), OpenTelemetry receives metrics and spans over OTLP (`otel.rs`, the
//! `otel` feature), and every request can carry a W3C `traceparent` (`trace.rs`), so a
//! target's own traces join the load that caused them.
//!
//! Every mode (headless, the web UI, a master, a worker) hands its tests to one
//! [`Telemetry`], which exporters read: there is one place that knows what the process has
//! counted, whatever the mode.

pub mod prometheus;
pub mod trace;

#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otel")]
mod otlp_http;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Options;
use crate::runner::{RunnerHandle, RunnerState};
use crate::stats::{MetricsSnapshot, StatsHandle};

pub use trace::{SpanRecord, SpanSink, Tracing};

/// What an exporter reads: the counts (which never go down) and the run's state.
#[derive(Clone, Debug)]
pub struct Reading {
    pub metrics: MetricsSnapshot,
    pub state: RunnerState,
}

/// The tests of this process, as exporters see them.
#[derive(Clone)]
pub struct Telemetry {
    tests: Arc<std::sync::Mutex<Tests>>,
    /// One reading at a time: a reading folds ended tests into `Tests::ended`, and another
    /// reading meanwhile would see them neither there nor as ended tests.
    reading: Arc<tokio::sync::Mutex<()>>,
    /// Trace context and spans for the users' clients, when asked for.
    tracing: Option<Arc<Tracing>>,
    /// Rows kept over every test (`--max-names`): the labels stay bounded.
    max_names: usize,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            tests: Arc::default(),
            reading: Arc::default(),
            tracing: None,
            max_names: crate::stats::Limits::default().max_names,
        }
    }
}

#[derive(Default)]
struct Tests {
    current: Option<(StatsHandle, RunnerHandle)>,
    /// Tests replaced since the last reading, not yet folded into `ended`.
    replaced: Vec<StatsHandle>,
    /// What the tests before the current one counted.
    ended: MetricsSnapshot,
}

impl Telemetry {
    /// With trace context on the users' requests, or spans for them, and at most
    /// `max_names` rows over all tests.
    pub fn new(tracing: Option<Arc<Tracing>>, max_names: usize) -> Self {
        Self {
            tracing,
            max_names,
            ..Self::default()
        }
    }

    /// What the users' clients get (`ClientConfig::tracing`).
    pub fn tracing(&self) -> Option<Arc<Tracing>> {
        self.tracing.clone()
    }

    /// From now on, `stats` and `runner` are the running test. A test it replaces (the
    /// UI's next test, a worker's next swarm) keeps its counts, so counters go on from
    /// where they were.
    pub fn watch(&self, stats: StatsHandle, runner: RunnerHandle) {
        let mut t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((old, _)) = t.current.take() {
            if !old.same(&stats) {
                t.replaced.push(old);
            }
        }
        t.current = Some((stats, runner));
    }

    /// The counts and state now; before any test, the ready state and no counts.
    pub async fn read(&self) -> Reading {
        let _one = self.reading.lock().await;
        let (replaced, current) = {
            let t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
            (t.replaced.clone(), t.current.clone())
        };
        for old in replaced {
            let counted = old.metrics().await;
            let mut t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
            t.ended.add_counts(&counted, self.max_names);
            t.replaced.retain(|h| !h.same(&old));
        }
        let (mut metrics, state) = match current {
            Some((stats, runner)) => (stats.metrics().await, runner.status().state),
            None => (MetricsSnapshot::default(), RunnerState::Ready),
        };
        let t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
        metrics.add_counts(&t.ended, self.max_names);
        Reading { metrics, state }
    }
}

/// Starts what the command line asks for beside the run: `--prometheus-listen` and
/// `--otel`. What it returns ends them (a last export included) when dropped after the run.
pub async fn start(
    o: &Options,
    shutdown: &CancellationToken,
) -> Result<(Telemetry, Exporters), String> {
    let mut exporters = Exporters::default();
    let tracing = trace::Tracing::from_options(o);
    #[cfg(feature = "otel")]
    let (tracing, otel) = match o.otel {
        true => {
            let (t, e) = otel::start(tracing)?;
            (t, Some(e))
        }
        false => (tracing, None),
    };
    #[cfg(not(feature = "otel"))]
    if o.otel {
        return Err(
            "--otel needs the `otel` feature, which this binary was built without".to_owned(),
        );
    }
    let telemetry = Telemetry::new(tracing.map(Arc::new), o.max_names);
    #[cfg(feature = "otel")]
    if let Some(mut e) = otel {
        e.metrics(telemetry.clone());
        exporters.otel = Some(e);
    }
    if let Some(addr) = &o.prometheus_listen {
        let bound = prometheus::listen(addr, o, telemetry.clone(), shutdown.clone()).await?;
        eprintln!("Prometheus metrics at http://{bound}/metrics");
        exporters.prometheus = Some(bound);
    }
    Ok((telemetry, exporters))
}

/// The exporters running beside a run.
#[derive(Default)]
pub struct Exporters {
    /// Where `--prometheus-listen` serves.
    pub prometheus: Option<SocketAddr>,
    #[cfg(feature = "otel")]
    otel: Option<otel::Exporter>,
}

impl Exporters {
    /// Sends what is left (the run's last counts and spans) and stops exporting.
    pub async fn finish(self) {
        #[cfg(feature = "otel")]
        if let Some(e) = self.otel {
            e.finish().await;
        }
    }
}
