//! `--processes N`: the locustfile's users run in N forked worker processes under a local
//! master, and the master's report sums them exactly: what the target counted lies between
//! the requests answered and the server hits (those plus the ones the run's end cut off).

mod common;

use common::*;

#[test]
fn forked_workers_report_every_request_the_target_counted() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("procs");
    let json = dir.path().join("report.json");
    let out = run_headless(
        &stampede(),
        &locustfile("plain_fast.py"),
        &target.url,
        &csv,
        &[
            "--processes",
            "2",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "3s",
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("Starting Locust").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("joining the master").count(), 2, "{stderr}");
    let rows = stats(&csv);
    let answered: u64 = rows.values().map(|(n, _)| n).sum();
    assert!(answered > 100, "{rows:?}");
    let report = std::fs::read_to_string(&json).unwrap();
    let hits = report
        .split("\"server_hits\":")
        .last()
        .and_then(|s| s.trim_start().split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no server_hits in {report}"));
    assert!(
        hits >= answered && hits - answered <= 4,
        "at most one request per user cut off by the end: {hits} hits, {answered} answered"
    );
    // Every answered request reached the target; one the run's end cut off may or may not
    // have been read by it before the worker's connection closed (the server counts in its
    // handler), so the target's count lies between the two, and nothing is unaccounted for.
    let seen = target.hits();
    assert!(
        answered <= seen && seen <= hits,
        "the target counted {seen}; the report says {answered} answered, {hits} server hits"
    );
}
