//! What a plan author writes with: `think` and `--wait-scale` (on paused time, users doing
//! no I/O, so every count is exact), expectations, a client's own headers and requests
//! that are futures (against a real HTTP server on loopback), and the funnel's steps.

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::swarm::{Swarm, SwarmConfig};
use stampede::prelude::*;
use tokio::time::Instant;

/// Counts what a thinking user got to: `before` a think, `after` it, and its `on_stop`.
#[derive(Default)]
struct Marks {
    before: AtomicU64,
    after: AtomicU64,
    stopped: AtomicU64,
}

struct Thinker {
    client: Client,
    marks: Arc<Marks>,
    secs: f64,
}

impl Thinker {
    async fn think_between(&mut self) -> TaskResult {
        self.marks.before.fetch_add(1, SeqCst);
        self.client.think(self.secs).await?;
        self.marks.after.fetch_add(1, SeqCst);
        Ok(())
    }
    async fn on_stop(&mut self) {
        self.marks.stopped.fetch_add(1, SeqCst);
    }
}

fn thinker(secs: f64, marks: &Arc<Marks>) -> UserType<Thinker> {
    let marks = marks.clone();
    UserType::new("Thinker", move |ctx| Thinker {
        client: ctx.client(),
        marks: marks.clone(),
        secs,
    })
    .task(task!(Thinker::think_between))
    .on_stop(Thinker::on_stop)
}

