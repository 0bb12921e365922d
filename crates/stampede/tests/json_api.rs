//! The `json_api` example against the embedded Hoodie Shop, next to the same test as a
//! locustfile (`bench/locustfile_json_api.py`) under real Locust against the same shop:
//! both run every request name, with no failures.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

/// The request names both tests make.
const NAMES: [&str; 7] = [
    "register",
    "login",
    "products",
    "product",
    "add to cart",
    "order",
    "/api/orders/[id]",
];

/// `(name, requests, failures)` rows of a Locust-format stats CSV, Aggregated left out.
fn rows(csv: &str) -> Vec<(String, u64, u64)> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            let name = cols.get(1)?.trim_matches('"').to_owned();
            (name != "Aggregated")
                .then(|| (name, cols[2].parse().unwrap(), cols[3].parse().unwrap()))
        })
        .collect()
}

fn assert_every_name_without_failures(who: &str, rows: &[(String, u64, u64)], log: &str) {
    for name in NAMES {
        let row = rows.iter().find(|r| r.0 == name);
        assert!(
            row.is_some_and(|r| r.1 > 0),
            "{who}: no '{name}' requests in {rows:?}\n{log}"
        );
    }
    let failed: Vec<_> = rows.iter().filter(|r| r.2 > 0).collect();
    assert!(failed.is_empty(), "{who}: failures in {failed:?}\n{log}");
}

#[test]
fn the_rust_plan_runs_against_the_embedded_shop_with_no_failures() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let out = Command::new(common::example("json_api"))
        .args([
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "--wait-scale",
            "0",
        ])
        .args(["--only-summary", "--csv"])
        .arg(&prefix)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let csv = std::fs::read_to_string(format!("{}_stats.csv", prefix.display())).unwrap();
    assert_every_name_without_failures("json_api", &rows(&csv), &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_locustfile_runs_under_real_locust_with_no_failures() {
    let locust = common::locust();
    let dir = tempfile::tempdir().unwrap();
    let shop = hoodie_shop::start("127.0.0.1:0".parse().unwrap(), &dir.path().join("shop.db"))
        .await
        .unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/locustfile_json_api.py");
    let prefix = dir.path().join("locust");
    let host = shop.url();
    // WAIT_SCALE=0: no waits, as the Rust plan's --wait-scale 0, so every task runs many
    // times (the rarest, `order`, is one pick in eight).
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&locust)
            .arg("-f")
            .arg(&file)
            .args([
                "--headless",
                "--only-summary",
                "-H",
                &host,
                "-u",
                "8",
                "-r",
                "8",
                "-t",
                "8s",
            ])
            .arg("--csv")
            .arg(&prefix)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let csv = std::fs::read_to_string(format!("{}/locust_stats.csv", dir.path().display()))
        .unwrap_or_else(|e| panic!("no CSV ({e}): {log}"));
    assert_every_name_without_failures("Locust", &rows(&csv), &log);
    shop.shutdown().await;
}

#[test]
fn the_rust_plan_is_no_longer_than_the_locustfile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let count = |path: &Path, comment: &str| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(comment))
            .count()
    };
    let rust = count(&root.join("examples/json_api.rs"), "//");
    let python = count(&root.join("../../bench/locustfile_json_api.py"), "#");
    assert!(
        rust <= python,
        "the plan has {rust} lines, the locustfile {python}"
    );
}
