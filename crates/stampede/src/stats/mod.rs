//! Statistics: what users record, and the aggregator that owns the totals.
//!
//! Users never touch shared state per request: each user's [`Recorder`] buffers events and
//! sends them in batches to the aggregator actor (`aggregator.rs`), which owns every histogram and counter
//! and answers questions through [`StatsHandle`].

mod aggregator;
mod entry;
pub mod generator;
mod lifetime;
mod state;
pub mod window;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

pub use aggregator::{spawn_aggregator, StatsHandle, UserCounts};
pub use entry::{EndpointStats, TimingTotals, PERCENTILES_TO_REPORT};
pub use lifetime::{Counts, MetricRow, MetricsSnapshot, BUCKETS_SECONDS, SUMMARY_QUANTILES};
// The OTLP exporter's labels are capped as the table is.
#[cfg(feature = "otel")]
pub use names::{overflow_method, OTHER_NAMES};
pub use state::{HistoryPoint, Limits, RowSummary, StatsState, Summary, OTHER_FAILURES};

mod locust_format;
mod names;
pub use locust_format::{locust_entry, LocustEntry, LocustError};
pub use names::{NameId, Names, Table as NameTable};

/// Unix time in seconds, as Locust timestamps requests.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How a request was timed and what its parts took, for the report's breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// The kernel's receive timestamps measured it; else the monotonic clock did.
    pub kernel: bool,
    /// Connections opened during the request (0 when a kept-alive one was reused).
    pub opened: u32,
    pub dns_us: u64,
    pub connect_us: u64,
    pub tls_us: u64,
    /// Write to first response byte of the final hop, when the kernel stamped it.
    pub ttfb_us: Option<u64>,
}

/// Something a user did that the statistics count.
#[derive(Debug, Clone)]
pub enum Event {
    /// One request (or any timed action recorded through [`Recorder::record_request`]).
    Request {
        /// The (method, name) pair, interned ([`Recorder::name_id`]).
        id: NameId,
        /// Its response time, µs.
        elapsed_us: u64,
        /// Body bytes that arrived.
        content_length: u64,
        /// Why the request failed; `None` when it succeeded.
        error: Option<String>,
        /// Unix time (s) it completed.
        at: f64,
        /// Server hits it made: one per answered hop of a redirect chain, plus the last
        /// hop if it was written and failed. 0 for work that is not HTTP.
        hops: u32,
        /// Sends written on a kept-alive connection the server had closed, then sent again
        /// (a GET's transparent retry): in the server's log or not, depending on whether it
        /// read them before closing.
        resent: u32,
        /// Where its time went (DNS, connect, TLS, first byte), for the timing line.
        timing: Timing,
        /// The user's constant pacing (µs), when `--correct-omission` asks for corrected
        /// percentiles; 0 otherwise. Set by the recorder.
        pacing_us: u64,
    },
    /// A request that left the machine and had no answer when the run ended (the user was
    /// stopped mid-request). Not a failure; counted so server hits add up.
    Unanswered {
        /// The (method, name) pair, interned ([`Recorder::name_id`]).
        id: NameId,
        /// Server hits it made, the unanswered one included.
        hops: u32,
        /// Its response head had come and its body was still arriving: an endless or a
        /// very slow body, not a silent server.
        mid_body: bool,
    },
    /// A task ran to its end (whatever its result).
    TaskRun {
        /// The user type that ran it.
        user_type: Arc<str>,
        /// The task's name.
        task: Arc<str>,
    },
    /// A task returned an error or panicked.
    Exception {
        /// What went wrong, as the exceptions table shows it.
        message: String,
        /// Where: the user type and task, and the source line when known.
        location: String,
    },
}

/// Sees every request as the aggregator counts it: the `--otel` response-time histogram,
/// recorded off the users' path.
pub trait Observer: Send + Sync {
    /// One request of row `key` (name, method).
    fn request(&self, key: &(String, String), elapsed_us: u64, failed: bool);
}

/// Messages the aggregator understands.
pub(crate) enum Command {
    /// Events recorded in one reset epoch.
    Batch(u64, Vec<Event>),
    Summary(tokio::sync::oneshot::Sender<Summary>),
    Snapshot(tokio::sync::oneshot::Sender<Box<StatsState>>),
    /// The state so far, replaced by an empty one: a worker's delta report.
    Take(tokio::sync::oneshot::Sender<Box<StatsState>>),
    /// Another node's delta, merged in (a distributed master receiving worker reports).
    Merge(Box<StatsState>),
    /// Seconds after its end before a second is read.
    Settle(u64),
    /// A worker's generator health (a master keeps the worst of its workers').
    Generator(generator::GeneratorReport),
    /// This generator's health now.
    Health(tokio::sync::oneshot::Sender<generator::GeneratorReport>),
    /// The final state: everything pulled, the history written up to now.
    Final(tokio::sync::oneshot::Sender<Box<StatsState>>),
    /// History points newer than the given unix time.
    History(f64, tokio::sync::oneshot::Sender<Vec<HistoryPoint>>),
    /// Start afresh; the new epoch.
    Reset(u64),
    /// The lifetime counts plus the table now, for Prometheus and OpenTelemetry.
    Metrics(tokio::sync::oneshot::Sender<Box<MetricsSnapshot>>),
    /// From now on, every request counted is also shown to this observer.
    Observe(Arc<dyn Observer>),
}

/// How many events a user buffers before sending them on. A buffer that fills more
/// slowly is pulled by the aggregator (see [`Registry`]), so no event waits long.
const BATCH_LEN: usize = 64;

