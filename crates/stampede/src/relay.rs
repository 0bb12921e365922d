//! A test's own traffic between a master and its workers, beside the engine's: Locust's
//! `runner.send_message`/`register_message` (messages of any type the test names) and its
//! `report_to_master`/`worker_report` (data a worker adds to each stats report). A plan
//! that carries a [`Relay`] gets both; the master and worker move the bytes, the front
//! (the Python one) decides what they mean.
//!
//! Below the plan, which holds it, and the distributed mode, which carries it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{mpsc, oneshot};

/// Messages a test sends that are not yet on the wire. Beyond this many, `send` refuses:
/// a test that sends faster than the network carries learns so instead of growing.
const OUTGOING: usize = 1024;

/// How long a worker waits for the front's additions to a report before sending it
/// without them.
pub const REPORT_WAIT: Duration = Duration::from_secs(1);

/// A message a test sends: to one worker (`to`), to every worker (`None`, on a master), or
/// to the master (on a worker, where `to` is ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The message's type, as listeners register for it.
    pub kind: String,
    /// Any msgpack value.
    pub data: Value,
    /// A worker's node id, or `None`.
    pub to: Option<String>,
}

/// A test option of the front's own that the web UI's start form shows and sends (a
/// locustfile's argument, as Locust's UI shows them under "Custom parameters").
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UiOption {
    /// The form field's name (the option's `dest`).
    pub name: String,
    /// Its help text, the field's label.
    pub help: String,
    /// Its current value, as text.
    pub value: String,
    /// Shown as a password field, and never in the form's defaults.
    pub secret: bool,
    /// Allowed values (a select), if limited.
    pub choices: Vec<String>,
    /// A flag (a checkbox).
    pub flag: bool,
}

/// What reaches the front.
#[derive(Debug)]
pub enum Inbound {
    /// A message of the test's own from node `from` (a worker's id, or the master's).
    Message {
        /// Its type.
        kind: String,
        /// What it carries.
        data: Value,
        /// The sender's node id (on a worker, the id its master addressed it to).
        from: String,
    },
    /// On a master: a worker's report arrived (all of it, as Locust's `worker_report`
    /// hands it to its listeners).
    WorkerReport {
        /// The worker's node id.
        from: String,
        /// The whole `stats` message's data.
        data: Value,
    },
    /// The web UI's start form set these of the front's own options ([`UiOption`]), as
    /// text, before the test starts.
    UiOptions {
        /// (name, value) pairs, each a declared option's.
        values: Vec<(String, String)>,
        /// The host the form names, as typed (Locust's `environment.host` becomes it).
        host: Option<String>,
    },
    /// On a master: its workers changed (joined, left, went missing, or run other
    /// user counts): each one's node id, state (Locust's name) and users.
    Workers {
        /// One row per worker the master knows.
        workers: Vec<(String, String, u64)>,
    },
    /// On a worker: its master admitted it under this index (Locust's `worker_index`).
    Joined {
        /// Its index among the master's workers.
        index: u64,
    },
    /// On a worker: the master's options, as its `spawn` carries them, before the test
    /// starts (Locust's worker takes a locustfile's own arguments from them).
    MasterOptions {
        /// A map from option name to value.
        options: Value,
        /// The host the master's spawn names (Locust's worker takes it as its
        /// `environment.host`).
        host: Option<String>,
    },
    /// On a worker: a report is about to go; answer with what to add to it
    /// (`report_to_master`). Unanswered within [`REPORT_WAIT`], it goes without.
    ReportDue {
        /// Where the additions go: fields added to the report, in order.
        reply: oneshot::Sender<Vec<(String, Value)>>,
    },
}

