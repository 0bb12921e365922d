//! The `hello` plan run as a process, as a user or a CI job runs it: what its arguments may
//! be, what it writes to a log file, and where a password in `--host` may show.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, Control, Guard};
use stampede::prelude::*;

/// Runs `hello` with `args` to its end (bounded at 60 s), stderr into a file; returns the
/// exit code and what stderr held.
fn hello(args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> (i32, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(common::example("hello"))
        .args(args)
        .env_remove("NO_COLOR")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), std::fs::read(&log).unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("hello did not end within 60 s");
}

#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_naming_it() {
    let bad = std::ffi::OsStr::from_bytes(b"--host=http://caf\xe9.test/");
    let (code, stderr) = hello(&[bad], &[]);
    let said = String::from_utf8_lossy(&stderr);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("argument 1 is not valid UTF-8") && said.contains("caf\u{fffd}.test"),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_on_a_file_has_no_colour_and_no_password() {
    let srv = common::start().await;
    let host = format!("http://ann:hunter2@{}/", srv.addr);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let html = dir.path().join("report.html");
    let csv = dir.path().join("run");
    let args: Vec<std::ffi::OsString> = [
        "--host",
        host.as_str(),
        "--headless",
        "-u",
        "2",
        "-r",
        "10",
        "-t",
        "2s",
        // A collector that is not there: the run ends with WARN lines saying so.
        "--otel",
    ]
    .iter()
    .map(Into::into)
    .chain(["--report-json".into(), report.clone().into()])
    .chain(["--html".into(), html.clone().into()])
    .chain(["--csv".into(), csv.clone().into()])
    .collect();
    let (code, stderr) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let nobody = format!("http://127.0.0.1:{}", common::probed_port());
        hello(&refs, &[("OTEL_EXPORTER_OTLP_ENDPOINT", nobody.as_str())])
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&stderr).into_owned();
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("WARN"),
        "the run logged no warning to check: {said}"
    );
    assert!(
        !stderr.contains(&0x1b),
        "an ANSI escape in a log file: {said}"
    );
    assert!(said.contains("ann:***@"), "{said}");
    let mut written = vec![("stderr".to_owned(), said)];
    for path in [report, html] {
        written.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            written.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    for (what, text) in &written {
        assert!(!text.contains("hunter2"), "the password is in {what}");
    }
    assert!(srv.hits.get("/") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_the_host_without_its_password_and_starts_with_it() {
    struct Echo(Client);
    impl Echo {
        async fn get(&mut self) -> TaskResult {
            self.0
                .get("/echo-headers")
                .name("echo")
                .check(|r| match r.text().contains("authorization") {
                    true => Ok(()),
                    false => Err("no Basic auth was sent".into()),
                })
                .send()
                .await?;
            Ok(())
        }
    }
    let plan = Plan::new().user_type(
        UserType::new("Echo", |ctx| Echo(ctx.client()))
            .wait_time(constant(0.05))
            .task(task!(Echo::get)),
    );
    let srv = common::start().await;
    let host = format!("http://ann:hunter2@{}/", srv.addr);
    let cli =
        try_parse_args::<NoOptions>(["plan", "-H", host.as_str()].map(str::to_owned)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = Guard::new(None, addr, &cli.options.web_allowed_hosts);
    let control = Arc::new(Control::new(plan, cli.options));
    tokio::spawn(async move { axum::serve(listener, router(control, guard)).await.unwrap() });
    let (mut ui, _) = common::client(format!("http://{addr}/").parse().unwrap());
    let config = ui.get("/ui/config").await.unwrap().text();
    let shown = format!("http://ann:***@{}/", srv.addr);
    assert!(
        config.contains(&shown) && !config.contains("hunter2"),
        "{config}"
    );
    // The form posts the host back as it was shown: that is --host, password and all.
    let started: serde_json::Value = ui
        .post("/swarm")
        .form(&[
            ("user_count", "1"),
            ("spawn_rate", "1"),
            ("host", shown.as_str()),
        ])
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(started["success"], true, "{started}");
    assert_eq!(started["host"], shown.as_str());
    let mut stats = serde_json::Value::Null;
    for _ in 0..100 {
        stats = ui.get("/stats/requests").await.unwrap().json().unwrap();
        if stats["stats"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["name"] == "echo"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let echo = stats["stats"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "echo"))
        .unwrap_or_else(|| panic!("no request was made: {stats}"));
    assert!(echo["num_requests"].as_u64().unwrap() > 0);
    assert_eq!(
        echo["num_failures"], 0,
        "the shown host lost the password: {stats}"
    );
    assert!(!stats.to_string().contains("hunter2"), "{stats}");
    ui.post("/stop").await.unwrap();
}
