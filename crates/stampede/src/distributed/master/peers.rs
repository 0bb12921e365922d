//! The master's side of its workers' lives: joining (admission and version), reporting
//! (validated stats), and going missing (heartbeats, then forgotten).

use tokio::time::Instant;
use zeromq::ConnectionId;

use super::{Master, Worker, WorkerInfo, LIVENESS};
use crate::distributed::admission::{printable, version_of, Throttled};
use crate::distributed::message::WorkerState;
use crate::distributed::payload::{Ack, Payload, Ready, Report};
use crate::distributed::validate;
use crate::distributed::wire;
use crate::stats::unix_now;
use std::time::Duration;

impl Master {
    /// A `client_ready`: admitted if it has the token (when one is asked for), then given
    /// an index, acknowledged, and users on the next dispatch. Admission is the
    /// connection's: a refused one is closed, and an admitted one takes the identity from
    /// the connection that held it, which is closed (a worker that rebuilt its connection
    /// after the master's silence leaves the old one behind).
    pub(super) async fn admit(&mut self, conn: ConnectionId, id: String, ready: &Ready) {
        let holder = self.workers.get(&id).map(|w| w.conn);
        if let Err(why) = self.setup.admission.check(ready) {
            let borrowed = match holder {
                Some(c) if c != conn => " under an admitted worker's identity",
                _ => "",
            };
            self.refused
                .warn(|| format!("refused worker {}{borrowed}: {why}", printable(&id)));
            if holder != Some(conn) {
                self.send.close_connection(conn);
            }
            return;
        }
        if !self.send.handover(conn) {
            return; // Closed since it spoke.
        }
        let (version, version_ok) = version_of(ready);
        if !version_ok {
            tracing::warn!(
                "worker {} announces version {version:?}; this master speaks Locust 2.x's protocol, so it may misbehave",
                printable(&id)
            );
        }
        let index = self.workers.get(&id).map(|w| w.index).unwrap_or_else(|| {
            self.next_index += 1;
            self.next_index - 1
        });
        let n = self.setup.types.len();
        let info = WorkerInfo {
            id: id.clone(),
            state: WorkerState::Ready,
            user_count: 0,
            cpu_usage: 0.0,
            memory_usage: 0,
            lag_ms: None,
            saturated: false,
            version,
            version_ok,
            rejected_reports: 0,
        };
        let worker = Worker {
            conn,
            info,
            liveness: LIVENESS,
            assigned: vec![0; n],
            reported: vec![0; n],
            index,
            peak_assigned: vec![0; n],
            missing_since: None,
            rejects: Throttled::new(Duration::from_secs(30)),
        };
        self.workers.insert(id.clone(), worker);
        eprintln!(
            "Worker {} joined ({} connected)",
            printable(&id),
            self.ready_workers()
        );
        let ack = Ack {
            index,
            stampede: Some(1),
        };
        self.send_to(&id, Payload::Ack(ack)).await;
        self.rebalance().await;
    }

    /// A worker's report: validated, then merged, and its users noted.
    pub(super) fn on_stats(&mut self, id: &str, report: &Report) {
        let (mut delta, classes) = wire::parse_stats(report);
        if let Err(e) = validate::validate(&mut delta, &self.setup.limits, unix_now()) {
            self.reject_report(id, &e);
            return;
        }
        if !self.workers.contains_key(id) {
            return;
        }
        self.setup.stats.merge(delta);
        self.note_users(id, &classes);
    }

    /// A report dropped whole: counted on the worker, said in the log (throttled).
    pub(super) fn reject_report(&mut self, id: &str, why: &str) {
        let Some(w) = self.workers.get_mut(id) else {
            return;
        };
        w.info.rejected_reports += 1;
        let n = w.info.rejected_reports;
        w.rejects.warn(|| {
            format!(
                "dropped a stats report from worker {} ({n} so far): {why}",
                printable(id)
            )
        });
    }

    /// The users a worker says it runs, from a report or its `spawning_complete` (so the
    /// users gauge moves when spawning ends, not at the next report, as Locust's master),
    /// believed only up to what it was told to run; the totals go to the stats' users.
    pub(super) fn note_users(&mut self, id: &str, classes: &[(String, u64)]) {
        let Some(w) = self.workers.get_mut(id) else {
            return;
        };
        w.reported = self
            .setup
            .types
            .iter()
            .zip(&w.peak_assigned)
            .map(|(t, peak)| {
                let said = classes
                    .iter()
                    .find(|(n, _)| *n == t.name)
                    .map_or(0, |(_, c)| *c);
                said.min(*peak)
            })
            .collect();
        w.info.user_count = w.reported.iter().sum();
        let mut totals = vec![0u64; self.setup.types.len()];
        let live = self
            .workers
            .values()
            .filter(|w| w.info.state != WorkerState::Missing);
        for w in live {
            for (t, c) in w.reported.iter().enumerate() {
                totals[t] = totals[t].saturating_add(*c);
            }
        }
        for (t, c) in totals.into_iter().enumerate() {
            self.setup.stats.users.set(t, c);
        }
    }

    /// Once a second: heartbeats out, liveness down; a silent worker is marked missing and
    /// its users go to the others.
    pub(super) async fn beat(&mut self) {
        let now = Instant::now();
        // A missing worker may come back; after `forget_after` it is forgotten, so that
        // identities which go silent cannot grow the master without end.
        let before = self.workers.len();
        let forget = self.setup.forget_after;
        let send = &self.send;
        self.workers.retain(|_, w| {
            let keep = w.missing_since.is_none_or(|t| now - t < forget);
            if !keep {
                send.close_connection(w.conn);
            }
            keep
        });
        if self.workers.len() < before {
            eprintln!(
                "Forgot {} worker(s) missing for {} s",
                before - self.workers.len(),
                forget.as_secs()
            );
        }
        let ids: Vec<String> = self.workers.keys().cloned().collect();
        let mut lost = 0;
        for id in &ids {
            if self.workers[id].missing_since.is_some() {
                continue;
            }
            self.send_to(id, Payload::Heartbeat(None)).await;
            if let Some(w) = self.workers.get_mut(id) {
                w.liveness -= 1;
                if w.liveness <= 0 && w.info.state != WorkerState::Missing {
                    if lost == 0 {
                        eprintln!("Worker {} is missing (no heartbeat for {LIVENESS} s); its users go to the others", printable(id));
                    }
                    w.info.state = WorkerState::Missing;
                    w.missing_since = Some(now);
                    w.assigned.iter_mut().for_each(|a| *a = 0);
                    w.reported.iter_mut().for_each(|a| *a = 0);
                    lost += 1;
                }
            }
        }
        if lost > 1 {
            eprintln!("... and {} more workers are missing", lost - 1);
        }
        if lost > 0 {
            self.rebalance().await;
        }
        self.publish();
    }
}
