//! The spawner yields to the runtime between batches of [`SPAWN_BATCH`] users (issue 24,
//! item 3), checked by a task that runs beside it on a current-thread runtime: it sees
//! the user count after every batch, never a whole swarm appearing at once. Time is paused
//! and nothing waits on it.

use std::sync::Arc;

use super::SPAWN_BATCH;
use crate::advanced::swarm::{Swarm, SwarmConfig};
use crate::prelude::*;
use crate::stats::UserCounts;

struct Idle;

impl Idle {
    async fn rest(&mut self) -> TaskResult {
        Ok(())
    }
}

fn swarm() -> Swarm {
    let plan = Plan::new().user_type(
        UserType::new("Idle", |_| Idle)
            .wait_time(constant(3600.0))
            .task(task!(Idle::rest)),
    );
    let host = "http://127.0.0.1:9/".parse().expect("a valid URL");
    plan.swarm(SwarmConfig::new(host)).expect("a valid plan")
}

/// Goes to the back of the run queue, as a task woken by I/O or a channel does: the UI's
/// tasks, when a request comes. (`yield_now` would wait instead in the runtime's deferred
/// list, beside the spawner, and their order there alternates.)
async fn requeue() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if queued {
            return std::task::Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// Reads the live user count now, then starts a task that is always ready to run and
/// reads it again each time it does, until it reads `until` (or has read a million
/// times); returns what was read.
fn watch_users(users: Arc<UserCounts>, until: u64) -> tokio::task::JoinHandle<Vec<u64>> {
    let mut seen = vec![users.total()];
    tokio::spawn(async move {
        while seen[seen.len() - 1] < until && seen.len() < 1_000_000 {
            requeue().await;
            seen.push(users.total());
        }
        seen
    })
}

/// The most users that appeared between two reads.
fn largest_jump(seen: &[u64]) -> u64 {
    seen.windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_swarm_asked_for_at_once_starts_a_batch_between_yields() {
    let s = swarm();
    let watcher = watch_users(s.stats.users.clone(), 1000);
    s.runner.start(1000, f64::INFINITY, None);
    let seen = watcher.await.unwrap();
    assert_eq!(seen.last(), Some(&1000), "every user started");
    let jump = largest_jump(&seen);
    assert!(
        jump <= SPAWN_BATCH as u64,
        "{jump} users started without a yield (batch {SPAWN_BATCH})"
    );
    s.runner.stop().await;
}

#[tokio::test(start_paused = true)]
async fn exact_counts_from_a_master_start_a_batch_between_yields() {
    let s = swarm();
    let watcher = watch_users(s.stats.users.clone(), 1000);
    s.runner.set_counts(vec![1000], None);
    let seen = watcher.await.unwrap();
    assert_eq!(seen.last(), Some(&1000), "every user started");
    let jump = largest_jump(&seen);
    assert!(jump <= SPAWN_BATCH as u64, "{jump} users without a yield");
    let mut status = s.runner.watch();
    let _ = status
        .wait_for(|st| st.state == super::RunnerState::Running)
        .await;
    s.runner.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_is_heard_between_batches_of_a_large_spawn() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let s = swarm();
    let (peak, done) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let users = s.stats.users.clone();
    let probe = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(users.total(), Ordering::Relaxed);
                requeue().await;
            }
        }
    });
    s.runner.start(100_000, f64::INFINITY, None);
    while s.stats.users.total() < SPAWN_BATCH as u64 {
        tokio::task::yield_now().await;
    }
    s.runner.stop().await;
    done.store(true, Ordering::Relaxed);
    probe.await.unwrap();
    assert_eq!(s.stats.users.total(), 0, "every user stopped");
    assert_eq!(s.runner.status().state, super::RunnerState::Stopped);
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak < 50_000,
        "the stop waited for the spawn: {peak} users at the peak"
    );
}
