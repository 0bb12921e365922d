//! The runner against a real server: weights, spawn rate, changing the target, stop timeout,
//! and tasks that fail, panic or stop their user.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stampede::advanced::swarm::{Swarm, SwarmConfig};
use stampede::prelude::*;

struct U {
    client: Client,
}

impl U {
    fn new(ctx: &UserContext) -> Self {
        U {
            client: ctx.client(),
        }
    }
    async fn a(&mut self) -> TaskResult {
        self.client.get("/").name("a").send().await?;
        Ok(())
    }
    async fn b(&mut self) -> TaskResult {
        self.client.get("/").name("b").send().await?;
        Ok(())
    }
    async fn c(&mut self) -> TaskResult {
        self.client.get("/").name("c").send().await?;
        Ok(())
    }
    async fn fails(&mut self) -> TaskResult {
        let n: i32 = "not a number".parse()?;
        let _ = n;
        Ok(())
    }
    async fn panics(&mut self) -> TaskResult {
        let v: Vec<u8> = Vec::new();
        if v.is_empty() {
            panic!("the task blew up");
        }
        Ok(())
    }
}

fn swarm(plan: &Plan, url: url::Url, stop_timeout: Duration) -> Swarm {
    let mut cfg = SwarmConfig::new(url);
    cfg.stop_timeout = stop_timeout;
    plan.swarm(cfg).unwrap()
}

