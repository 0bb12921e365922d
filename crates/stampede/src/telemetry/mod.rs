//! Telemetry: the run where teams already look. Prometheus scrapes `/metrics`
//! (`prometheus.rs`), OpenTelemetry receives metrics and spans over OTLP (`otel.rs`, the
//! `otel` feature), and every request can carry a W3C `traceparent` (`client/trace.rs`), so a
//! target's own traces join the load that caused them.
//!
//! Every mode (headless, the web UI, a master, a worker) hands its tests to one
//! [`Telemetry`], which exporters read: there is one place that knows what the process has
//! counted, whatever the mode.

pub mod prometheus;

#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otel")]
mod otlp_http;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::runner::{RunnerHandle, RunnerState};
use crate::stats::{MetricsSnapshot, StatsHandle};

pub use crate::client::trace::Tracing;

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
    /// Shown every request each test counts (`--otel`'s histogram).
    observer: Option<Arc<dyn crate::stats::Observer>>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            tests: Arc::default(),
            reading: Arc::default(),
            tracing: None,
            max_names: crate::stats::Limits::default().max_names,
            observer: None,
        }
    }
}

#[derive(Default)]
struct Tests {
    current: Option<(StatsHandle, RunnerHandle)>,
    /// Tests replaced and not yet folded into `ended`: a test is folded once its users
    /// have stopped, so what they record while stopping is not lost.
    replaced: Vec<(StatsHandle, RunnerHandle)>,
    /// What the tests before the current one counted (no quantiles: those are the running
    /// test's).
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
        if let Some(o) = &self.observer {
            if !t.current.as_ref().is_some_and(|(s, _)| s.same(&stats)) {
                stats.observe(o.clone());
            }
        }
        if let Some((old, old_runner)) = t.current.take() {
            if !old.same(&stats) {
                t.replaced.push((old, old_runner.clone()));
                // Folded once its users stop, not at the next scrape: nobody may scrape,
                // and a replaced test's aggregator (its whole table) lives until then.
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let me = self.clone();
                    let mut status = old_runner.watch();
                    rt.spawn(async move {
                        // A test that never stops stays among the replaced, read each time.
                        let _ = status.wait_for(|s| s.state == RunnerState::Stopped).await;
                        me.read().await
                    });
                }
            }
        }
        t.current = Some((stats, runner));
    }

    /// The counts and state now; before any test, the ready state and no counts.
    pub async fn read(&self) -> Reading {
        let _one = self.reading.lock().await;
        let cap = self.max_names;
        let (replaced, current) = {
            let t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
            (t.replaced.clone(), t.current.clone())
        };
        // Replaced tests still stopping are read, not folded: they may count more.
        let mut stopping = MetricsSnapshot::default();
        for (old, runner) in replaced {
            // The state first: a test stopped before its counts were asked has them all.
            let stopped = runner.status().state == RunnerState::Stopped;
            let mut counted = old.metrics().await;
            if stopped {
                counted.forget_quantiles();
                let mut t = self.tests.lock().unwrap_or_else(|p| p.into_inner());
                t.ended.add_counts(&counted, cap);
                t.replaced.retain(|(h, _)| !h.same(&old));
            } else {
                stopping.add_counts(&counted, cap);
            }
        }
        let (current, state) = match current {
            Some((stats, runner)) => (stats.metrics().await, runner.status().state),
            None => (MetricsSnapshot::default(), RunnerState::Ready),
        };
        // The ended tests' rows come first, so a name keeps its series (and its place
        // under the cap) whichever test counts it next.
        let mut metrics = self
            .tests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ended
            .clone();
        metrics.add_counts(&stopping, cap);
        metrics.add_counts(&current, cap);
        metrics.users = current.users;
        let saturated_secs = metrics.generator.saturated_secs;
        metrics.generator = current.generator;
        metrics.generator.saturated_secs = saturated_secs;
        Reading { metrics, state }
    }
}

/// What the command line asks of telemetry.
#[derive(Debug, Clone, Copy, Default)]
pub struct TelemetrySettings {
    /// `--trace-context`: send a W3C `traceparent` with each request.
    pub trace_context: bool,
    /// `--otel`: export metrics and traces over OTLP.
    pub otel: bool,
    /// `--max-names`: the most request names a metric carries.
    pub max_names: usize,
}

/// Starts what the command line asks for beside the run: `--otel` and trace context
/// (`--prometheus-listen` is served by `web::metrics`). [`Exporters::finish`], after the
/// run, sends OTLP's last export. An error is the usage's (exit code 2).
pub async fn start(o: TelemetrySettings) -> Result<(Telemetry, Exporters), String> {
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut exporters = Exporters::default();
    let tracing = Tracing::context_only(o.trace_context);
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
    #[allow(unused_mut)]
    let mut telemetry = Telemetry::new(tracing.map(Arc::new), o.max_names);
    #[cfg(feature = "otel")]
    if let Some(mut e) = otel {
        telemetry.observer = e.metrics(telemetry.clone(), o.max_names);
        exporters.otel = Some(e);
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
