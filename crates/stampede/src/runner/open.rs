//! The arrival driver of an open-model user type (see [`crate::arrivals`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::factory::UserFactory;
use super::life::UserControl;
use crate::arrivals::Arrivals;
use crate::stats::Event;

/// Starts users of `type_idx` on the arrival schedule until `stop`, then gives them
/// `stop_timeout` to finish before aborting them.
pub(crate) fn drive(
    factory: Arc<UserFactory>,
    type_idx: usize,
    arrivals: Arrivals,
    stop: CancellationToken,
    stop_timeout: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let recorder = factory.stats.recorder();
        let name = factory.types[type_idx].info().name.clone();
        let mut users: JoinSet<()> = JoinSet::new();
        let mut n = 0u64;
        while let Some(due) = arrivals.due(n) {
            let intended = start + Duration::from_secs_f64(due);
            tokio::select! {
                _ = tokio::time::sleep_until(intended) => {}
                _ = stop.cancelled() => break,
            }
            n += 1;
            while users.try_join_next().is_some() {}
            if users.len() as u64 >= arrivals.max_users {
                recorder.record(Event::Exception {
                    message: format!(
                        "arrival dropped: {} users of {name} already running (max_users)",
                        arrivals.max_users
                    ),
                    location: name.clone(),
                });
                continue;
            }
            let ctl = UserControl {
                stop: stop.child_token(),
                once: true,
            };
            users.spawn(factory.life(type_idx, ctl, Some(intended)));
        }
        stop.cancelled().await;
        recorder.flush();
        let drained = tokio::time::timeout(stop_timeout, async {
            while users.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            users.abort_all();
            while users.join_next().await.is_some() {}
        }
    })
}
