//! The web UI's API over real HTTP: Locust's endpoints and shapes, Basic auth, and the rule
//! that refuses state-changing requests from another origin.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, Control, Guard};

use common::webui::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_every_asset_local() {
    let (base, _srv) = ui(&[]).await;
    let mut c = browser(&base);
    let page = send(c.get("/")).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text();
    assert!(html.contains("<form id=\"swarm-form\">"));
    for tag in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !html.contains(tag),
            "the page loads something remote: {tag}"
        );
    }
    let js = send(c.get("/assets/app.js")).await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(!js.text().contains("https://"), "no CDN in the script");
    assert_eq!(send(c.get("/assets/app.css")).await.status().as_u16(), 200);
    let cfg = json(&mut c, "/ui/config").await;
    assert_eq!(cfg["user_types"][0]["name"], "Reader");
    assert_eq!(cfg["state"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_edit_stop_reset_and_the_stats_shapes() {
    let (base, srv) = ui(&[]).await;
    let mut c = browser(&base);
    let empty = json(&mut c, "/stats/requests").await;
    assert_eq!(empty["state"], "ready");

    let bad = send(
        c.post("/swarm")
            .form(&[("user_count", "lots"), ("spawn_rate", "1")]),
    )
    .await
    .json::<Value>()
    .unwrap();
    assert_eq!(bad["success"], false);
    assert!(bad["message"].as_str().unwrap().contains("'lots'"), "{bad}");
    let bad = send(c.post("/swarm").form(&[
        ("user_count", "1"),
        ("spawn_rate", "1"),
        ("host", "no-scheme:80"),
    ]))
    .await
    .json::<Value>()
    .unwrap();
    assert!(
        bad["message"].as_str().unwrap().contains("Invalid host"),
        "{bad}"
    );
    let bad = send(c.post("/swarm").form(&[
        ("user_count", "1"),
        ("spawn_rate", "1"),
        ("user_classes", "Ghost"),
    ]))
    .await
    .json::<Value>()
    .unwrap();
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("unknown user type 'Ghost'"),
        "{bad}"
    );

    let ok = send(c.post("/swarm").form(&[
        ("user_count", "4"),
        ("spawn_rate", "100"),
        ("user_classes", "Reader"),
    ]))
    .await
    .json::<Value>()
    .unwrap();
    assert_eq!(ok["success"], true, "{ok}");
    assert_eq!(ok["host"], srv.url().to_string());
    let r = until(&mut c, "/stats/requests", |v| {
        v["user_count"] == 4 && v["stats"].as_array().is_some_and(|s| s.len() == 2)
    })
    .await;
    let rows = r["stats"].as_array().unwrap();
    assert_eq!(rows[0]["name"], "home");
    assert_eq!(rows[1]["name"], "Aggregated");
    for key in [
        "method",
        "num_requests",
        "num_failures",
        "avg_response_time",
        "min_response_time",
        "max_response_time",
        "median_response_time",
        "current_rps",
        "current_fail_per_sec",
        "total_rps",
        "response_time_percentile_0.95",
        "response_time_percentile_0.99",
        "avg_content_length",
    ] {
        assert!(rows[0].get(key).is_some(), "row lacks {key}");
    }
    for key in [
        "state",
        "user_count",
        "total_rps",
        "total_fail_per_sec",
        "fail_ratio",
        "current_rps",
        "errors",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}");
    }

    // Edit while running: same form, new count.
    let ok = send(
        c.post("/swarm")
            .form(&[("user_count", "2"), ("spawn_rate", "100")]),
    )
    .await
    .json::<Value>()
    .unwrap();
    assert_eq!(ok["success"], true);
    until(&mut c, "/stats/requests", |v| v["user_count"] == 2).await;

    let funnel = until(&mut c, "/stats/funnel", |v| {
        v["funnel"][0]["count"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(funnel["tasks"][0]["user_type"], "Reader");

    let stopped = send(c.post("/stop")).await.json::<Value>().unwrap();
    assert_eq!(stopped["success"], true);
    let r = until(&mut c, "/stats/requests", |v| v["state"] == "stopped").await;
    assert_eq!(r["user_count"], 0);
    // The stop (no stop timeout) cuts off requests in flight: the server saw them, the
    // table counts them as unanswered.
    let counted = r["stats"][1]["num_requests"].as_u64().unwrap();
    let unanswered = r["stats"][1]["num_unanswered"].as_u64().unwrap();
    let served = srv.hits.settled_at("/", counted + unanswered).await;
    assert_eq!(
        counted + unanswered,
        served,
        "the table counts every request the server saw"
    );

    assert_eq!(send(c.post("/stats/reset")).await.text(), "ok");
    until(&mut c, "/stats/requests", |v| {
        v["stats"].as_array().is_some_and(|s| s.len() == 1) && v["stats"][0]["num_requests"] == 0
    })
    .await;

    let history = json(&mut c, "/stats/history?since=0").await;
    assert!(history.is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_exceptions_and_reports() {
    let (base, _srv) = ui(&["--threshold", "p95<10s"]).await;
    let mut c = browser(&base);
    assert_eq!(
        send(c.get("/stats/report")).await.status().as_u16(),
        404,
        "no report before a test"
    );
    send(c.post("/swarm").form(&[
        ("user_count", "4"),
        ("spawn_rate", "100"),
        ("run_time", "1s"),
    ]))
    .await;
    until(&mut c, "/stats/requests", |v| v["state"] == "stopped").await;

    let csv = send(c.get("/stats/requests/csv")).await;
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"stampede_requests_"));
    assert!(csv
        .text()
        .starts_with("Type,Name,Request Count,Failure Count,Median Response Time,"));
    assert!(send(c.get("/stats/failures/csv"))
        .await
        .text()
        .starts_with("Method,Name,Error,Occurrences"));
    let exc_csv = send(c.get("/exceptions/csv")).await.text();
    assert!(
        exc_csv.starts_with("Count,Message,Traceback,Nodes\n") && exc_csv.contains("oops"),
        "{exc_csv}"
    );
    let exc = json(&mut c, "/exceptions").await;
    assert_eq!(exc["exceptions"][0]["msg"], "oops");
    assert!(exc["exceptions"][0]["traceback"]
        .as_str()
        .unwrap()
        .starts_with("Clumsy.oops at "));

    let report: Value = send(c.get("/stats/report.json")).await.json().unwrap();
    let schema: Value = serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&report),
        "{report}"
    );
    assert_eq!(report["thresholds"][0]["passed"], true);
    let locust: Value = send(c.get("/stats/locust.json")).await.json().unwrap();
    assert_eq!(locust[0]["name"], "home");

    let html = send(c.get("/stats/report")).await.text();
    assert!(html.contains("<script id=\"report-data\" type=\"application/json\">"));
    assert!(
        !html.contains("src=\"/assets/") && !html.contains("href=\"/assets/"),
        "the report is self-contained"
    );
    let dl = send(c.get("/stats/report?download=1")).await;
    assert!(dl.header("content-disposition").unwrap().contains(".html"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_the_ui_and_the_api() {
    let (base, _srv) = ui(&["--web-auth", "admin:s3cret"]).await;
    let mut c = browser(&base);
    for path in ["/", "/stats/requests", "/ui/config"] {
        let r = send(c.get(path)).await;
        assert_eq!(r.status().as_u16(), 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"stampede\"")
        );
    }
    assert_eq!(
        send(
            c.post("/swarm")
                .form(&[("user_count", "1"), ("spawn_rate", "1")])
        )
        .await
        .status()
        .as_u16(),
        401
    );
    let wrong = send(c.get("/").header("Authorization", "Basic YWRtaW46d3Jvbmc=")).await; // admin:wrong
    assert_eq!(wrong.status().as_u16(), 401);
    let right = send(
        c.get("/stats/requests")
            .header("Authorization", "Basic YWRtaW46czNjcmV0"),
    )
    .await; // admin:s3cret
    assert_eq!(right.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_from_another_origin_are_refused() {
    let (base, _srv) = ui(&[]).await;
    let mut c = browser(&base);
    let own = format!(
        "http://{}",
        base.host_str().unwrap().to_owned() + ":" + &base.port().unwrap().to_string()
    );
    for path in ["/swarm", "/stop", "/stats/reset"] {
        let r = send(
            c.post(path)
                .header("Origin", "http://evil.example")
                .form(&[("user_count", "1"), ("spawn_rate", "1")]),
        )
        .await;
        assert_eq!(r.status().as_u16(), 403, "{path}");
    }
    assert_eq!(
        json(&mut c, "/stats/requests").await["state"],
        "ready",
        "nothing started"
    );
    // Reading is allowed from anywhere; the page's own origin and scripts without one may act.
    assert_eq!(
        send(
            c.get("/stats/requests")
                .header("Origin", "http://evil.example")
        )
        .await
        .status()
        .as_u16(),
        200
    );
    let r = send(c.post("/stop").header("Origin", &own)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(send(c.post("/stop")).await.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_is_guarded_whatever_the_method_and_the_host_must_be_ours() {
    let (base, _srv) = ui(&["--web-allowed-hosts", "ui.example"]).await;
    let mut c = browser(&base);
    // GET /stats/reset changes state too (Locust's UI uses GET for it).
    let r = send(
        c.get("/stats/reset")
            .header("Origin", "http://evil.example"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    for site in ["cross-site", "same-site"] {
        let r = send(
            c.post("/swarm")
                .header("Sec-Fetch-Site", site)
                .form(&[("user_count", "1"), ("spawn_rate", "1")]),
        )
        .await;
        assert_eq!(r.status().as_u16(), 403, "{site}");
    }
    // DNS rebinding: the attacker's name, pointed at 127.0.0.1, arrives in Host.
    let port = base.port().unwrap();
    let evil = format!("evil.example:{port}");
    let r = send(
        c.post("/swarm")
            .header("Host", &evil)
            .header("Origin", &format!("http://{evil}"))
            .form(&[("user_count", "1"), ("spawn_rate", "1")]),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    let r = send(c.get("/stats/requests").header("Host", &evil)).await;
    assert_eq!(r.status().as_u16(), 403, "not even reading");
    assert_eq!(json(&mut c, "/stats/requests").await["state"], "ready");
    // Our own names, and those given with --web-allowed-hosts, are answered.
    for host in [format!("localhost:{port}"), format!("ui.example:{port}")] {
        let r = send(c.get("/stats/requests").header("Host", &host)).await;
        assert_eq!(r.status().as_u16(), 200, "{host}");
    }
    let r = send(
        c.get("/stats/reset")
            .header("Sec-Fetch-Site", "same-origin"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_in_the_ui_runs_the_stages_and_they_end_the_test() {
    let (base, _srv) = ui(&["--stage", "2:100:2s", "--stage", "3:100:2s"]).await;
    let mut c = browser(&base);
    assert_eq!(json(&mut c, "/ui/config").await["shape"], true);
    // The form's users and rate are ignored: the stages decide.
    let r = send(
        c.post("/swarm")
            .form(&[("user_count", "50"), ("spawn_rate", "50")]),
    )
    .await;
    assert_eq!(r.json::<Value>().unwrap()["success"], true);
    // The user counts the UI shows until the stages end the test, read every 50 ms (each
    // stage lasts 2 s; the once-a-second history alone missed a stage on a busy machine).
    let mut seen = Vec::new();
    for _ in 0..600 {
        let v = json(&mut c, "/stats/requests").await;
        seen.extend(v["user_count"].as_u64());
        if v["state"] == "stopped" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.last(), Some(&0), "the stages ended the test: {seen:?}");
    assert!(
        seen.contains(&2) && seen.contains(&3),
        "both stages ran: {seen:?}"
    );
    // Each second's history point holds the user count, never the form's.
    let history = json(&mut c, "/stats/history").await;
    let counts: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["user_count"].as_u64())
        .collect();
    assert!(!counts.is_empty(), "the history has points");
    assert!(
        counts.iter().chain(&seen).all(|&n| n <= 3),
        "never the form's 50: {counts:?} {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ui_stop_loses_no_request_30_times_in_a_row() {
    let (base, srv) = ui_with(common::busy_plan(), &[]).await;
    let mut c = browser(&base);
    let mut seen_before = 0;
    let mut unanswered_total = 0;
    for run in 0..30 {
        let r = send(
            c.post("/swarm")
                .form(&[("user_count", "4"), ("spawn_rate", "100")]),
        )
        .await;
        assert_eq!(r.json::<Value>().unwrap()["success"], true, "run {run}");
        // Until some requests completed (an event, not a time window).
        while srv.hits.get("/slow") < seen_before + 8 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        send(c.post("/stop")).await;
        let report = json(&mut c, "/stats/report.json").await;
        let e = &report["total"];
        let (done, unanswered) = (
            e["num_requests"].as_u64().unwrap(),
            e["unanswered"].as_u64().unwrap(),
        );
        let seen = srv
            .hits
            .settled_at("/slow", seen_before + done + unanswered)
            .await;
        assert_eq!(
            seen - seen_before,
            done + unanswered,
            "run {run}: server hits against completed + unanswered; report total {e}, failures {}",
            report["failures"]
        );
        seen_before = seen;
        unanswered_total += unanswered;
    }
    assert!(unanswered_total > 0, "the stops did cut requests off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_the_ui_stays_reachable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cli = try_parse_args::<NoOptions>(["plan".to_owned()]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(
        Arc::new(Control::new(plan(), cli.options)),
        Guard::new(None, addr, &[]),
    );
    let limits = stampede::advanced::web::Limits {
        max_connections: 4,
        header_timeout: Duration::from_millis(300),
    };
    let stop = stampede::CancellationToken::new();
    tokio::spawn(stampede::advanced::web::serve(
        listener,
        app,
        limits,
        stop.clone(),
    ));

    // Every slot taken by connections that send nothing, or half a request head.
    let mut hogs = Vec::new();
    for i in 0..4 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1")
                .await
                .unwrap();
        }
        hogs.push(s);
    }
    // The operator's request still gets through once the hogs time out.
    let mut c = browser(&format!("http://{addr}/").parse().unwrap());
    let r = tokio::time::timeout(Duration::from_secs(10), c.get("/stats/requests").send())
        .await
        .expect("answered once the idle connections were closed")
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for mut s in hogs {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the server closed the idle connection");
        // A half-sent head may get a 408 before the close; nothing else.
        if let Ok(n) = n {
            assert!(
                n == 0 || buf.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                &buf[..n]
            );
        }
    }
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_million_users_are_capped_and_the_ui_says_so() {
    let (base, _srv) = ui(&["--user-limit", "5"]).await;
    let mut c = browser(&base);
    let r = send(
        c.post("/swarm")
            .form(&[("user_count", "10000000"), ("spawn_rate", "1000")]),
    )
    .await;
    let v: Value = r.json().unwrap();
    assert_eq!(v["success"], true);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("capped at 5") && message.contains("--user-limit"),
        "{message}"
    );
    until(&mut c, "/stats/requests", |v| v["user_count"] == 5).await;
    send(c.post("/stop")).await;
}
