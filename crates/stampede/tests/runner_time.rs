//! The runner's timing on paused Tokio time: the spawn rate, the stop timeout, and open-model
//! arrivals. The users do no I/O (they nap and record what they did), so virtual time can
//! jump and every count is exact, however busy the machine is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::swarm::{Swarm, SwarmConfig};
use stampede::prelude::*;
use tokio::time::Instant;

/// Naps for `ms`, then records a request named "nap" (as a non-HTTP action would).
struct Napper {
    ctx_recorder: stampede::advanced::stats::Recorder,
    ms: u64,
    done: Arc<AtomicU64>,
}

impl Napper {
    async fn nap(&mut self) -> TaskResult {
        let t = Instant::now();
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        self.ctx_recorder
            .record_request("NAP", "nap", t.elapsed(), 0, None);
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn napper(ms: u64, done: &Arc<AtomicU64>) -> UserType<Napper> {
    let done = done.clone();
    UserType::new("Napper", move |ctx| Napper {
        ctx_recorder: ctx.recorder().clone(),
        ms,
        done: done.clone(),
    })
    .task(task!(Napper::nap))
}

fn swarm(plan: &Plan, stop_timeout: Duration) -> Swarm {
    let mut cfg = SwarmConfig::new("http://127.0.0.1:9/".parse().unwrap());
    cfg.stop_timeout = stop_timeout;
    plan.swarm(cfg).unwrap()
}

async fn at(ms: u64, since: Instant) {
    tokio::time::sleep_until(since + Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn the_spawn_rate_paces_users_and_the_target_changes_live() {
    let done = Arc::default();
    let plan = Plan::new().user_type(napper(100, &done).wait_time(constant(0.1)));
    let s = swarm(&plan, Duration::ZERO);
    let t0 = Instant::now();
    s.runner.start(6, 10.0, None);
    // The first user at once, then one every 100 ms: the sixth at 500 ms.
    at(50, t0).await;
    assert_eq!(s.runner.user_count(), 1);
    at(250, t0).await;
    assert_eq!(s.runner.user_count(), 3);
    at(450, t0).await;
    assert_eq!(s.runner.user_count(), 5);
    at(550, t0).await;
    assert_eq!(s.runner.user_count(), 6);
    // Down to 2 at 100 users/s, then up to 4, while running.
    s.runner.start(2, 100.0, None);
    at(700, t0).await;
    assert_eq!(s.runner.user_count(), 2);
    s.runner.start(4, 100.0, None);
    at(800, t0).await;
    assert_eq!(s.runner.user_count(), 4);
    assert_eq!(s.runner.status().target_users, 4);
    s.runner.stop().await;
    assert_eq!(s.runner.user_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stop_timeout_lets_tasks_finish_and_none_aborts_at_once() {
    let done = Arc::new(AtomicU64::new(0));
    let plan = Plan::new().user_type(napper(700, &done));
    let s = swarm(&plan, Duration::from_secs(5));
    let t0 = Instant::now();
    s.runner.start(3, 1000.0, None);
    at(100, t0).await;
    s.runner.stop().await;
    // The naps that began at 0 ms end at 700 ms: the stop waited for them, no longer.
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_millis(710),
        "{waited:?}"
    );
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(s.stats.snapshot().await.total.num_requests, 3);

    let s = swarm(&plan, Duration::ZERO);
    s.runner.start(3, 1000.0, None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    s.runner.stop().await;
    assert_eq!(t.elapsed(), Duration::ZERO, "aborted at once");
    assert_eq!(
        done.load(Ordering::SeqCst),
        3,
        "the aborted naps never finished"
    );
}

#[tokio::test(start_paused = true)]
async fn open_model_arrivals_keep_their_rate_however_slow_each_one_is() {
    let done = Arc::new(AtomicU64::new(0));
    // Each arrival takes 300 ms; 20 a second still arrive, so the stall shows as latency.
    let plan = Plan::new().user_type(napper(300, &done).arrival_rate(20.0));
    let s = swarm(&plan, Duration::from_secs(2));
    s.runner.start(0, 1.0, None);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.runner.stop().await;
    let st = s.stats.snapshot().await;
    let sent = done.load(Ordering::SeqCst);
    assert!((20..=21).contains(&sent), "{sent} arrivals in 1 s at 20/s");
    assert_eq!(
        st.total.num_requests, sent,
        "the stop timeout let every arrival finish"
    );
    assert!(st.total.percentile_ms(0.5) >= 300.0);
    assert_eq!(st.task_runs[&("Napper".into(), "nap".into())], sent);
}

#[tokio::test(start_paused = true)]
async fn arrivals_beyond_max_users_are_dropped_and_reported() {
    let done = Arc::new(AtomicU64::new(0));
    let plan = Plan::new().user_type(napper(700, &done).arrival_rate(20.0).max_users(2));
    let s = swarm(&plan, Duration::ZERO);
    s.runner.start(0, 1.0, None);
    // Between two arrivals, so no timer is due at the very moment of the stop.
    tokio::time::sleep(Duration::from_millis(475)).await;
    assert!(s.runner.user_count() <= 2);
    s.runner.stop().await;
    let st = s.stats.snapshot().await;
    let dropped = st
        .exceptions
        .values()
        .find(|e| e.msg.starts_with("arrival dropped"))
        .expect("dropped arrivals are reported");
    // 0, 50, ..., 450 ms: ten arrivals, two admitted.
    assert_eq!(dropped.count, 8, "{dropped:?}");
}