/// Every live recorder, so that the aggregator can pull what they hold: a user that sleeps
/// inside a task, or whose thread is parked, would otherwise keep its events until its next
/// record, and the live numbers would miss them.
#[derive(Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<Vec<Weak<RecorderInner>>>>);

impl Registry {
    fn add(&self, r: &Arc<RecorderInner>) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        all.push(Arc::downgrade(r));
    }

    /// Takes every recorder's buffered events, with their epochs; forgets dropped ones.
    pub(crate) fn drain(&self) -> Vec<(u64, Vec<Event>)> {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        all.retain(|weak| {
            let Some(r) = weak.upgrade() else {
                return false;
            };
            let mut b = r.buf.lock().unwrap_or_else(|p| p.into_inner());
            if !b.events.is_empty() {
                out.push((b.epoch, std::mem::take(&mut b.events)));
            }
            true
        });
        out
    }
}

/// A user's buffer of events, shared by its HTTP clients and the runner that flushes it.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<RecorderInner>,
}

struct RecorderInner {
    /// Uncontended in practice: only this user's task touches it between flushes.
    buf: Mutex<Batch>,
    tx: mpsc::UnboundedSender<Command>,
    names: Arc<Names>,
    /// The user's constant pacing in µs (0: none, or no correction asked for).
    pacing_us: AtomicU64,
    /// The aggregator's reset epoch. A batch holds events of one epoch only, so a reset
    /// drops exactly what was recorded before it, even if it was still buffered here.
    epoch: Arc<AtomicU64>,
}

struct Batch {
    events: Vec<Event>,
    epoch: u64,
    /// This user's recent name lookups.
    recent: names::RecentNames,
}

/// A batch's buffer, allocated whole once per batch rather than grown event by event.
fn new_buffer() -> Vec<Event> {
    Vec::with_capacity(BATCH_LEN)
}

impl Recorder {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Command>,
        epoch: Arc<AtomicU64>,
        registry: &Registry,
        names: Arc<Names>,
    ) -> Self {
        let inner = Arc::new(RecorderInner {
            buf: Mutex::new(Batch {
                events: Vec::new(),
                epoch: epoch.load(Ordering::Relaxed),
                recent: Default::default(),
            }),
            tx,
            names,
            pacing_us: AtomicU64::new(0),
            epoch,
        });
        registry.add(&inner);
        Self { inner }
    }

    /// Records an event; the batch goes to the aggregator when full, or when the
    /// aggregator pulls it (four times a second).
    pub fn record(&self, mut event: Event) {
        if let Event::Request { pacing_us, .. } = &mut event {
            *pacing_us = self.inner.pacing_us.load(Ordering::Relaxed);
        }
        let epoch = self.inner.epoch.load(Ordering::Relaxed);
        let full = {
            let mut b = self.inner.buf.lock().unwrap_or_else(|p| p.into_inner());
            if b.epoch != epoch {
                // A reset came: what is buffered belongs to the old counts. The table drops
                // it; the lifetime counts (`/metrics`) still take it.
                let old = std::mem::take(&mut b.events);
                if !old.is_empty() {
                    let _ = self.inner.tx.send(Command::Batch(b.epoch, old));
                }
                b.epoch = epoch;
            }
            if b.events.capacity() == 0 {
                b.events = new_buffer();
            }
            b.events.push(event);
            b.events.len() >= BATCH_LEN
        };
        if full {
            self.flush();
        }
    }

    /// The id that (method, name) is recorded under.
    pub fn name_id(&self, method: &str, name: &str) -> NameId {
        let mut b = self.inner.buf.lock().unwrap_or_else(|p| p.into_inner());
        b.recent.id(&self.inner.names, method, name)
    }

    /// This user starts a task every `every` (constant pacing): its requests also feed the
    /// histograms corrected for coordinated omission.
    pub(crate) fn set_pacing(&self, every: std::time::Duration) {
        let us = every.as_micros().min(u128::from(u64::MAX)) as u64;
        self.inner.pacing_us.store(us, Ordering::Relaxed);
    }

    /// Records a timed action that is not an HTTP request (a database call, a websocket
    /// message) so it shows in the same table, like Locust's `events.request.fire`.
    pub fn record_request(
        &self,
        method: &str,
        name: &str,
        elapsed: std::time::Duration,
        content_length: u64,
        error: Option<String>,
    ) {
        self.record(Event::Request {
            id: self.name_id(method, name),
            elapsed_us: elapsed.as_micros() as u64,
            content_length,
            error,
            at: unix_now(),
            hops: 0,
            resent: 0,
            timing: Timing::default(),
            pacing_us: 0,
        });
    }

    /// Sends whatever is buffered now.
    pub fn flush(&self) {
        let (epoch, events) = {
            let mut b = self.inner.buf.lock().unwrap_or_else(|p| p.into_inner());
            if b.events.is_empty() {
                return;
            }
            (b.epoch, std::mem::take(&mut b.events))
        };
        // The aggregator only goes away at the very end of a run; late events are moot then.
        let _ = self.inner.tx.send(Command::Batch(epoch, events));
    }
}

impl Drop for RecorderInner {
    fn drop(&mut self) {
        let b = self.buf.get_mut().unwrap_or_else(|p| p.into_inner());
        let events = std::mem::take(&mut b.events);
        if !events.is_empty() {
            let _ = self.tx.send(Command::Batch(b.epoch, events));
        }
    }
}