async fn wait_for(mut cond: impl FnMut() -> bool, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_weights_hold_within_tolerance() {
    let srv = common::start().await;
    let plan = Plan::new().user_type(
        UserType::new("U", U::new)
            .task(task!(6, U::a))
            .task(task!(3, U::b))
            .task(task!(1, U::c)),
    );
    let s = swarm(&plan, srv.url(), Duration::ZERO);
    s.runner.start(4, 100.0, None);
    // Bounded: at most 3 s, stopping once 3000 tasks ran.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && s.stats.summary().await.total.num_requests < 3000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.runner.stop().await;
    let st = s.stats.snapshot().await;
    let runs = |t: &str| {
        st.task_runs
            .get(&("U".into(), (*t).into()))
            .copied()
            .unwrap_or(0) as f64
    };
    let total = runs("a") + runs("b") + runs("c");
    assert!(total >= 1000.0, "only {total} task runs");
    for (t, w) in [("a", 0.6), ("b", 0.3), ("c", 0.1)] {
        let share = runs(t) / total;
        // Five standard deviations of a binomial share: fails by chance about once in 3.5 million.
        let tol = 5.0 * (w * (1.0 - w) / total).sqrt();
        assert!(
            (share - w).abs() < tol,
            "task {t}: share {share:.3}, weight {w}, tolerance {tol:.3}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_type_weights_split_the_swarm() {
    let srv = common::start().await;
    let plan = Plan::new()
        .user_type(
            UserType::new("Visitor", U::new)
                .weight(80)
                .wait_time(constant(0.05))
                .task(task!(U::a)),
        )
        .user_type(
            UserType::new("ReturningUser", U::new)
                .weight(20)
                .wait_time(constant(0.05))
                .task(task!(U::b)),
        );
    let s = swarm(&plan, srv.url(), Duration::ZERO);
    assert_eq!(s.users_by_type(10), vec![8, 2]);
    s.runner.start(10, 1000.0, None);
    assert!(wait_for(|| s.runner.user_count() == 10, Duration::from_secs(5)).await);
    assert_eq!(
        s.stats.users.by_type(),
        vec![("Visitor".into(), 8), ("ReturningUser".into(), 2)]
    );
    s.runner.stop().await;
    assert_eq!(s.runner.user_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_panicking_tasks_are_recorded_and_the_user_goes_on() {
    let srv = common::start().await;
    let plan = Plan::new().user_type(
        UserType::new("U", U::new)
            .wait_time(constant(0.01))
            .sequential()
            .task(task!(U::fails))
            .task(task!(U::panics))
            .task(task!(U::a)),
    );
    let s = swarm(&plan, srv.url(), Duration::ZERO);
    s.runner.start(1, 1.0, None);
    assert!(
        wait_for(|| srv.hits.get("/") >= 3, Duration::from_secs(5)).await,
        "the user stopped after a failure"
    );
    s.runner.stop().await;
    let st = s.stats.snapshot().await;
    let by_msg = |m: &str| st.exceptions.values().find(|e| e.msg.contains(m)).cloned();
    let err = by_msg("invalid digit").expect("the parse error is recorded");
    assert!(err.count >= 3, "{err:?}");
    assert!(
        err.traceback.starts_with("U.fails at ") && err.traceback.contains("tests/runner.rs"),
        "{}",
        err.traceback
    );
    let p = by_msg("panic: the task blew up").expect("the panic is recorded");
    assert!(
        p.traceback.starts_with("U.panics at ") && p.traceback.contains("runner.rs"),
        "{}",
        p.traceback
    );
    assert!(st.task_runs[&("U".into(), "a".into())] >= 3);
}

static STARTS: AtomicU64 = AtomicU64::new(0);
static STOPS: AtomicU64 = AtomicU64::new(0);

struct Once {
    client: Client,
}

impl Once {
    async fn start(&mut self) -> TaskResult {
        STARTS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    async fn work(&mut self) -> TaskResult {
        self.client.get("/").send().await?;
        Err(TaskError::StopUser)
    }
    async fn stop(&mut self) -> TaskResult {
        STOPS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_user_ends_the_user_after_on_stop() {
    let srv = common::start().await;
    let plan = Plan::new().user_type(
        UserType::new("Once", |ctx| Once {
            client: ctx.client(),
        })
        .on_start(Once::start)
        .on_stop(Once::stop)
        .task(task!(Once::work)),
    );
    let s = swarm(&plan, srv.url(), Duration::ZERO);
    s.runner.start(3, 100.0, None);
    assert!(wait_for(|| STOPS.load(Ordering::SeqCst) == 3, Duration::from_secs(3)).await);
    assert!(wait_for(|| s.runner.user_count() == 0, Duration::from_secs(3)).await);
    assert_eq!(STARTS.load(Ordering::SeqCst), 3);
    assert_eq!(srv.hits.get("/"), 3, "each user ran its task exactly once");
    s.runner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_pick_tasks_and_unknown_names_are_refused() {
    let srv = common::start().await;
    let plan = Plan::new().user_type(
        UserType::new("U", U::new)
            .wait_time(constant(0.01))
            .task(task!(U::a).tag("x"))
            .task(task!(U::b)),
    );
    let mut cfg = SwarmConfig::new(srv.url());
    cfg.tags = vec!["x".into()];
    let s = plan.swarm(cfg).unwrap();
    s.runner.start(1, 1.0, None);
    assert!(wait_for(|| srv.hits.get("/") >= 5, Duration::from_secs(3)).await);
    s.runner.stop().await;
    let st = s.stats.snapshot().await;
    assert!(
        st.task_runs.keys().all(|(_, t)| &**t == "a"),
        "{:?}",
        st.task_runs
    );

    let mut cfg = SwarmConfig::new(srv.url());
    cfg.tags = vec!["nope".into()];
    let err = plan.swarm(cfg).err().unwrap();
    assert_eq!(
        err.to_string(),
        "unknown tag 'nope'; the plan's tasks are tagged: x"
    );
    let mut cfg = SwarmConfig::new(srv.url());
    cfg.user_types = vec!["Ghost".into()];
    assert_eq!(
        plan.swarm(cfg).err().unwrap().to_string(),
        "unknown user type 'Ghost'; this plan has: U"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_listeners_see_every_request() {
    static SEEN: AtomicU64 = AtomicU64::new(0);
    static FAILED: AtomicU64 = AtomicU64::new(0);
    let srv = common::start().await;
    let plan = Plan::new()
        .user_type(
            UserType::new("U", U::new)
                .wait_time(constant(0.01))
                .task(task!(U::a)),
        )
        .on_request(|e| {
            SEEN.fetch_add(1, Ordering::SeqCst);
            if e.error.is_some() || e.status != Some(200) || e.name != "a" {
                FAILED.fetch_add(1, Ordering::SeqCst);
            }
        });
    let s = swarm(&plan, srv.url(), Duration::ZERO);
    s.runner.start(2, 100.0, None);
    assert!(wait_for(|| SEEN.load(Ordering::SeqCst) >= 10, Duration::from_secs(3)).await);
    s.runner.stop().await;
    // A request cut off by the stop (no stop timeout) reached the server but was never
    // answered: listeners see completed requests, the statistics count the unanswered.
    let unanswered = s.stats.summary().await.total.num_unanswered;
    let seen = SEEN.load(Ordering::SeqCst);
    assert_eq!(
        seen + unanswered,
        srv.hits.settled_at("/", seen + unanswered).await
    );
    assert_eq!(FAILED.load(Ordering::SeqCst), 0);
}

/// A user whose `on_start` logs in against `/fail` (a 500): Locust's failed login.
struct LogsIn {
    client: Client,
}

static LOGIN_STOPS: AtomicU64 = AtomicU64::new(0);
static LOGIN_ERRORS: AtomicU64 = AtomicU64::new(0);

impl LogsIn {
    async fn log_in(&mut self) -> TaskResult {
        self.client.get("/fail").name("login").send().await?;
        Ok(())
    }
    async fn browse(&mut self) -> TaskResult {
        self.client.get("/").name("browse").send().await?;
        Ok(())
    }
    async fn stop(&mut self) -> TaskResult {
        LOGIN_STOPS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn logs_in(keep_going: bool) -> Plan {
    let mut t = UserType::new("LogsIn", |ctx| LogsIn {
        client: ctx.client(),
    })
    .wait_time(constant(0.01))
    .on_start(LogsIn::log_in)
    .on_stop(LogsIn::stop)
    .task(task!(LogsIn::browse));
    if keep_going {
        t = t.keep_going_after_on_start_error();
    }
    Plan::new().user_type(t).on_user_error(|e| {
        assert_eq!((e.user_type, e.task), ("LogsIn", "on_start"));
        assert!(e.message.contains("GET login"), "{}", e.message);
        LOGIN_ERRORS.fetch_add(1, Ordering::SeqCst);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_on_start_stops_its_user_without_on_stop_as_in_locust() {
    let srv = common::start().await;
    let s = swarm(&logs_in(false), srv.url(), Duration::ZERO);
    s.runner.start(3, 100.0, None);
    assert!(
        wait_for(
            || LOGIN_ERRORS.load(Ordering::SeqCst) == 3,
            Duration::from_secs(5)
        )
        .await
    );
    assert!(wait_for(|| s.runner.user_count() == 0, Duration::from_secs(5)).await);
    s.runner.stop().await;
    assert_eq!(srv.hits.get("/fail"), 3);
    assert_eq!(
        srv.hits.get("/"),
        0,
        "a user whose login failed ran its tasks"
    );
    assert_eq!(
        LOGIN_STOPS.load(Ordering::SeqCst),
        0,
        "on_stop ran after a failed on_start"
    );
    let st = s.stats.snapshot().await;
    let e = st
        .exceptions
        .values()
        .find(|e| {
            e.msg
                .starts_with("on_start failed: GET login: HTTPError('500")
        })
        .unwrap_or_else(|| panic!("{:?}", st.exceptions));
    assert_eq!((e.count, e.traceback.as_str()), (3, "LogsIn.on_start"));

    // Opted out: the users go on to their tasks.
    let s = swarm(&logs_in(true), srv.url(), Duration::ZERO);
    s.runner.start(1, 100.0, None);
    assert!(wait_for(|| srv.hits.get("/") >= 3, Duration::from_secs(5)).await);
    s.runner.stop().await;
    assert_eq!(LOGIN_ERRORS.load(Ordering::SeqCst), 4);
}
