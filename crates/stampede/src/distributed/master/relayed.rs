//! The master's side of a test's own traffic ([`Relay`](crate::relay::Relay)): its
//! messages out to workers, and each worker's report handed to the front.

use super::Master;
use crate::distributed::admission::printable;
use crate::distributed::message::WorkerState;
use crate::distributed::payload::{ParsedOptions, Payload, Report};

impl Master {
    /// The options a spawn carries: the command line's, with the front's own as the relay
    /// has them now (the web UI's start form may have changed them) in place of the
    /// command line's under the same name (the Python front reads `--tags` itself).
    pub(super) fn forwarded_options(&self) -> ParsedOptions {
        let mut all = self.setup.parsed_options.clone();
        for (k, v) in self.setup.relay.iter().flat_map(|r| r.options()) {
            match all.0.iter_mut().find(|(known, _)| *known == k) {
                Some(slot) => slot.1 = v,
                None => all.0.push((k, v)),
            }
        }
        all
    }

    /// A test's own message: to the worker it names, or to every live one.
    pub(super) async fn send_custom(&mut self, out: crate::relay::Outgoing) {
        let to: Vec<String> = match out.to {
            Some(id) if self.workers.contains_key(&id) => vec![id],
            Some(id) => {
                tracing::warn!(
                    "cannot send '{}' to worker {}: no such worker",
                    printable(&out.kind),
                    printable(&id)
                );
                return;
            }
            None => self
                .workers
                .iter()
                .filter(|(_, w)| w.info.state != WorkerState::Missing)
                .map(|(id, _)| id.clone())
                .collect(),
        };
        for id in to {
            let custom = Payload::Custom {
                kind: out.kind.clone(),
                data: out.data.clone(),
            };
            self.send_to(&id, custom).await;
        }
    }

    /// Tells the front its workers (Locust's `runner.clients`, `worker_count`), when who
    /// they are, their states or their user counts changed since it was last told.
    pub(super) fn tell_front_of_workers(&mut self, list: &[super::WorkerInfo]) {
        let Some(relay) = &self.setup.relay else {
            return;
        };
        let rows: Vec<(String, String, u64)> = list
            .iter()
            .map(|w| (w.id.clone(), w.state.as_str().to_owned(), w.user_count))
            .collect();
        if rows != self.told_workers {
            self.told_workers = rows.clone();
            relay.deliver(crate::relay::Inbound::Workers { workers: rows });
        }
    }

    /// Hands a worker's whole report to the front (Locust's `worker_report`).
    pub(super) fn tell_front_of_report(&self, id: &str, report: &Report) {
        let Some(relay) = &self.setup.relay else {
            return;
        };
        if !self.workers.contains_key(id) {
            return;
        }
        match rmpv::ext::to_value(report) {
            Ok(data) => relay.deliver(crate::relay::Inbound::WorkerReport {
                from: id.to_owned(),
                data,
            }),
            Err(e) => tracing::warn!("cannot hand a report to the front: {e}"),
        }
    }
}
