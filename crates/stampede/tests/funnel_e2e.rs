//! The workshop's user funnel, run as the README runs it (the example binary, headless,
//! against the embedded Hoodie Shop), checked against the shop's own database.

mod common;

use std::process::Command;

use common::example;

use serde_json::Value;

struct Run {
    report: Value,
    users: i64,
    orders: i64,
    stdout: String,
    code: i32,
}

fn run_funnel(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let db = dir.path().join("shop.db");
    let out = Command::new(example("user_funnel"))
        .args(args)
        .args([
            "--headless",
            "--only-summary",
            "--report-json",
            report.to_str().unwrap(),
            "--shop-db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        report.exists(),
        "no report; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let (users, orders) = hoodie_shop::Db::open(&db).unwrap().counts().unwrap();
    Run {
        report,
        users,
        orders,
        stdout,
        code: out.status.code().unwrap_or(-1),
    }
}

fn successes(report: &Value, method: &str, name: &str) -> i64 {
    let rows = report["requests"].as_array().unwrap();
    rows.iter()
        .filter(|r| r["name"] == name && r["method"] == method)
        .map(|r| r["num_requests"].as_i64().unwrap() - r["num_failures"].as_i64().unwrap())
        .sum()
}

fn check_common(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.report["total"]["num_failures"], 0, "{}", run.stdout);
    assert_eq!(
        run.report["exceptions"].as_array().unwrap().len(),
        0,
        "{}",
        run.stdout
    );
    // The database agrees with the client: a user per successful signup, an order per
    // summary POST that reached the payment page.
    assert_eq!(
        run.users,
        successes(&run.report, "POST", "/account/signup/"),
        "users vs signups"
    );
    assert_eq!(
        run.orders,
        successes(&run.report, "POST", "8 /checkout/summary/"),
        "orders vs summary posts"
    );
}

#[test]
fn funnel_flat_out_matches_weights_and_the_database() {
    // Bounded: 20 users for 6 s; the stop timeout lets every running task finish so no
    // request is cut between the shop committing and the client counting.
    let run = run_funnel(&[
        "-u",
        "20",
        "-r",
        "20",
        "-t",
        "6s",
        "-s",
        "30s",
        "--wait-scale",
        "0",
    ]);
    check_common(&run);
    let funnel = run.report["funnel"].as_array().unwrap();
    assert_eq!(funnel.len(), 9);
    for step in funnel {
        assert!(
            step["count"].as_i64().unwrap() > 0,
            "funnel step {} never ran",
            step["name"]
        );
    }
    assert_eq!(run.report["user_types"][0]["users"], 16);
    assert_eq!(run.report["user_types"][1]["users"], 4);
    assert_eq!(run.users, 4, "each ReturningUser registered once");
    // Task mix against declared weights: binomial tolerance of five standard deviations.
    for t in run.report["tasks"].as_array().unwrap() {
        let p = t["declared_ratio"].as_f64().unwrap();
        let n: f64 = run.report["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["user_type"] == t["user_type"])
            .map(|x| x["runs"].as_f64().unwrap())
            .sum();
        assert!(n >= 200.0, "too few runs of {} to judge", t["user_type"]);
        let tol = 5.0 * (p * (1.0 - p) / n).sqrt();
        let got = t["observed_ratio"].as_f64().unwrap();
        assert!(
            (got - p).abs() <= tol,
            "{} {}: observed {got:.3} declared {p:.3} (n={n})",
            t["user_type"],
            t["task"]
        );
    }
}

#[test]
fn funnel_with_the_workshops_think_times() {
    // The default think scale: 5-9 s between tasks and 30 s filling the address form, so in
    // 8 s each user runs one or two tasks; the stop timeout lets started checkouts finish.
    let run = run_funnel(&["-u", "10", "-r", "10", "-t", "8s", "-s", "60s"]);
    check_common(&run);
    assert_eq!(run.users, 2, "both ReturningUsers registered");
    assert!(
        successes(&run.report, "GET", "1 home") >= 8,
        "{}",
        run.stdout
    );
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let report = dir.path().join("report.json");
    let mut child = Command::new(example("user_funnel"))
        .args([
            "--headless",
            "--only-summary",
            "-u",
            "5",
            "-r",
            "50",
            "-t",
            "10m",
            "--wait-scale",
            "0",
        ])
        .args([
            "--csv",
            prefix.to_str().unwrap(),
            "--report-json",
            report.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Bounded wait: the run must end well before its 10 minutes.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the run ignored Ctrl-C");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let stats = std::fs::read_to_string(format!("{}_stats.csv", prefix.display())).unwrap();
    let aggregated = stats.lines().last().unwrap();
    let count: u64 = aggregated.split(',').nth(2).unwrap().parse().unwrap();
    assert!(
        aggregated.starts_with(",Aggregated,") && count > 100,
        "{aggregated}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["total"]["num_requests"].as_u64().unwrap(), count);
}
