//! A master among hostile peers: fake workers without the token or from outside the
//! allow-list get no users, crafted stats reports cannot corrupt the totals, silent
//! identities are forgotten, a wrong version is reported. Each case drives a real master
//! with crafted frames and checks that a real worker keeps its users and the totals stay
//! exact. (The 73-byte allocation attack is in `distributed.rs`, borrowed worker identities
//! in `worker_identity.rs`; the fakes and helpers are in `fakes/`.)

mod common;
mod fakes;

use std::time::{Duration, Instant};

use fakes::{master, real_worker, report, until, with, workers, Fake};
use rmpv::Value;
use stampede::advanced::distributed::{Admission, Message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_workers_without_the_token_get_no_users() {
    let srv = common::start().await;
    let admission = Admission {
        token: Some("s3cret".into()),
        allow: vec![],
    };
    let (swarm, port) = master(admission, &srv).await;
    let (stop, run) = real_worker(port, &["--worker-token", "s3cret"]);
    until("the real worker joins", || workers(&swarm).len() == 1).await;
    // Four hijackers: one says nothing of a token, three guess.
    let mut fakes = Vec::new();
    for (i, token) in [None, Some("guess"), Some("s3cre"), Some("")]
        .iter()
        .enumerate()
    {
        let mut f = Fake::connect(port, &format!("evil_{i}")).await;
        let ready = match token {
            None => Value::from(-1),
            Some(t) => Value::Map(vec![("token".into(), (*t).into())]),
        };
        f.say("client_ready", ready).await;
        f.beat().await;
        fakes.push(f);
    }
    swarm.runner.start(6, 100.0, None);
    for f in &mut fakes {
        assert!(
            f.expect("spawn", Duration::from_secs(2)).await.is_none(),
            "{} was given users",
            f.id
        );
        f.beat().await;
    }
    until("the real worker runs all 6 users", || {
        let w = workers(&swarm);
        w.len() == 1 && w[0].user_count == 6
    })
    .await;
    until("the real worker sends load", || srv.hits.get("/") > 0).await;
    swarm.runner.stop().await;
    swarm.runner.quit().await;
    stop.cancel();
    assert_eq!(run.await.unwrap().exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_outside_the_allow_list_are_disconnected_before_a_byte() {
    let srv = common::start().await;
    for (allow, admitted) in [("10.0.0.0/8", false), ("127.0.0.0/8", true)] {
        let admission = Admission {
            token: None,
            allow: vec![allow.parse().unwrap()],
        };
        let (swarm, port) = master(admission, &srv).await;
        let acked = match Fake::try_connect(port, "box_1").await {
            // Closed before the greeting: the connection itself fails.
            Err(e) => {
                assert!(!admitted, "allow-list {allow}: {e}");
                false
            }
            Ok(mut f) => {
                f.say("client_ready", Value::from("2.47.0")).await;
                f.expect("ack", Duration::from_secs(2)).await.is_some()
            }
        };
        assert_eq!(acked, admitted, "allow-list {allow}");
        assert_eq!(workers(&swarm).len(), usize::from(admitted));
        swarm.runner.quit().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crafted_reports_cannot_corrupt_the_totals() {
    let srv = common::start().await;
    let (swarm, port) = master(Admission::default(), &srv).await;
    let mut f = Fake::admitted(port, "box_1").await;
    swarm.runner.start(2, 100.0, None);
    f.expect("spawn", Duration::from_secs(5)).await.unwrap();
    let now = stampede::advanced::stats::unix_now();

    // One honest report: 10 requests of 20 ms, 1 failed.
    f.say("stats", report(10, 1, 20, now, 2)).await;
    let hostile = [
        ("failures > requests", report(10, 30, 20, now, 2)),
        (
            "an infinite time",
            with(
                report(10, 0, 20, now, 2),
                "max_response_time",
                Value::F64(f64::INFINITY),
            ),
        ),
        (
            "a bucket count of 2^64-1",
            with(
                report(10, 0, 20, now, 2),
                "response_times",
                Value::Map(vec![(Value::from(1), Value::from(u64::MAX))]),
            ),
        ),
        (
            "2^63 requests",
            with(
                report(10, 0, 20, now, 2),
                "num_requests",
                Value::from(1u64 << 63),
            ),
        ),
        (
            "2^63 requests again",
            with(
                report(10, 0, 20, now, 2),
                "num_requests",
                Value::from(1u64 << 63),
            ),
        ),
        (
            "more per-second counts than requests",
            with(
                report(10, 0, 20, now, 2),
                "num_reqs_per_sec",
                Value::Map(vec![(Value::from(now as u64), Value::from(11))]),
            ),
        ),
    ];
    for (_, r) in &hostile {
        f.say("stats", r.clone()).await;
    }
    // Accepted, with what a real worker may get wrong fixed: a start time of 0, a user
    // count beyond what it was told to run, a clock years ahead.
    f.say("stats", report(5, 0, 20, 0.0, 1u64 << 62)).await;
    let far = Value::Map(vec![(Value::from(1u64 << 40), Value::from(3))]);
    f.say(
        "stats",
        with(report(3, 0, 20, now, 2), "num_reqs_per_sec", far),
    )
    .await;
    f.beat().await;

    until("every report is handled", || {
        workers(&swarm)
            .first()
            .is_some_and(|w| w.rejected_reports == hostile.len() as u64)
    })
    .await;
    let start = Instant::now();
    let s = loop {
        let s = swarm.stats.snapshot().await;
        if s.total.num_requests >= 18 || start.elapsed() > Duration::from_secs(10) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let t = &s.total;
    assert_eq!(
        t.num_requests, 18,
        "the honest 10 and the fixed 5 and 3, nothing else"
    );
    assert!(
        t.reqs_per_sec.keys().all(|s| s.abs_diff(now as u64) < 60),
        "the far-off second moved to the master's clock: {:?}",
        t.reqs_per_sec
    );
    assert_eq!(t.num_failures, 1);
    assert!(t.fail_ratio() <= 1.0);
    assert_eq!(t.max_ms(), 20.0);
    assert!(
        (19.0..=21.0).contains(&t.percentile_ms(0.95)),
        "{}",
        t.percentile_ms(0.95)
    );
    assert!(
        t.total_rps(t) > 0.01,
        "the start time 0 was ignored: {}",
        t.total_rps(t)
    );
    assert!(
        swarm.stats.users.total() <= 2,
        "a worker cannot claim more users than it was given: {}",
        swarm.stats.users.total()
    );
    swarm.runner.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_identities_are_forgotten_and_a_real_worker_keeps_its_users() {
    let srv = common::start().await;
    let (swarm, port) = master(Admission::default(), &srv).await;
    let (stop, run) = real_worker(port, &[]);
    until("the real worker joins", || workers(&swarm).len() == 1).await;
    swarm.runner.start(4, 100.0, None);
    until("it runs 4 users", || {
        workers(&swarm).first().is_some_and(|w| w.user_count == 4)
    })
    .await;
    // 2,000 identities say client_ready once and go silent.
    for i in 0..2000 {
        let mut f = Fake::connect(port, &format!("ghost{}_{i}", i % 7)).await;
        f.say("client_ready", Value::from(-1)).await;
    }
    until("the master saw the ghosts", || workers(&swarm).len() > 100).await;
    // Missing after 3 s, forgotten 2 s later (60 s by default).
    until("the ghosts are forgotten", || workers(&swarm).len() == 1).await;
    until("the real worker has its 4 users again", || {
        let w = workers(&swarm);
        w.len() == 1 && w[0].user_count == 4
    })
    .await;
    swarm.runner.stop().await;
    swarm.runner.quit().await;
    stop.cancel();
    assert_eq!(run.await.unwrap().exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_version_is_admitted_and_reported() {
    let srv = common::start().await;
    let (swarm, port) = master(Admission::default(), &srv).await;
    let mut f = Fake::connect(port, "old_1").await;
    f.say("client_ready", Value::from("0.0.1-not-a-real-version"))
        .await;
    f.expect("ack", Duration::from_secs(5)).await.unwrap();
    let mut g = Fake::connect(port, "new_1").await;
    g.say("client_ready", Value::from("2.47.0")).await;
    g.expect("ack", Duration::from_secs(5)).await.unwrap();
    until("both listed", || workers(&swarm).len() == 2).await;
    let w = workers(&swarm);
    let old = w.iter().find(|w| w.id == "old_1").unwrap();
    assert_eq!(old.version, "0.0.1-not-a-real-version");
    assert!(!old.version_ok);
    assert!(w.iter().find(|w| w.id == "new_1").unwrap().version_ok);
    swarm.runner.quit().await;
}

/// A worker's `spawning_complete` moves the master's users gauge at once, as Locust's
/// master does, not at the next report; a worker claiming more users than it was given,
/// or sending a count that is not one, is believed only up to what it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawning_complete_counts_users_up_to_what_the_worker_was_given() {
    let srv = common::start().await;
    let (swarm, port) = master(Admission::default(), &srv).await;
    let mut f = Fake::admitted(port, "box_1").await;
    swarm.runner.start(3, 100.0, None);
    // The master ramps in steps; wait for the spawn that gives all 3.
    let field = |v: &Value, key: &str| -> Option<Value> {
        let found = v.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))?;
        Some(found.1.clone())
    };
    let given = |m: &Message| {
        field(&m.data, "user_classes_count")
            .and_then(|c| field(&c, "Walker"))
            .and_then(|n| n.as_u64())
    };
    loop {
        let spawn = f.expect("spawn", Duration::from_secs(5)).await.unwrap();
        if given(&spawn) == Some(3) {
            break;
        }
    }
    let classes = |walkers: Value| {
        Value::Map(vec![
            (
                "user_classes_count".into(),
                Value::Map(vec![("Walker".into(), walkers)]),
            ),
            ("user_count".into(), Value::from("many")),
        ])
    };
    f.say("spawning_complete", classes(Value::from(2))).await;
    until("two users counted with no report sent", || {
        swarm.stats.users.total() == 2
    })
    .await;
    f.say("spawning_complete", classes(Value::from(1_000_000)))
        .await;
    until("the claim capped at the 3 it was given", || {
        swarm.stats.users.total() == 3 && workers(&swarm)[0].user_count == 3
    })
    .await;
    f.say("spawning_complete", classes(Value::from("x"))).await;
    until("a count that is not one reads as none", || {
        swarm.stats.users.total() == 0
    })
    .await;
    assert_eq!(swarm.stats.snapshot().await.total.num_requests, 0);
    swarm.runner.quit().await;
}
