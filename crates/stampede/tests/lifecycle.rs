//! One test's lifecycle (`stampede::advanced::lifecycle::run_test`), the layer every mode
//! drives, on paused Tokio time: no sockets, so time can jump, and nothing depends on how
//! busy the machine is.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::lifecycle::{run_test, Change, Ended, Ending, Finish, Schedule};
use stampede::advanced::shape::Stages;
use stampede::advanced::swarm::SwarmConfig;
use stampede::prelude::*;
use stampede::CancellationToken;
use tokio::sync::mpsc;

struct Idle;
impl Idle {
    async fn nap(&mut self) -> TaskResult {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }
}

fn plan(starts: Arc<AtomicU32>, stops: Arc<AtomicU32>) -> Plan {
    Plan::new()
        .user_type(UserType::new("Idle", |_| Idle).task(task!(Idle::nap)))
        .on_test_start(move || {
            let starts = starts.clone();
            async move {
                starts.fetch_add(1, Ordering::SeqCst);
            }
        })
        .on_test_stop(move || {
            let stops = stops.clone();
            async move {
                stops.fetch_add(1, Ordering::SeqCst);
            }
        })
}

fn schedule() -> Schedule {
    Schedule {
        users: 3,
        rate: 100.0,
        shape: None,
        run_time: None,
        reset_stats: false,
        end_when_users_gone: true,
        host: None,
        user_limit: u64::MAX,
    }
}

struct Running {
    swarm: stampede::advanced::swarm::Swarm,
    stop: CancellationToken,
    changes: mpsc::UnboundedSender<Change>,
    test: tokio::task::JoinHandle<Ended>,
    starts: Arc<AtomicU32>,
    stops: Arc<AtomicU32>,
}

fn start(schedule: Schedule) -> Running {
    let (starts, stops) = (Arc::default(), Arc::default());
    let plan = plan(Arc::clone(&starts), Arc::clone(&stops));
    let swarm = plan
        .swarm(SwarmConfig::new("http://127.0.0.1:9/".parse().unwrap()))
        .unwrap();
    let stop = CancellationToken::new();
    let (changes, rx) = mpsc::unbounded_channel();
    let test = tokio::spawn(run_test(
        swarm.runner.clone(),
        swarm.stats.clone(),
        plan,
        schedule,
        stop.clone(),
        rx,
        Finish::Stop,
    ));
    Running {
        swarm,
        stop,
        changes,
        test,
        starts,
        stops,
    }
}

async fn at(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn stages_are_followed_and_end_the_test_with_the_hooks_run_once() {
    let mut s = schedule();
    s.shape = Some(Arc::new(Stages(vec![
        "2:100:2s".parse().unwrap(),
        "5:100:2s".parse().unwrap(),
    ])));
    let r = start(s);
    at(1.5).await;
    assert_eq!(r.swarm.runner.user_count(), 2);
    assert_eq!(r.starts.load(Ordering::SeqCst), 1);
    at(2.0).await; // 3.5 s in
    assert_eq!(r.swarm.runner.user_count(), 5);
    let ended = r.test.await.unwrap();
    assert_eq!(ended.ending, Ending::ShapeEnded);
    assert_eq!(ended.peak_users, 5);
    assert_eq!(r.swarm.runner.user_count(), 0, "the users are stopped");
    assert_eq!(r.stops.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_edit_replaces_the_run_time_and_the_users() {
    let mut s = schedule();
    s.run_time = Some(Duration::from_secs(5));
    let r = start(s);
    at(1.0).await;
    assert_eq!(r.swarm.runner.user_count(), 3);
    r.changes
        .send(Change::Users {
            users: 6,
            rate: 100.0,
        })
        .unwrap();
    r.changes.send(Change::RunTime(None)).unwrap();
    at(10.0).await; // long past the old 5 s
    assert!(!r.test.is_finished(), "the edit removed the run time");
    assert_eq!(r.swarm.runner.user_count(), 6);
    r.changes
        .send(Change::RunTime(Some(Duration::from_secs(2))))
        .unwrap();
    at(1.0).await;
    assert!(!r.test.is_finished());
    let ended = r.test.await.unwrap();
    assert_eq!(ended.ending, Ending::RunTime);
    assert_eq!(ended.peak_users, 6);
    drop(r.stop);
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_test_and_a_shape_ignores_user_edits() {
    let mut s = schedule();
    s.shape = Some(Arc::new(Stages(vec!["4:100:1h".parse().unwrap()])));
    let r = start(s);
    at(1.0).await;
    r.changes
        .send(Change::Users {
            users: 1,
            rate: 1.0,
        })
        .unwrap();
    at(2.0).await;
    assert_eq!(r.swarm.runner.user_count(), 4, "the shape decides");
    r.stop.cancel();
    let ended = r.test.await.unwrap();
    assert_eq!(ended.ending, Ending::Stopped);
    assert_eq!(r.stops.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_user_count_is_capped_by_the_user_limit() {
    let mut s = schedule();
    s.users = 10_000_000;
    s.user_limit = 4;
    let r = start(s);
    at(1.0).await;
    assert_eq!(r.swarm.runner.user_count(), 4);
    r.stop.cancel();
    assert_eq!(r.test.await.unwrap().ending, Ending::Stopped);
}

/// Naps 100 ms and records it as a request, so the statistics have something to count.
struct Counter(stampede::advanced::stats::Recorder);
impl Counter {
    async fn nap(&mut self) -> TaskResult {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.0
            .record_request("NAP", "nap", Duration::from_millis(100), 0, None);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn reset_stats_starts_the_counts_afresh_once_every_user_is_spawned() {
    let plan = Plan::new().user_type(
        UserType::new("Counter", |ctx| Counter(ctx.recorder().clone())).task(task!(Counter::nap)),
    );
    let swarm = plan
        .swarm(SwarmConfig::new("http://127.0.0.1:9/".parse().unwrap()))
        .unwrap();
    let mut s = schedule();
    // Three users at 2/s: the last is spawned at 1 s; then the counts restart.
    s.rate = 2.0;
    s.reset_stats = true;
    let (_changes, rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let test = tokio::spawn(run_test(
        swarm.runner.clone(),
        swarm.stats.clone(),
        plan,
        s,
        stop.clone(),
        rx,
        Finish::Stop,
    ));
    at(1.45).await;
    stop.cancel();
    test.await.unwrap();
    let n = swarm.stats.snapshot().await.total.num_requests;
    // Without the reset: 27 naps (14 + 9 + 4). With it, only those after 1 s: four each,
    // and the two that end at 1.0 s itself if they are recorded after the reset. Naps from
    // before it that were still in a user's batch are dropped, not counted late.
    assert!((12..=14).contains(&n), "{n} requests counted");
}

#[tokio::test(start_paused = true)]
async fn single_user_runs_one_user_whatever_the_stages_ask_for() {
    let cli = stampede::advanced::try_parse_args::<stampede::advanced::config::NoOptions>(
        ["plan", "--single-user", "--stage", "9:9:5s", "-t", "3s"].map(String::from),
    )
    .unwrap();
    let plan = plan(Arc::default(), Arc::default());
    let s = Schedule::from_options(&cli.options, &plan);
    assert!(s.shape.is_none(), "--single-user drops the stages");
    let r = start(s);
    at(1.0).await;
    assert_eq!(r.swarm.runner.user_count(), 1);
    let ended = r.test.await.unwrap();
    assert_eq!(ended.ending, Ending::RunTime);
    assert_eq!(ended.peak_users, 1);
}
