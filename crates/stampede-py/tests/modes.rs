//! The workshop's own locustfiles (Locust 0.8's dialect, `workshop/`), unchanged, against
//! the Hoodie Shop in each mode: headless, the web UI driven through its API, and a master
//! with two workers. Waits are scaled to 0 (`--wait-scale 0`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const STEPS: [&str; 9] = [
    "1 home",
    "2 /products/category/apparel-1/",
    "3 /products/codemash-1/",
    "4 products/codemash-1/add/",
    "5 /checkout/",
    "6 /checkout/shipping-address/",
    "7 /checkout/shipping-method/",
    "8 /checkout/summary/",
    "9 /order/[order-id]/payment",
];

fn workshop(dir: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workshop")
        .join(dir)
        .join("locustfile.py")
}

/// Every funnel step was made, and nothing failed.
fn assert_whole_funnel(
    stats: &std::collections::BTreeMap<(String, String), (u64, u64)>,
    what: &str,
) {
    for step in STEPS {
        let hit = stats.iter().find(|((_, name), _)| name == step);
        assert!(
            hit.is_some_and(|(_, (n, _))| *n > 0),
            "{what}: step {step:?} never ran: {stats:?}"
        );
    }
    let failed: Vec<_> = stats.iter().filter(|(_, (_, f))| *f > 0).collect();
    assert!(failed.is_empty(), "{what}: failures {failed:?}");
}

#[test]
fn the_signup_walkthrough_runs_unchanged() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("signup");
    let out = run_headless(
        &stampede(),
        &workshop("signup"),
        &shop.url,
        &csv,
        &["-u", "2", "-r", "2", "-t", "3s", "--wait-scale", "0"],
    );
    let stats = stats(&csv);
    let post = stats[&("POST".to_owned(), "/account/signup/".to_owned())];
    assert!(
        post.0 > 0 && post.1 == 0,
        "{stats:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stats[&("GET".to_owned(), "/account/signup/".to_owned())].1,
        0
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HttpLocust is Locust 0.8's name"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn the_user_funnel_walkthrough_runs_all_nine_steps_headless() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("funnel");
    let out = run_headless(
        &stampede(),
        &workshop("user_funnel"),
        &shop.url,
        &csv,
        &["-u", "10", "-r", "10", "-t", "5s", "--wait-scale", "0"],
    );
    assert_whole_funnel(&stats(&csv), "headless");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `stampede` process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's stderr until a line contains `marker`; the line. Bounded by `within`.
fn wait_for_line(child: &mut Child, marker: &str, within: Duration) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = marker.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&wanted) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(within)
        .unwrap_or_else(|_| panic!("no line with {marker:?} within {within:?}"))
}

/// Starts `cmd` (`stampede` with its web UI on port 0) and waits for the UI: the process,
/// killed when dropped, and the UI's `host:port`.
fn start_ui(mut cmd: Command) -> (Proc, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_for_line(&mut child, "web UI at http://", Duration::from_secs(60));
    let addr = line.split("http://").nth(1).unwrap().trim_end_matches('/');
    (Proc(child), addr.to_owned())
}