fn swarm(plan: &Plan, stop_timeout: Duration, wait_scale: f64) -> Swarm {
    // Nothing listens there: these users make no request.
    let mut cfg = SwarmConfig::new("http://127.0.0.1:9/".parse().unwrap());
    cfg.stop_timeout = stop_timeout;
    cfg.wait_scale = wait_scale;
    plan.swarm(cfg).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_stop_during_a_think_ends_the_task_there_and_runs_on_stop() {
    let marks = Arc::default();
    let plan = Plan::new().user_type(thinker(30.0, &marks).wait_time(constant(1.0)));
    // A long stop timeout: without think's stop the user would sleep out its 30 s.
    let s = swarm(&plan, Duration::from_secs(120), 1.0);
    s.runner.start(1, 100.0, None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        (marks.before.load(SeqCst), marks.after.load(SeqCst)),
        (1, 0)
    );
    let t = Instant::now();
    s.runner.stop().await;
    assert!(
        t.elapsed() < Duration::from_millis(10),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(
        marks.after.load(SeqCst),
        0,
        "the rest of the task was not run"
    );
    assert_eq!(marks.stopped.load(SeqCst), 1, "on_stop ran");
}

/// Records a step each time its task runs, and stops itself after `limit` runs.
struct Stepper {
    client: Client,
    runs: Arc<AtomicU64>,
    limit: u64,
}

impl Stepper {
    async fn step(&mut self) -> TaskResult {
        self.client.think(10.0).await?;
        if self.runs.fetch_add(1, SeqCst) + 1 >= self.limit {
            return Err(TaskError::StopUser);
        }
        Ok(())
    }
}

fn stepper(runs: &Arc<AtomicU64>, limit: u64) -> Plan {
    let runs = runs.clone();
    Plan::new().user_type(
        UserType::new("Stepper", move |ctx| Stepper {
            client: ctx.client(),
            runs: runs.clone(),
            limit,
        })
        .wait_time(constant(10.0))
        .task(task!(Stepper::step)),
    )
}

#[tokio::test(start_paused = true)]
async fn the_wait_scale_scales_thinks_and_waits_alike() {
    // 10 s thinks and 10 s waits at 0.1: a step at 1 s, 3 s, 5 s, ...
    let runs = Arc::default();
    let s = swarm(&stepper(&runs, 1000), Duration::ZERO, 0.1);
    let t0 = Instant::now();
    s.runner.start(1, 100.0, None);
    tokio::time::sleep_until(t0 + Duration::from_millis(9_500)).await;
    assert_eq!(runs.load(SeqCst), 5);
    s.runner.stop().await;

    // At 0 the plan runs flat out: 100 steps without the clock moving.
    let runs = Arc::default();
    let s = swarm(&stepper(&runs, 100), Duration::ZERO, 0.0);
    let t0 = Instant::now();
    s.runner.start(1, 100.0, None);
    while runs.load(SeqCst) < 100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(t0.elapsed(), Duration::ZERO);
    s.runner.stop().await;
}

#[tokio::test]
async fn expectations_name_what_they_expected_and_what_came_back() {
    let srv = common::start().await;
    let (mut c, stats) = common::client(srv.url());
    // Passing expectations, each on its own request.
    c.get("/redirect")
        .expect_redirect_to("/landing")
        .await
        .unwrap();
    c.get("/")
        .expect_text("hello")
        .expect_path(|p| p == "/")
        .await
        .unwrap();
    c.get("/missing").expect_status(404).await.unwrap();

    let reason = |r: TaskResult<Response>| match r {
        Err(TaskError::Request(e)) => e.reason,
        other => panic!("expected a failed request, got {other:?}"),
    };
    assert_eq!(
        reason(
            c.get("/")
                .name("no redirect")
                .expect_redirect_to("/landing")
                .await
        ),
        "expected a redirect to /landing, got 200 OK at /"
    );
    assert_eq!(
        reason(
            c.get("/redirect")
                .name("elsewhere")
                .expect_redirect_to("/")
                .await
        ),
        "expected a redirect to /, got 200 OK at /landing after 1 redirect"
    );
    assert_eq!(
        reason(c.get("/").name("text").expect_text("Thank you").await),
        "expected text \"Thank you\", not in the 5 body bytes of 200 OK at /"
    );
    let path = c.get("/redirect").name("path");
    let line = line!() + 1; // the message names the line of the expectation
    let e = reason(path.expect_path(|p| p.ends_with("/payment/")).await);
    assert_eq!(
        e,
        format!("expected another path (expect_path at writing_plans.rs:{line}), got 200 OK at /landing after 1 redirect")
    );
    assert_eq!(
        reason(c.get("/").name("status").expect_status(201).await),
        "expected status 201, got 200 OK at /"
    );
    // The status rule still holds beside an expectation that is met...
    let e = reason(
        c.get("/missing")
            .name("404")
            .expect_path(|p| p == "/missing")
            .await,
    );
    assert_eq!(e, "HTTPError('404 Client Error: Not Found for url: 404')");

    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!((s.total.num_requests, s.total.num_failures), (9, 6));
}

#[tokio::test]
async fn a_clients_own_headers_go_on_every_request_and_follow_their_cookie() {
    async fn echo(c: &mut Client) -> String {
        c.get("/echo-headers").await.unwrap().text()
    }
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    c.set_header("Authorization", "Bearer t0k3n")
        .header_from_cookie("X-CSRFToken", "csrftoken");

    let before = echo(&mut c).await;
    assert!(
        before.contains(r#""authorization": "Bearer t0k3n""#),
        "{before}"
    );
    assert!(
        !before.contains("x-csrftoken"),
        "no cookie yet, no header: {before}"
    );
    c.get("/set-cookie").await.unwrap();
    let after = echo(&mut c).await;
    assert!(after.contains(r#""x-csrftoken": "abc123""#), "{after}");
    // A request's own header wins over the client's.
    let own = c
        .get("/echo-headers")
        .header("Authorization", "Basic b3du")
        .await
        .unwrap()
        .text();
    assert!(
        own.contains(r#""authorization": "Basic b3du""#) && !own.contains("t0k3n"),
        "{own}"
    );
    c.remove_header("Authorization");
    assert!(!echo(&mut c).await.contains("authorization"));

    // A header HTTP refuses fails each request with its name, until it is removed.
    c.set_header("X-Bad", "two\nlines");
    let Err(TaskError::Request(e)) = c.get("/").await else {
        panic!("an invalid header was sent")
    };
    assert_eq!(
        e.reason,
        "invalid header X-Bad: \"two\\nlines\" is not a valid header value"
    );
    c.remove_header("X-Bad");
    c.get("/").await.unwrap();
}

#[tokio::test]
async fn credentials_stay_on_their_origin_across_redirects() {
    let (site, other) = (common::start().await, common::start().await);
    let (mut c, _stats) = common::client(site.url());
    c.set_header("Authorization", "Bearer secret")
        .set_header("X-Trace", "t1");
    let away = format!("/redirect-to?url={}echo-headers", other.url());
    let there = c
        .get(&away)
        .header("Proxy-Authorization", "Basic cA==")
        .await
        .unwrap();
    let seen = there.text();
    assert!(seen.contains(r#""x-trace": "t1""#), "{seen}");
    assert!(
        !seen.contains("secret") && !seen.contains("cA=="),
        "credentials leaked: {seen}"
    );
    // On the same origin they follow the redirect, as a browser's do.
    let home = c
        .get("/redirect-to?url=/echo-headers")
        .await
        .unwrap()
        .text();
    assert!(
        home.contains(r#""authorization": "Bearer secret""#),
        "{home}"
    );
    // A path is a place on the plan's host: landing elsewhere is not arriving.
    let Err(TaskError::Request(e)) = c.get(&away).expect_redirect_to("/echo-headers").await else {
        panic!("a redirect to another host passed for a path on this one")
    };
    assert_eq!(
        e.reason,
        format!(
            "expected a redirect to /echo-headers, got 200 OK at {}echo-headers after 1 redirect",
            other.url()
        )
    );
}

#[tokio::test]
async fn a_hand_set_cookie_stays_on_its_origin_and_the_jar_speaks_for_the_next() {
    let (site, other) = (common::start().await, common::start().await);
    let (mut c, _stats) = common::client(site.url());
    // The jar's own cookies for the other origin (127.0.0.1, another port: cookies are
    // kept per host, so they are this site's too).
    c.get(format!("{}set-cookie", other.url())).await.unwrap();
    c.set_header("Cookie", "session=plan-client");
    let away = format!("/redirect-to?url={}echo-headers", other.url());
    let seen = c
        .get(&away)
        .header("Cookie", "session=plan-request")
        .header("Authorization", "Bearer secret")
        .await
        .unwrap()
        .text();
    assert!(
        !seen.contains("plan-client") && !seen.contains("plan-request") && !seen.contains("secret"),
        "a hand-set credential followed the redirect: {seen}"
    );
    assert!(
        seen.contains("csrftoken=abc123"),
        "the jar's cookies were not sent: {seen}"
    );
    // On the same origin the request's own Cookie is sent, as it was asked for.
    let home = c
        .get("/redirect-to?url=/echo-headers")
        .header("Cookie", "session=plan-request")
        .await
        .unwrap()
        .text();
    assert!(home.contains("session=plan-request"), "{home}");
}

#[tokio::test]
async fn user_info_in_the_host_is_basic_auth_for_that_origin_only() {
    let (site, other) = (common::start().await, common::start().await);
    let base = format!("http://ann:s%40cret@{}/", site.addr)
        .parse()
        .unwrap();
    let (mut c, _stats) = common::client(base);
    let seen = c.get("/echo-headers").await.unwrap();
    // base64("ann:s@cret")
    assert!(
        seen.text()
            .contains(r#""authorization": "Basic YW5uOnNAY3JldA==""#),
        "{}",
        seen.text()
    );
    assert_eq!(
        seen.url().as_str(),
        format!("{}echo-headers", site.url()),
        "the URL keeps no user info"
    );
    let away = format!("/redirect-to?url={}echo-headers", other.url());
    let there = c.get(&away).await.unwrap().text();
    assert!(!there.contains("authorization"), "{there}");
    let direct = c
        .get(format!("{}echo-headers", other.url()))
        .await
        .unwrap()
        .text();
    assert!(
        !direct.contains("authorization"),
        "sent to another origin: {direct}"
    );
}

#[tokio::test]
async fn every_invalid_header_is_named_until_it_is_removed() {
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    c.set_header("X-One", "a\nb")
        .set_header("X-Two", "a\rb")
        .set_header("", "v");
    let reason = |r: TaskResult<Response>| match r {
        Err(TaskError::Request(e)) => e.reason,
        other => panic!("expected a failed request, got {other:?}"),
    };
    assert_eq!(
        reason(c.get("/").await),
        "invalid header X-One: \"a\\nb\" is not a valid header value"
    );
    c.remove_header("x-one"); // names are not case-sensitive
    assert_eq!(
        reason(c.get("/").await),
        "invalid header X-Two: \"a\\rb\" is not a valid header value"
    );
    c.set_header("X-TWO", "fine");
    assert_eq!(
        reason(c.get("/").await),
        "invalid header : \"v\" is not a valid header name (it is empty)"
    );
    c.remove_header("");
    c.get("/").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_think_too_long_for_a_duration_lasts_until_the_stop() {
    let marks = Arc::default();
    // Were the think to end at once, the user would go round every second.
    let plan = Plan::new().user_type(thinker(2.0, &marks).wait_time(constant(1e-300)));
    let s = swarm(&plan, Duration::from_secs(120), 1e308);
    s.runner.start(1, 100.0, None);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        (marks.before.load(SeqCst), marks.after.load(SeqCst)),
        (1, 0)
    );
    s.runner.stop().await;
    assert_eq!(marks.stopped.load(SeqCst), 1);
}

#[tokio::test]
async fn a_plan_the_command_line_cannot_run_starts_no_default_target() {
    let started = Arc::new(AtomicU64::new(0));
    let counter = started.clone();
    let app = App::new(Plan::new().user_type(thinker(1.0, &Arc::default()))).default_host(
        move |_: &stampede::advanced::config::NoOptions| {
            counter.fetch_add(1, SeqCst);
            async { Ok::<_, String>(("http://127.0.0.1:9".to_owned(), ())) }
        },
    );
    let argv = ["plan", "--headless", "-t", "1s", "Ghost"].map(String::from);
    let outcome = app.run(argv, stampede::CancellationToken::new()).await;
    assert_eq!(outcome.err(), Some(2), "an unknown user type is bad usage");
    assert_eq!(started.load(SeqCst), 0, "and no target was started for it");
}

stampede::funnel! {
    STEPS = [FIRST = "1 first", SECOND = "2 second"]
}

#[test]
fn a_funnel_with_a_step_out_of_place_is_refused_when_the_run_starts() {
    let plan = |steps: Vec<Step>| {
        Plan::new()
            .user_type(
                UserType::new("U", |ctx: &UserContext| ctx.user_id())
                    .task(Task::new("t", |_: &mut u64| async {})),
            )
            .funnel(steps)
    };
    let cfg = || SwarmConfig::new("http://127.0.0.1:9/".parse().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    assert!(plan(STEPS.to_vec()).swarm(cfg()).is_ok());
    let err = plan(vec![SECOND, FIRST])
        .swarm(cfg())
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "the plan is inconsistent: funnel step '2 second' says it is step 2, but the funnel lists it as step 1"
    );
}

#[tokio::test]
async fn extract_hands_back_a_value_or_fails_the_request_naming_what_was_missing() {
    let srv = common::start().await;
    let (mut c, stats) = common::client(srv.url());
    let token = c
        .get("/form")
        .name("form")
        .extract(|r| r.form_field("csrfmiddlewaretoken"))
        .await
        .unwrap();
    assert_eq!(token, "tok-123");
    let link: String = c
        .get("/form")
        .name("form")
        .extract(|r| r.regex(r#"href="(/p/\d+/)""#))
        .await
        .unwrap();
    assert_eq!(link, "/p/1/");
    let missing = c
        .get("/form")
        .name("form")
        .extract(|r| r.json_path::<String>("token"))
        .await
        .unwrap_err();
    assert!(
        missing
            .reason
            .starts_with("could not extract: the body is not JSON"),
        "{}",
        missing.reason
    );
    // The status rule stays: a 500 fails as a 500, and the extractor does not run.
    let failed = c
        .get("/fail")
        .extract(|_| -> Result<(), String> { panic!("ran on a failed response") })
        .await
        .unwrap_err();
    assert!(
        failed.reason.starts_with("HTTPError('500"),
        "{}",
        failed.reason
    );
    c.recorder().flush();
    let s = stats.snapshot().await;
    let form = &s.entries[&("form".to_owned(), "GET".to_owned())];
    assert_eq!((form.num_requests, form.num_failures), (3, 1));
}

#[tokio::test]
async fn credentials_stay_off_a_chain_that_left_its_origin_even_when_it_comes_back() {
    let (site, other) = (common::start().await, common::start().await);
    let (mut c, _stats) = common::client(site.url());
    c.set_header("Authorization", "Bearer secret");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // site -> other -> back to site, on a path the other site chose.
    let back = format!("{}echo-headers", site.url());
    let via_other = format!("{}redirect-to?url={}", other.url(), enc(&back));
    let seen = c
        .get(format!("/redirect-to?url={}", enc(&via_other)))
        .await
        .unwrap();
    assert_eq!(seen.redirects(), 2);
    assert!(!seen.text().contains("secret"), "{}", seen.text());
    // The chain is kept, hop by hop: each redirect's status, URL and Location.
    let hops: Vec<(u16, String, String)> = seen
        .history()
        .iter()
        .map(|h| {
            let location = h
                .header_pairs()
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v)
                .unwrap_or_default();
            (h.status().as_u16(), h.url().to_string(), location)
        })
        .collect();
    assert_eq!(hops.len(), 2, "{hops:?}");
    assert!(
        hops[0].1.starts_with(site.url().as_str()) && hops[0].2 == via_other,
        "{hops:?}"
    );
    assert!(
        hops[1].1.starts_with(other.url().as_str()) && hops[1].2 == back,
        "{hops:?}"
    );
    assert!(hops.iter().all(|h| (300..400).contains(&h.0)), "{hops:?}");
}
