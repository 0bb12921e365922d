//! The same locustfile under real Locust 2.47 and under `stampede`, against the same
//! Hoodie Shop: deterministic files (one user, seeded choices, no waits, the user ends
//! itself) must give equal per-name counts, failure texts and exception counts.

mod common;

use common::*;

/// Runs `file` under both and compares what both CSV reports say.
fn same_under_both(file: &str) {
    same_under_both_noting(file, &[]);
}

/// [`same_under_both`]; each run gets `$EVENTS_OUT`, a file its listeners write to, and
/// the two files' texts are returned (Locust's, Stampede's).
fn same_under_both_noting(file: &str, extra: &[&str]) -> (String, String) {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let file = locustfile(file);
    let args: Vec<&str> = ["-u", "1", "-r", "1", "-t", "4s"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let theirs = dir.path().join("locust");
    let ours = dir.path().join("stampede");
    let (l_out, s_out) = (
        dir.path().join("locust.out"),
        dir.path().join("stampede.out"),
    );
    let l = run_headless_env(
        &locust(),
        &file,
        &shop.url,
        &theirs,
        &args,
        &[("EVENTS_OUT", &l_out)],
    );
    let s = run_headless_env(
        &stampede(),
        &file,
        &shop.url,
        &ours,
        &args,
        &[("EVENTS_OUT", &s_out)],
    );
    assert_eq!(
        l.status.code(),
        s.status.code(),
        "exit codes differ (left: Locust)"
    );
    let stderr = String::from_utf8_lossy(&s.stderr);
    assert_eq!(
        stats(&theirs),
        stats(&ours),
        "per-name counts differ (left: Locust, right: Stampede)\nLocust stderr:\n{}\nStampede stderr:\n{stderr}",
        String::from_utf8_lossy(&l.stderr)
    );
    assert_eq!(failures(&theirs), failures(&ours), "failure texts differ");
    assert_eq!(exceptions(&theirs), exceptions(&ours), "exceptions differ");
    assert!(!stats(&ours).is_empty(), "no request was made");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    (read(&l_out), read(&s_out))
}

#[test]
fn an_http_user_counts_as_under_locust() {
    same_under_both("basic_http.py");
}

#[test]
fn a_fast_http_user_counts_as_under_locust() {
    same_under_both("basic_fast.py");
}

#[test]
fn events_fire_in_locusts_order_and_a_hand_reported_request_is_counted() {
    let (theirs, ours) = same_under_both_noting("events_order.py", &[]);
    assert!(
        theirs.starts_with("init LocalRunner\ntest_start\n"),
        "{theirs}"
    );
    assert_eq!(
        theirs, ours,
        "the listeners saw different events (left: Locust)"
    );
}

/// Locust's lifecycle lines (`[time] host/LEVEL/logger: message`), without time and host.
fn lifecycle_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('[')?.split_once("] ")?.1;
            let (_host, msg) = rest.split_once('/')?;
            msg.starts_with("INFO/locust.").then(|| msg.to_owned())
        })
        .collect()
}

/// Runs `file` under both with `args`; their lifecycle lines must be equal.
fn same_lifecycle_lines(file: &str, args: &[&str]) -> Vec<String> {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let file = locustfile(file);
    let l = run_headless(&locust(), &file, &shop.url, &dir.path().join("l"), args);
    let s = run_headless(&stampede(), &file, &shop.url, &dir.path().join("s"), args);
    let theirs = lifecycle_lines(&l.stderr);
    assert!(theirs.len() >= 5, "{theirs:?}");
    assert_eq!(theirs, lifecycle_lines(&s.stderr), "left: Locust's lines");
    assert_eq!(
        l.status.code(),
        s.status.code(),
        "exit codes (left: Locust)"
    );
    theirs
}

#[test]
fn the_log_lines_scripts_read_are_locusts() {
    same_lifecycle_lines("plain_fast.py", &["-u", "2", "-r", "2", "-t", "2s"]);
}

#[test]
fn a_load_test_shape_in_the_locustfile_drives_the_users_as_under_locust() {
    let lines = same_lifecycle_lines("shape_steps.py", &[]);
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("Shape test updating to 4 users at 50.00 spawn rate")),
        "{lines:?}"
    );
}

#[test]
fn tags_pick_tasks_as_under_locust() {
    same_under_both_noting("tags.py", &["--tags", "a"]);
    same_under_both_noting("tags.py", &["--exclude-tags", "a"]);
}

#[test]
fn on_stop_runs_and_sends_its_request_when_the_run_ends() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s");
    let out = run_headless(
        &stampede(),
        &locustfile("logout_on_stop.py"),
        &shop.url,
        &csv,
        &["-u", "2", "-r", "10", "-t", "2s"],
    );
    let rows = stats(&csv);
    let logout = rows.get(&("POST".to_owned(), "logout".to_owned()));
    assert_eq!(
        logout.map(|r| r.0),
        Some(2),
        "{rows:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_request_without_any_response_keeps_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let args = ["-u", "1", "-r", "1", "-t", "2s"];
    let file = locustfile("unreachable.py");
    let (l, s) = (dir.path().join("l"), dir.path().join("s"));
    run_headless(&locust(), &file, &closed, &l, &args);
    run_headless(&stampede(), &file, &closed, &s, &args);
    let names = |csv| stats(csv).into_keys().collect::<Vec<_>>();
    assert_eq!(names(&l), names(&s), "left: Locust");
    let errors = |csv| {
        failures(csv)
            .into_keys()
            .map(|(_, _, e)| e)
            .collect::<Vec<_>>()
    };
    assert_eq!(errors(&l), errors(&s), "left: Locust's failure texts");
}

/// Sessions built by hand outside any user (at `init`, in `test_start`) send before any
/// user runs and after the last: counted as under Locust, failures included. Locust
/// writes its CSV before `test_stop`, so its `teardown` row is only in its final table;
/// Stampede's CSV has it too (every request that left the machine is in the report).
#[test]
fn sessions_built_outside_any_user_send_and_count_as_under_locust() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let file = locustfile("outside_users.py");
    let args = ["-u", "1", "-r", "1", "-t", "3s"];
    let (theirs, ours) = (dir.path().join("locust"), dir.path().join("stampede"));
    let l = run_headless(&locust(), &file, &shop.url, &theirs, &args);
    let s = run_headless(&stampede(), &file, &shop.url, &ours, &args);
    let stderr = String::from_utf8_lossy(&s.stderr);
    assert_eq!(l.status.code(), s.status.code(), "{stderr}");
    let mut ours_but_teardown = stats(&ours);
    let teardown = ours_but_teardown.remove(&("GET".to_owned(), "teardown".to_owned()));
    assert_eq!(teardown, Some((1, 0)), "{stderr}");
    assert_eq!(stats(&theirs), ours_but_teardown, "{stderr}");
    assert!(
        String::from_utf8_lossy(&l.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&l.stdout).lines())
            .any(|line| line.starts_with("GET") && line.contains(" teardown ")),
        "Locust's final table has the teardown request too"
    );
    assert_eq!(failures(&theirs), failures(&ours));
}

/// `response.history` lists each redirect followed (status, URL, headers, request) as
/// requests keeps them, and nothing when redirects are not followed.
#[test]
fn response_history_lists_each_redirect_as_under_locust() {
    let (theirs, ours) = same_under_both_noting("history.py", &[]);
    assert!(theirs.contains("history=[(301, "), "{theirs}");
    assert_eq!(theirs, ours);
}