/// The notes a locustfile wrote to `log`, once `done` says they are complete (polled for
/// up to 20 s: the processes under test run on their own clocks).
fn wait_for_notes(log: &std::path::Path, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let notes = std::fs::read_to_string(log).unwrap_or_default();
        if done(&notes) || Instant::now() > deadline {
            return notes;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A blocking HTTP/1.1 exchange with the UI (tiny, so the test needs no client crate).
fn http(addr: &str, method: &str, path: &str, form: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_user_funnel_runs_from_the_web_ui() {
    let shop = Shop::start();
    let mut cmd = Command::new(stampede());
    cmd.args(["-f"])
        .arg(workshop("user_funnel"))
        .args(["--web-port", "0", "--wait-scale", "0", "--host", &shop.url])
        .current_dir(workshop("user_funnel").parent().unwrap());
    let (_proc, addr) = start_ui(cmd);
    let started = http(&addr, "POST", "/swarm", "user_count=10&spawn_rate=10");
    assert!(
        started.contains("\"success\":true") || started.contains("\"success\": true"),
        "{started}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut body = String::new();
    while Instant::now() < deadline {
        body = http(&addr, "GET", "/stats/requests", "");
        if STEPS
            .iter()
            .all(|s| body.contains(&format!("\"name\":\"{s}\"")))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for step in STEPS {
        assert!(
            body.contains(&format!("\"name\":\"{step}\"")),
            "step {step} never ran: {body}"
        );
    }
    assert!(
        body.contains("\"fail_ratio\":0.0") || body.contains("\"fail_ratio\":0,"),
        "{body}"
    );
    let stopped = http(&addr, "POST", "/stop", "");
    assert!(stopped.contains("200 OK"), "{stopped}");
}

#[test]
fn the_user_funnel_runs_on_a_master_with_two_workers() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("dist");
    let file = workshop("user_funnel");
    let cwd = file.parent().unwrap().to_owned();
    let port = free_port();
    let master = Command::new("timeout")
        .arg("120")
        .arg(stampede())
        .arg("-f")
        .arg(&file)
        .args([
            "--master",
            "--headless",
            "--expect-workers",
            "2",
            "-u",
            "10",
            "-r",
            "10",
            "-t",
            "6s",
        ])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--host",
            &shop.url,
        ])
        .arg("--csv")
        .arg(&csv)
        .current_dir(&cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _workers: Vec<Proc> = (0..2)
        .map(|_| {
            Proc(
                Command::new(stampede())
                    .arg("-f")
                    .arg(&file)
                    .args([
                        "--worker",
                        "--master-host",
                        "127.0.0.1",
                        "--master-port",
                        &port,
                    ])
                    .args(["--wait-scale", "0"])
                    .current_dir(&cwd)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let out = master.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_whole_funnel(&stats(&csv), "master with two workers");
}

#[test]
fn a_locustfile_worker_joins_a_real_locust_master() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("locust_master");
    let file = locustfile("plain_fast.py");
    let port = free_port();
    let master = Command::new("timeout")
        .arg("120")
        .arg(locust())
        .arg("-f")
        .arg(&file)
        .args([
            "--master",
            "--headless",
            "--expect-workers",
            "1",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "3s",
        ])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
            "--host",
            &target.url,
        ])
        .arg("--csv")
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let worker = Proc(
        Command::new(stampede())
            .arg("-f")
            .arg(&file)
            .args([
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                &port,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = master.wait_with_output().unwrap();
    drop(worker);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rows = stats(&csv);
    let (n, failed) = rows[&("GET".to_owned(), "/".to_owned())];
    assert!(n > 100 && failed == 0, "{rows:?}");
    assert!(
        target.hits() >= n,
        "Locust's master counted more than the target saw"
    );
}

/// Runs `python ARGS` (the test venv's) and returns its stdout lines that `keep` accepts.
fn python_lines(args: &[&str], keep: impl Fn(&str) -> bool) -> (Option<i32>, Vec<String>) {
    let python = stampede().parent().unwrap().join("python");
    let out = Command::new("timeout")
        .arg("60")
        .arg(python)
        .args(args)
        .current_dir(locustfile("plain_fast.py").parent().unwrap())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| keep(l))
        .map(str::to_owned)
        .collect();
    (out.status.code(), lines)
}

#[test]
fn locust_as_a_library_runs_on_the_engine() {
    let shop = Shop::start();
    let keep = |l: &str| l.starts_with("test_start") || l.starts_with("requests made");
    let theirs = python_lines(&["library_script.py", &shop.url], keep);
    let ours = python_lines(&["-m", "stampede", "library_script.py", &shop.url], keep);
    assert_eq!(
        theirs.1,
        ["test_start", "requests made: True failed: 0"],
        "{theirs:?}"
    );
    assert_eq!(theirs, ours, "left: Locust");
}

#[test]
fn run_single_user_debugs_one_user_as_under_locust() {
    let shop = Shop::start();
    // PrintListener's lines, response times left out, and the script's own.
    let keep = |l: &str| (l.starts_with("GET") && l.contains('\t')) || l == "done";
    let cut = |(code, lines): (Option<i32>, Vec<String>)| {
        let lines: Vec<String> = lines
            .iter()
            .map(|l| {
                l.split('\t')
                    .take(2)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        (code, lines)
    };
    let theirs = cut(python_lines(&["single_user.py", &shop.url], |l| {
        keep(l) && !l.contains('|')
    }));
    let ours = cut(python_lines(
        &["-m", "stampede", "single_user.py", &shop.url],
        |l| keep(l) && !l.contains('|'),
    ));
    assert_eq!(
        theirs.1,
        ["GET home", "GET home", "GET home", "done"],
        "{theirs:?}"
    );
    assert_eq!(theirs, ours, "left: Locust");
}

/// A locustfile's own arguments are fields of the web UI's start form (Locust's "Custom
/// parameters"); the values posted with Start reach `parsed_options` before `test_start`,
/// each with its argument's type, as Locust's `/swarm` converts them.
#[test]
fn a_locustfiles_own_arguments_are_fields_of_the_start_form() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notes.log");
    let mut cmd = Command::new(stampede());
    cmd.arg("-f")
        .arg(locustfile("forwarded_options.py"))
        .args(["--web-port", "0", "--host", &target.url])
        .env("MESSAGES_LOG", &log);
    let (_proc, addr) = start_ui(cmd);
    let config = http(&addr, "GET", "/ui/config", "");
    assert!(
        config.contains("\"name\":\"greeting\"") && config.contains("\"value\":\"unset\""),
        "{config}"
    );
    assert!(
        config.contains("\"name\":\"rounds\"") && config.contains("\"value\":\"1\""),
        "{config}"
    );
    let started = http(
        &addr,
        "POST",
        "/swarm",
        "user_count=1&spawn_rate=1&greeting=from+the+form&rounds=7",
    );
    assert!(started.contains("\"success\":true"), "{started}");
    let want = "worker test_start: greeting='from the form' rounds=7";
    let notes = wait_for_notes(&log, |notes| notes.contains(want));
    assert!(notes.contains(want), "{notes}");
    assert!(
        notes.contains("user: greeting='from the form' rounds=7"),
        "{notes}"
    );
}

/// Started without `--host`, the start form's host becomes `environment.host` (in
/// `test_start`) and every user's, as Locust's `/swarm` sets them; the users reach it.
#[test]
fn the_start_forms_host_is_the_environments_and_the_users() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notes.log");
    let mut cmd = Command::new(stampede());
    cmd.arg("-f")
        .arg(locustfile("forwarded_options.py"))
        .args(["--web-port", "0"])
        .env("MESSAGES_LOG", &log);
    let (_proc, addr) = start_ui(cmd);
    let form = format!(
        "user_count=1&spawn_rate=1&host={}",
        url::form_urlencoded::byte_serialize(target.url.as_bytes()).collect::<String>()
    );
    let started = http(&addr, "POST", "/swarm", &form);
    assert!(started.contains("\"success\":true"), "{started}");
    let want = format!("host='{}'", target.url);
    let notes = wait_for_notes(&log, |notes| notes.contains(&want) && target.hits() > 0);
    assert!(
        notes.contains(&format!("test_start: greeting='unset' rounds=1 {want}")),
        "{notes}"
    );
    assert!(
        target.hits() > 0,
        "the users reached the form's host: {notes}"
    );
}

/// SIGTERM (`docker stop`, a CI job's timeout) ends the run as Ctrl-C does: Locust's log
/// line, `test_stop` and `quitting`, the final tables and every report.
#[test]
fn sigterm_ends_the_run_with_its_reports_as_under_locust() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("term");
    let mut child = Command::new(stampede())
        .arg("-f")
        .arg(locustfile("plain_fast.py"))
        .args([
            "--headless",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "60s",
            "--host",
            &target.url,
        ])
        .arg("--csv")
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("All users spawned") {
                let _ = tx.send(None);
            }
            lines.push(line);
        }
        let _ = tx.send(Some(lines.join("\n")));
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), None);
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let log = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("Got SIGTERM signal"), "{log}");
    assert!(log.contains("Shutting down (exit code 0)"), "{log}");
    let rows = stats(&csv);
    assert!(rows[&("GET".to_owned(), "/".to_owned())].0 > 0, "{rows:?}");
}
