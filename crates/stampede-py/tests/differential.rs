//! The same locustfile under real Locust 2.47 and under `stampede`, against the same
//! Hoodie Shop: deterministic files (one user, seeded choices, no waits, the user ends
//! itself) must give equal per-name counts, failure texts and exception counts.

mod common;

use common::*;

/// Runs `file` under both and compares what both CSV reports say.
fn same_under_both(file: &str) {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let file = locustfile(file);
    let args = ["-u", "1", "-r", "1", "-t", "4s"];
    let theirs = dir.path().join("locust");
    let ours = dir.path().join("stampede");
    let l = run_headless(&locust(), &file, &shop.url, &theirs, &args);
    let s = run_headless(&stampede(), &file, &shop.url, &ours, &args);
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
}

#[test]
fn an_http_user_counts_as_under_locust() {
    same_under_both("basic_http.py");
}

#[test]
fn a_fast_http_user_counts_as_under_locust() {
    same_under_both("basic_fast.py");
}