/// The two ends a front holds: what it sends, and how it hears.
#[derive(Clone)]
pub struct Relay {
    tx: mpsc::Sender<Outgoing>,
    rx: Arc<Mutex<Option<mpsc::Receiver<Outgoing>>>>,
    inbound: Arc<dyn Fn(Inbound) + Send + Sync>,
    /// Options of the test's own that a master sends its workers with each `spawn`.
    options: Arc<Mutex<Vec<(String, Value)>>>,
    /// Options the web UI's start form shows.
    ui_options: Arc<Mutex<Vec<UiOption>>>,
    /// The node id a worker announces, when the front chose it (Locust's `client_id`).
    node_id: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relay")
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SendError {
    /// The network is slower than the test sends.
    #[error("{OUTGOING} messages are already waiting to be sent")]
    Full,
    /// Nothing will send it any more.
    #[error("the run has ended")]
    Closed,
}

impl Relay {
    /// A relay whose incoming traffic goes to `inbound`, called on the engine's threads:
    /// it must hand the item on and return at once.
    pub fn new(inbound: impl Fn(Inbound) + Send + Sync + 'static) -> Self {
        let (tx, rx) = mpsc::channel(OUTGOING);
        Self {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
            inbound: Arc::new(inbound),
            options: Arc::default(),
            ui_options: Arc::default(),
            node_id: Arc::default(),
        }
    }

    /// The node id a worker of this run announces to its master, so that the front's own
    /// name for it (Locust's `runner.client_id`) is the one the master knows. Ignored
    /// unless 1 to 255 bytes (a ZeroMQ identity).
    pub fn set_node_id(&self, id: String) {
        if (1..=255).contains(&id.len()) {
            *self.node_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
        }
    }

    /// What [`set_node_id`](Self::set_node_id) gave.
    pub(crate) fn node_id(&self) -> Option<String> {
        self.node_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The options the web UI's start form shows and sends back ([`Inbound::UiOptions`]).
    pub fn set_ui_options(&self, options: Vec<UiOption>) {
        *self.ui_options.lock().unwrap_or_else(|p| p.into_inner()) = options;
    }

    /// What [`set_ui_options`](Self::set_ui_options) gave.
    pub(crate) fn ui_options(&self) -> Vec<UiOption> {
        self.ui_options
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Options of the test's own (a locustfile's arguments) for a master to forward to
    /// its workers, beside its command line's.
    pub fn set_options(&self, options: Vec<(String, Value)>) {
        *self.options.lock().unwrap_or_else(|p| p.into_inner()) = options;
    }

    /// What [`set_options`](Self::set_options) gave.
    pub(crate) fn options(&self) -> Vec<(String, Value)> {
        self.options
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Queues a message for the master or worker to send.
    pub fn send(&self, message: Outgoing) -> Result<(), SendError> {
        self.tx.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    /// The queue of messages to send, for the one master or worker of a run.
    pub(crate) fn take_outgoing(&self) -> Option<mpsc::Receiver<Outgoing>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Hands `item` to the front.
    pub(crate) fn deliver(&self, item: Inbound) {
        (self.inbound)(item);
    }

    /// Asks the front what to add to a report; nothing if it does not answer in time.
    pub(crate) async fn report_extra(&self) -> Vec<(String, Value)> {
        let (reply, answer) = oneshot::channel();
        self.deliver(Inbound::ReportDue { reply });
        match tokio::time::timeout(REPORT_WAIT, answer).await {
            Ok(Ok(extra)) => extra,
            _ => {
                tracing::warn!(
                    "report_to_master listeners did not answer within {} s; the report goes without them",
                    REPORT_WAIT.as_secs()
                );
                Vec::new()
            }
        }
    }
}

/// Receives from an optional queue: pending for ever when there is none, so a `select!`
/// arm on it never fires.
pub(crate) async fn next(rx: &mut Option<mpsc::Receiver<Outgoing>>) -> Option<Outgoing> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_and_an_unanswered_report_goes_without_extras() {
        let relay = Relay::new(|_| {});
        let m = Outgoing {
            kind: "hello".into(),
            data: Value::Nil,
            to: None,
        };
        for _ in 0..OUTGOING {
            relay.send(m.clone()).unwrap();
        }
        assert_eq!(relay.send(m.clone()), Err(SendError::Full));
        let mut rx = relay.take_outgoing();
        assert!(relay.take_outgoing().is_none(), "one taker");
        assert_eq!(next(&mut rx).await, Some(m));
        // The front dropped the question: after REPORT_WAIT (paused time), no extras.
        assert!(relay.report_extra().await.is_empty());
        let answering = Relay::new(|i| {
            if let Inbound::ReportDue { reply } = i {
                let _ = reply.send(vec![("k".into(), Value::from(1))]);
            }
        });
        assert_eq!(
            answering.report_extra().await,
            vec![("k".into(), Value::from(1))]
        );
    }
}
