//! The command line end to end: bad input, exit codes, thresholds, and the report files.

mod common;

use std::path::Path;

use stampede::advanced::config::{Cli, NoOptions};
use stampede::advanced::try_parse_args;
use stampede::prelude::*;
use stampede::CancellationToken;

struct U {
    client: Client,
}

impl U {
    async fn ok(&mut self) -> TaskResult {
        self.client.get("/").name("home").send().await?;
        Ok(())
    }
    async fn fail(&mut self) -> TaskResult {
        self.client.get("/fail").name("broken").send().await?;
        Ok(())
    }
}

fn plan(failing: bool) -> Plan {
    let mut t = UserType::new("U", |ctx| U {
        client: ctx.client(),
    })
    .wait_time(constant(0.02))
    .task(task!(U::ok).tag("fine"));
    if failing {
        t = t.task(task!(U::fail));
    }
    Plan::new().user_type(t).funnel(["home", "broken"])
}

fn args(extra: &[&str]) -> Vec<String> {
    std::iter::once("plan")
        .chain(extra.iter().copied())
        .map(str::to_owned)
        .collect()
}

fn parse(extra: &[&str]) -> Result<Cli<NoOptions>, stampede::advanced::Usage> {
    try_parse_args::<NoOptions>(args(extra))
}

async fn run(extra: &[&str], plan: &Plan) -> Result<stampede::advanced::Outcome, i32> {
    let cli = parse(extra).unwrap_or_else(|u| panic!("{}", u.message));
    stampede::advanced::run_with_shutdown(&cli, plan, CancellationToken::new()).await
}

#[test]
fn bad_values_are_usage_errors_naming_the_value() {
    for (argv, needle) in [
        (vec!["-u", "abc"], "'abc'"),
        (vec!["-t", "5x"], "'5x'"),
        (vec!["-H", "127.0.0.1:8000"], "127.0.0.1:8000"),
        (vec!["-H", "ftp://example.com"], "ftp://example.com"),
        (vec!["--threshold", "p95<fast"], "p95<fast"),
        (vec!["--web-auth", "nocolon"], "USER:PASSWORD"),
        // Durations that would overflow the clocks' arithmetic.
        (vec!["-t", "1e30"], "'1e30'"),
        (
            vec!["--request-timeout", "99999999999999999999"],
            "99999999999999999999",
        ),
        (
            vec!["--connect-timeout", "500000000000y"],
            "'500000000000y'",
        ),
        (vec!["--stop-timeout", "500000000000y"], "'500000000000y'"),
        (vec!["--request-timeout", "0"], "'0'"),
        (vec!["--max-body", "10T"], "'10T'"),
        (vec!["--max-cookies", "0"], "--max-cookies"),
        (vec!["--wait-scale", "-1"], "'-1' is not a scale"),
        (vec!["--think-scale", "fast"], "'fast' is not a scale"),
        (vec!["--resolve", "shop.test:443"], "HOST:PORT:ADDR"),
        (
            vec!["--config", "/nonexistent/stampede.conf"],
            "/nonexistent/stampede.conf",
        ),
    ] {
        let u = parse(&argv)
            .err()
            .unwrap_or_else(|| panic!("{argv:?} was accepted"));
        assert_eq!(u.code, 2, "{argv:?}");
        assert!(u.message.contains(needle), "{argv:?}: {}", u.message);
    }
}

