//! Telemetry against the real things: Prometheus (Debian's package, which `scripts/test`
//! installs) scraping a running Stampede. (The OTLP receiver: `tests/telemetry_otlp.rs`.)
//! The reference counts are the run's own report and the target's own log (nginx's, for
//! Prometheus).

mod common;
#[path = "conformance/servers.rs"]
#[allow(dead_code)]
mod servers;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::running::{metric_sum, Running};
use serde_json::Value;

/// A real Prometheus scraping `target` every 300 ms with Basic auth `user:pass`.
struct Prometheus {
    child: Child,
    base: url::Url,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: &str, auth: (&str, &str)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 300ms\n  scrape_timeout: 290ms\nscrape_configs:\n  - job_name: stampede\n    basic_auth:\n      username: {}\n      password: {}\n    static_configs:\n      - targets: ['{target}']\n",
                auth.0, auth.1
            ),
        )
        .unwrap();
        // Prometheus cannot bind port 0 and say which it got: a probed port, retried.
        for _ in 0..5 {
            let port = common::probed_port();
            let child = Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("prometheus is installed (scripts/test installs Debian's package)");
            let base: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
            let mut p = Self {
                child,
                base,
                _dir: tempfile::tempdir().unwrap(),
            };
            if p.ready().await {
                p._dir = dir;
                return p;
            }
        }
        panic!("prometheus did not start");
    }

    async fn ready(&mut self) -> bool {
        let (mut c, _) = common::client(self.base.clone());
        for _ in 0..150 {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(r) = c.get("/-/ready").send().await {
                if r.status() == 200 {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// `/api/v1/<api>` with `params`: the JSON answer's `data`.
    async fn api(&self, api: &str, params: &[(&str, &str)]) -> Value {
        let mut url = self.base.join(&format!("api/v1/{api}")).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        let (mut c, _) = common::client(self.base.clone());
        let r = c.get(url.as_str().to_owned()).send().await.unwrap();
        let v: Value = r.json().unwrap();
        assert_eq!(v["status"], "success", "{api} {params:?}: {v}");
        v["data"].clone()
    }

    /// The value of an instant query that yields one number (NaN for none).
    async fn number(&self, query: &str) -> f64 {
        let data = self.api("query", &[("query", query)]).await;
        data["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Waits (at most 30 s) until `query` reads `want`; returns what it read last.
    async fn until(&self, query: &str, want: f64) -> f64 {
        let mut got = f64::NAN;
        for _ in 0..300 {
            got = self.number(query).await;
            if got == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The web UI's JSON at `path` (Basic auth u:p).
async fn ui_json(c: &mut stampede::Client, path: &str) -> Value {
    c.get(path.to_owned())
        .header("authorization", "Basic dTpw")
        .send()
        .await
        .unwrap()
        .json()
        .unwrap()
}

async fn ui_post(c: &mut stampede::Client, path: &str, form: &[(&str, &str)]) -> Value {
    c.post(path.to_owned())
        .header("authorization", "Basic dTpw")
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .unwrap_or(Value::Null)
}

/// Starts a test in the UI (`POST /swarm`) and checks the UI took it.
async fn start_test(c: &mut stampede::Client, users: &str, rate: &str, run_time: &str) {
    let form = [
        ("user_count", users),
        ("spawn_rate", rate),
        ("run_time", run_time),
    ];
    let ok = ui_post(c, "/swarm", &form).await;
    assert_eq!(ok["success"], true, "{ok}");
}

async fn until_stopped(c: &mut stampede::Client) {
    for _ in 0..600 {
        if ui_json(c, "/stats/requests").await["state"] == "stopped" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the test never stopped");
}

/// The UI's `/metrics`, scraped by Prometheus with the UI's own Basic auth: Prometheus's
/// totals equal the report's; a reset and a new test do not lower them (Prometheus sees
/// no counter reset), and they then equal what the target, a real nginx, logged; and
/// every panel of the Grafana dashboard returns data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_the_reports_totals_and_counters_never_drop() {
    let nginx = servers::nginx(None);
    let host = format!("{}/", nginx.url());
    let mut run = Running::start(&["-H", &host, "-P", "0", "--web-auth", "u:p"], &[]);
    let ui = run.line_after("Stampede web UI at ");
    let ui: url::Url = ui.trim().parse().unwrap();
    let target = format!("127.0.0.1:{}", ui.port().unwrap());
    let prom = Prometheus::start(&target, ("u", "p")).await;
    let mut c = common::client(ui.clone()).0;
    let started = stampede::advanced::stats::unix_now();

    // One test, no reset: Prometheus's totals are the report's.
    start_test(&mut c, "2", "10", "2s").await;
    until_stopped(&mut c).await;
    let report = ui_json(&mut c, "/stats/report.json").await;
    let total = &report["total"];
    let (requests, failures) = (
        total["num_requests"].as_f64().unwrap(),
        total["num_failures"].as_f64().unwrap(),
    );
    assert!(requests > 0.0, "{report}");
    let got = prom.until("sum(stampede_requests_total)", requests).await;
    assert_eq!(
        got, requests,
        "Prometheus's request total against the report's"
    );
    assert_eq!(prom.number("sum(stampede_failures_total)").await, failures);
    let hist = prom
        .until("sum(stampede_request_duration_seconds_count)", requests)
        .await;
    assert_eq!(hist, requests, "the histogram counts every request");
    assert_eq!(
        prom.number(r#"sum(stampede_request_duration_seconds_bucket{le="+Inf"})"#)
            .await,
        requests
    );
    assert_eq!(
        prom.until(r#"stampede_state{state="stopped"}"#, 1.0).await,
        1.0
    );

    // A second test, reset in its middle: the counters go on from the first test's.
    start_test(&mut c, "2", "10", "3s").await;
    for _ in 0..100 {
        if ui_json(&mut c, "/stats/requests").await["total_rps"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ui_post(&mut c, "/stats/reset", &[]).await;
    until_stopped(&mut c).await;
    // nginx logs requests cut off by the test's end too: Stampede's unanswered.
    let served = tokio::task::block_in_place(|| nginx.log().total()) as f64;
    let both = "sum(stampede_requests_total) + sum(stampede_unanswered_total)";
    let got = prom.until(both, served).await;
    assert_eq!(
        got, served,
        "both tests, the reset included, against the target's own count"
    );
    assert_eq!(
        prom.number("sum(resets(stampede_requests_total[1m]))")
            .await,
        0.0,
        "Prometheus saw a counter go down"
    );

    // Every panel of the dashboard has data for the run.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/stampede.json")).unwrap(),
    )
    .unwrap();
    let end = stampede::advanced::stats::unix_now();
    let (start, end) = (format!("{started}"), format!("{end}"));
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "2s")
                .replace("$job", "stampede");
            let data = prom
                .api(
                    "query_range",
                    &[
                        ("query", &expr),
                        ("start", &start),
                        ("end", &end),
                        ("step", "0.5"),
                    ],
                )
                .await;
            let has_number = data["result"].as_array().unwrap().iter().any(|series| {
                series["values"].as_array().unwrap().iter().any(|v| {
                    v[1].as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .is_some_and(f64::is_finite)
                })
            });
            assert!(
                has_number,
                "panel {:?}: {expr} returned no data: {data}",
                panel["title"]
            );
            queries += 1;
        }
    }
    assert!(queries >= 8, "the dashboard has its panels");
}

async fn scrape(base: &url::Url, auth: bool) -> String {
    let (mut c, _) = common::client(base.clone());
    let mut req = c.get("/metrics");
    if auth {
        req = req.header("authorization", "Basic dTpw");
    }
    let r = req.send().await.unwrap();
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "the exposition's content type"
    );
    r.text()
}

/// A master's `/metrics` is the merged view of its workers: its users while they run, and
/// its totals, which equal its report's and the sum of what each worker's own
/// `--prometheus-listen` counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masters_metrics_are_the_merged_view_of_its_workers() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    let port = common::probed_port().to_string();
    let mut master = Running::start(
        &[
            "--master",
            "-H",
            &host,
            "-P",
            "0",
            "--web-auth",
            "u:p",
            "--master-bind-port",
            &port,
        ],
        &[],
    );
    let ui: url::Url = master
        .line_after("Stampede web UI at ")
        .trim()
        .parse()
        .unwrap();
    let mut workers: Vec<Running> = (0..2)
        .map(|_| {
            Running::start(
                &[
                    "--worker",
                    "--master-port",
                    &port,
                    "--prometheus-listen",
                    "127.0.0.1:0",
                ],
                &[],
            )
        })
        .collect();
    let worker_metrics: Vec<url::Url> = workers
        .iter_mut()
        .map(|w| {
            let at = w.line_after("Prometheus metrics at ");
            at.trim().trim_end_matches("metrics").parse().unwrap()
        })
        .collect();
    let mut c = common::client(ui.clone()).0;
    for _ in 0..300 {
        if ui_json(&mut c, "/stats/requests").await["workers"]
            .as_array()
            .map_or(0, Vec::len)
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // No run time: the test runs until the users gauge is read, however slowly the
    // workers' reports (every 3 s, as Locust's) arrive on a busy machine, then stops.
    start_test(&mut c, "4", "100", "").await;
    let mut users = 0.0;
    for _ in 0..600 {
        users = metric_sum(&scrape(&ui, true).await, "stampede_users");
        if users == 4.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        users, 4.0,
        "the master's users gauge counts its workers' users"
    );
    let stopped = ui_post(&mut c, "/stop", &[]).await;
    assert_eq!(stopped["success"], true, "{stopped}");
    until_stopped(&mut c).await;
    let report = ui_json(&mut c, "/stats/report.json").await;
    let requests = report["total"]["num_requests"].as_f64().unwrap();
    assert!(requests > 0.0);
    let master_total = metric_sum(&scrape(&ui, true).await, "stampede_requests_total");
    assert_eq!(
        master_total, requests,
        "the master's /metrics against its report"
    );
    // Each worker's own counts, summed, once their last reports are in.
    let mut workers_total = 0.0;
    for _ in 0..100 {
        workers_total = 0.0;
        for w in &worker_metrics {
            workers_total += metric_sum(&scrape(w, false).await, "stampede_requests_total");
        }
        if workers_total == requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(workers_total, requests, "the workers' own /metrics, summed");
    drop(workers);
}
