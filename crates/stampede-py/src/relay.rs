//! The locustfile's side of the engine's [`Relay`]: its messages to the other nodes
//! (`runner.send_message`) go out through it; what comes back (a registered message, a
//! worker's report, a report about to go) reaches the hub as [`Relayed`] messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rmpv::Value;
use stampede::advanced::{Inbound, Outgoing, Relay};
use tokio::sync::oneshot;

use crate::msg::{Msg, Relayed};
use crate::wake::Wake;

/// Relayed items handed to the hub and not yet drained. Beyond this many, more are
/// dropped with a warning: a peer that floods cannot grow this process without end.
const MAX_PENDING: usize = 10_000;

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<(String, Value)>>>>>;

pub struct PyRelay {
    pub relay: Relay,
    replies: Replies,
    pending: Arc<AtomicUsize>,
}

impl PyRelay {
    pub fn new(wake: Wake<Msg>) -> Self {
        let replies: Replies = Arc::default();
        let pending = Arc::new(AtomicUsize::new(0));
        let (r, p) = (replies.clone(), pending.clone());
        let relay = Relay::new(move |item| {
            if p.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
                p.fetch_sub(1, Ordering::Relaxed);
                eprintln!(
                    "[stampede] dropped a relayed message: {MAX_PENDING} wait for the locustfile"
                );
                return;
            }
            let relayed = match item {
                Inbound::Message { kind, data, from } => Relayed::Message { kind, data, from },
                Inbound::WorkerReport { from, data } => Relayed::WorkerReport { from, data },
                Inbound::MasterOptions { options, host } => {
                    Relayed::MasterOptions { options, host }
                }
                Inbound::UiOptions { values, host } => Relayed::UiOptions { values, host },
                Inbound::Workers { workers } => Relayed::Workers { workers },
                Inbound::Joined { index } => Relayed::Joined { index },
                Inbound::ReportDue { reply } => {
                    let ticket = crate::handle::next_ticket();
                    r.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ticket, reply);
                    Relayed::ReportDue { ticket }
                }
            };
            wake.push(Msg::Relay(relayed));
        });
        Self {
            relay,
            replies,
            pending,
        }
    }

    /// The locustfile's own arguments, for a master to forward to its workers; a value
    /// msgpack cannot carry is left out.
    pub fn set_options(&self, options: Vec<(String, Bound<'_, PyAny>)>) {
        let options = options
            .into_iter()
            .filter_map(|(k, v)| Some((k, crate::value::to_value(&v).ok()?)))
            .collect();
        self.relay.set_options(options);
    }

    /// One relayed item leaves the queue for Python.
    pub fn drained(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// `runner.send_message`: to worker `to`, to all workers, or (on a worker) to the master.
    pub fn send(&self, kind: String, data: &Bound<'_, PyAny>, to: Option<String>) -> PyResult<()> {
        let data = crate::value::to_value(data)?;
        self.relay
            .send(Outgoing { kind, data, to })
            .map_err(|e| PyRuntimeError::new_err(format!("send_message: {e}")))
    }

    /// The `report_to_master` listeners filled `data`: it goes with the report.
    pub fn answer_report(&self, ticket: u64, data: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut extra = Vec::with_capacity(data.len());
        for (k, v) in data.iter() {
            let key: String = k.extract().map_err(|_| {
                PyRuntimeError::new_err("report_to_master: the data's keys must be str")
            })?;
            extra.push((key, crate::value::to_value(&v)?));
        }
        let reply = self
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ticket);
        if let Some(reply) = reply {
            let _ = reply.send(extra);
        }
        Ok(())
    }

    /// The report under `ticket` goes without additions (a listener raised).
    pub fn skip_report(&self, ticket: u64) {
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ticket);
    }
}

/// A relayed item as the tuple `Front._on_wake` reads; data Python cannot hold (a map
/// keyed by a list, from a peer) becomes `("relay_error", why)`, said in the log.
pub fn to_tuple<'py>(py: Python<'py>, r: Relayed) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    match tuple(py, r) {
        Ok(t) => Ok(t),
        Err(e) => ("relay_error", e.to_string()).into_pyobject(py),
    }
}

fn tuple<'py>(py: Python<'py>, r: Relayed) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    Ok(match r {
        Relayed::Message { kind, data, from } => {
            ("message", kind, crate::value::to_py(py, &data)?, from).into_pyobject(py)?
        }
        Relayed::WorkerReport { from, data } => {
            ("worker_report", from, crate::value::to_py(py, &data)?).into_pyobject(py)?
        }
        Relayed::ReportDue { ticket } => ("report_due", ticket).into_pyobject(py)?,
        Relayed::Workers { workers } => ("workers", workers).into_pyobject(py)?,
        Relayed::Joined { index } => ("joined", index).into_pyobject(py)?,
        Relayed::UiOptions { values, host } => ("ui_options", values, host).into_pyobject(py)?,
        Relayed::MasterOptions { options, host } => {
            ("master_options", crate::value::to_py(py, &options)?, host).into_pyobject(py)?
        }
    })
}