#[test]
fn config_file_and_environment_fill_in_options() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        "# a comment\nusers = 7\nspawn-rate = 3\nheadless = true\nrun_time = 1m\ntags = [a, b]\nthink_scale = 0.5\n",
    )
    .unwrap();
    let cli = parse(&["--config", conf.to_str().unwrap(), "-r", "9"]).unwrap();
    let o = &cli.options;
    assert_eq!(
        (o.users, o.spawn_rate, o.headless),
        (Some(7), Some(9.0), true),
        "the command line wins"
    );
    assert_eq!(o.run_time, Some(std::time::Duration::from_secs(60)));
    assert_eq!(o.tags, vec!["a", "b"]);
    assert_eq!(
        o.wait_scale, 0.5,
        "the old name in a config file sets --wait-scale"
    );
    std::fs::write(&conf, "users = 7\nfrobnicate = yes\n").unwrap();
    let u = parse(&["--config", conf.to_str().unwrap()]).err().unwrap();
    assert!(
        u.message.contains("unknown option 'frobnicate'") && u.message.contains(":2:"),
        "{}",
        u.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_types_and_tags_and_a_missing_host_exit_2() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    assert_eq!(
        run(&["-H", &host, "--headless", "Ghost"], &plan(false))
            .await
            .err(),
        Some(2)
    );
    assert_eq!(
        run(&["-H", &host, "--headless", "-T", "nope"], &plan(false))
            .await
            .err(),
        Some(2)
    );
    assert_eq!(run(&["--headless"], &plan(false)).await.err(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_failures_and_thresholds() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    let base = [
        "-H",
        host.as_str(),
        "--headless",
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "1s",
        "--only-summary",
    ];
    let with = |extra: &[&'static str]| {
        base.iter()
            .copied()
            .chain(extra.iter().copied())
            .collect::<Vec<&str>>()
    };

    let ok = run(&with(&[]), &plan(false)).await.unwrap();
    assert_eq!(ok.exit_code, 0);
    assert!(ok.stats.total.num_requests > 10);
    assert_eq!(run(&with(&[]), &plan(true)).await.unwrap().exit_code, 1);
    assert_eq!(
        run(&with(&["--exit-code-on-error", "7"]), &plan(true))
            .await
            .unwrap()
            .exit_code,
        7
    );

    let passing = run(
        &with(&["--threshold", "p95<5s", "--threshold", "home:fail_ratio<1%"]),
        &plan(true),
    )
    .await
    .unwrap();
    assert!(
        passing.verdicts.iter().all(|v| v.passed),
        "{:?}",
        passing.verdicts
    );
    assert_eq!(
        passing.exit_code, 1,
        "thresholds pass, but requests still failed"
    );
    let broken = run(
        &with(&[
            "--threshold",
            "broken:fail_ratio<50%",
            "--threshold",
            "rps>=1000000",
        ]),
        &plan(true),
    )
    .await
    .unwrap();
    assert_eq!(broken.exit_code, 3);
    assert_eq!(broken.verdicts.iter().filter(|v| !v.passed).count(), 2);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_have_locusts_columns_and_include_the_last_seconds() {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("out/run");
    let host = srv.url().to_string();
    let outcome = run(
        &[
            "-H",
            &host,
            "--headless",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "2s",
            "--only-summary",
            "--csv",
            prefix.to_str().unwrap(),
            "--csv-full-history",
        ],
        &plan(true),
    )
    .await
    .unwrap();

    // Header rows copied from Locust 2.47's stats.py.
    let stats = read(&dir.path().join("out/run_stats.csv"));
    let mut lines = stats.lines();
    assert_eq!(lines.next().unwrap(), "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows.iter().map(|r| r[1]).collect::<Vec<_>>(),
        vec!["broken", "home", "Aggregated"],
        "sorted by name, Aggregated last"
    );
    assert!(rows.iter().all(|r| r.len() == 22));
    let total: u64 = rows[2][2].parse().unwrap();
    assert_eq!(
        total, outcome.stats.total.num_requests,
        "the file has the final count"
    );
    let unanswered = outcome.stats.total.num_unanswered;
    let (ok_rows, fail_rows) = (
        &outcome.stats.entries[&("home".to_owned(), "GET".to_owned())],
        &outcome.stats.entries[&("broken".to_owned(), "GET".to_owned())],
    );
    let home = srv
        .hits
        .settled_at("/", ok_rows.num_requests + ok_rows.num_unanswered)
        .await;
    let fail = srv
        .hits
        .settled_at("/fail", fail_rows.num_requests + fail_rows.num_unanswered)
        .await;
    assert_eq!(
        total + unanswered,
        home + fail,
        "every request the server saw is in the file, or cut off by the end and unanswered"
    );

    let hist = read(&dir.path().join("out/run_stats_history.csv"));
    assert_eq!(hist.lines().next().unwrap(), "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size");
    assert!(
        hist.lines().any(|l| l.contains(",GET,home,")),
        "full history has endpoint rows"
    );
    assert!(hist.lines().any(|l| l.contains(",,Aggregated,")));

    let failures = read(&dir.path().join("out/run_failures.csv"));
    let mut f = failures.lines();
    assert_eq!(
        f.next().unwrap(),
        "Method,Name,Error,Occurrences,First Seen,Last Seen"
    );
    let row = f.next().unwrap();
    assert!(
        row.starts_with(
            "GET,broken,HTTPError('500 Server Error: Internal Server Error for url: broken'),"
        ),
        "{row}"
    );
    assert_eq!(
        read(&dir.path().join("out/run_exceptions.csv")),
        "Count,Message,Traceback,Nodes\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_outputs_match_locust_and_the_committed_schema() {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = srv.url().to_string();
    let report = dir.path().join("report.json");
    let locust = dir.path().join("locust");
    run(
        &[
            "-H",
            &host,
            "--headless",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "1s",
            "--only-summary",
            "--report-json",
            report.to_str().unwrap(),
            "--json-file",
            locust.to_str().unwrap(),
            "--threshold",
            "p99<10s",
        ],
        &plan(true),
    )
    .await
    .unwrap();

    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["user_types"][0]["users"], 2);
    assert_eq!(doc["funnel"][0]["name"], "home");
    assert!(doc["funnel"][0]["conversion"].is_null());
    let (home, broken) = (
        doc["funnel"][0]["count"].as_f64().unwrap(),
        doc["funnel"][1]["count"].as_f64().unwrap(),
    );
    assert!((doc["funnel"][1]["conversion"].as_f64().unwrap() - broken / home).abs() < 1e-9);
    assert_eq!(doc["thresholds"][0]["passed"], true);
    assert_eq!(doc["exit_code"], 1);
    // The schema is strict: an unknown field is refused.
    let mut bad = doc;
    bad["surprise"] = serde_json::json!(1);
    assert!(!validator.is_valid(&bad));

    // Locust's --json-file writes PATH.json: a list of its StatsEntry dicts.
    let entries: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("locust.json"))).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for key in [
        "name",
        "method",
        "last_request_timestamp",
        "start_time",
        "num_requests",
        "num_none_requests",
        "num_failures",
        "total_response_time",
        "max_response_time",
        "min_response_time",
        "total_content_length",
        "response_times",
        "num_reqs_per_sec",
        "num_fail_per_sec",
    ] {
        assert!(entries[0].get(key).is_some(), "missing {key}");
    }
    let n: u64 = entries
        .iter()
        .map(|e| e["num_requests"].as_u64().unwrap())
        .sum();
    let bucketed: u64 = entries
        .iter()
        .flat_map(|e| e["response_times"].as_object().unwrap().values())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(n, bucketed, "every request is in one of Locust's buckets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_drive_the_user_count_and_end_the_test() {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let host = srv.url().to_string();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run(
            &[
                "-H",
                &host,
                "--headless",
                "--only-summary",
                "--stage",
                "1:100:1s",
                "--stage",
                "3:100:1s",
                "--report-json",
                report.to_str().unwrap(),
            ],
            &plan(false),
        ),
    )
    .await
    .expect("the stages end the run by themselves")
    .unwrap();
    // Two 1 s stages: the run cannot end sooner, and it ended by itself (no -t).
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
    assert_eq!(outcome.exit_code, 0);
    let doc: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    assert_eq!(doc["user_types"][0]["users"], 3, "the peak of the stages");
    let u = parse(&["--stage", "3:1:1s", "-u", "5"]).err().unwrap();
    assert_eq!(u.code, 2, "stages and -u conflict: {}", u.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_is_one_self_contained_file() {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let host = srv.url().to_string();
    run(
        &[
            "-H",
            &host,
            "--headless",
            "-u",
            "2",
            "-r",
            "100",
            "-t",
            "1s",
            "--only-summary",
            "--html",
            html.to_str().unwrap(),
        ],
        &plan(true),
    )
    .await
    .unwrap();
    let page = read(&html);
    assert!(page.contains("<script id=\"report-data\" type=\"application/json\">"));
    assert!(page.contains("\"name\":\"home\""), "the data is embedded");
    assert!(
        !page.contains("src=\"/assets/") && !page.contains("src=\"http"),
        "nothing is fetched"
    );
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "embedded data cannot close its script element early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_ui_autostarts_and_writes_reports_when_shut_down() {
    let srv = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("ui");
    let host = srv.url().to_string();
    let cli = parse(&[
        "-H",
        &host,
        "--web-port",
        "0",
        "--autostart",
        "-u",
        "3",
        "-r",
        "100",
        "--csv",
        prefix.to_str().unwrap(),
    ])
    .unwrap();
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    let hits = srv.hits.clone();
    tokio::spawn(async move {
        // Until the server has seen enough requests: an event, not a time window.
        while hits.get("/") < 12 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        stopper.cancel();
    });
    let outcome = stampede::advanced::run_with_shutdown(&cli, &plan(false), shutdown)
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 0);
    assert!(outcome.stats.total.num_requests > 10);
    // A request cut off by the stop reached the server: it is counted as unanswered.
    let t = &outcome.stats.total;
    let expected = t.num_requests + t.num_unanswered;
    assert_eq!(expected, srv.hits.settled_at("/", expected).await);
    let stats = read(&dir.path().join("ui_stats.csv"));
    assert!(stats.lines().last().unwrap().starts_with(&format!(
        ",Aggregated,{},",
        outcome.stats.total.num_requests
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_user_runs_one_user_in_the_foreground_without_headless_too() {
    let srv = common::start().await;
    let host = srv.url().to_string();
    // No --headless: a UI would wait for Start and the run would never end by itself.
    let (argv, plan) = (
        ["--single-user", "-H", host.as_str(), "-t", "1s"],
        plan(false),
    );
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), run(&argv, &plan))
        .await
        .expect("--single-user without --headless served the UI instead of running")
        .unwrap();
    assert!(outcome.stats.total.num_requests > 0);
    assert_eq!(outcome.exit_code, 0);
    assert!(srv.hits.get("/") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_will_not_send_a_hosts_password_to_just_anyone() {
    let host = "http://ann:hunter2@127.0.0.1:9/";
    let argv = [
        "--master",
        "--headless",
        "-H",
        host,
        "--master-bind-port",
        "0",
        "-t",
        "1s",
    ];
    let plan = plan(false);
    let refused = tokio::time::timeout(std::time::Duration::from_secs(10), run(&argv, &plan))
        .await
        .expect("the master started instead of refusing");
    assert_eq!(refused.err(), Some(2));
}
