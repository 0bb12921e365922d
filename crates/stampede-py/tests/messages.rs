//! A locustfile's own traffic between master and worker (`send_message`,
//! `register_message`, `report_to_master`, `worker_report`): `locustfiles/messages.py`
//! runs as a master with one worker in every pairing of real Locust 2.47 and Stampede,
//! and what each side saw must be what it saw under Locust alone.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Runs the file as a master (`master`'s tool) with one worker (`worker`'s tool) against
/// `target`; the lines every process noted, as a set (the two processes interleave
/// freely), and the master's exit code and stderr.
fn pair(master: &Path, worker: &Path, target: &str, log: &Path) -> (BTreeSet<String>, String) {
    pair_with(master, worker, target, log, "messages.py", &[])
}

/// [`pair`] with another locustfile, and `master_args` on the master's command line only.
fn pair_with(
    master: &Path,
    worker: &Path,
    target: &str,
    log: &Path,
    file: &str,
    master_args: &[&str],
) -> (BTreeSet<String>, String) {
    let file = locustfile(file);
    let port = free_port();
    let m = Command::new("timeout")
        .arg("60")
        .arg(master)
        .arg("-f")
        .arg(&file)
        .args(["--master", "--headless", "--expect-workers", "1"])
        .args(["-u", "2", "-r", "2", "-t", "4s"])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
        ])
        .args(["--host", target])
        .args(master_args)
        .env("MESSAGES_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = Command::new("timeout")
        .arg("60")
        .arg(worker)
        .arg("-f")
        .arg(&file)
        .args([
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            &port,
        ])
        .env("MESSAGES_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = m.wait_with_output().unwrap();
    let _ = w.wait();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    (text.lines().map(str::to_owned).collect(), stderr)
}

#[test]
fn messages_and_report_additions_cross_as_under_locust_in_every_pairing() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let (l, s) = (locust(), stampede());
    let (oracle, _) = pair(&l, &l, &target.url, &dir.path().join("ll.log"));
    assert_eq!(
        oracle.len(),
        5,
        "Locust alone: a greeting to the worker by its own id, an answer, a report with the \
         addition from the id the master knows: {oracle:?}"
    );
    assert!(
        oracle.contains("worker is addressed as itself: True"),
        "{oracle:?}"
    );
    assert!(
        oracle.contains("master knows the reporter: True"),
        "{oracle:?}"
    );
    for (name, master, worker) in [
        ("Stampede master, Stampede worker", &s, &s),
        ("Locust master, Stampede worker", &l, &s),
        ("Stampede master, Locust worker", &s, &l),
    ] {
        let log = dir
            .path()
            .join(format!("{}.log", name.replace([' ', ','], "_")));
        let (seen, stderr) = pair(master, worker, &target.url, &log);
        assert_eq!(seen, oracle, "{name}\n{stderr}");
    }
}

/// A locustfile's own argument given to the master only reaches its workers, before
/// their `test_start` and in their tasks, as under Locust, in every pairing.
#[test]
fn a_masters_own_arguments_reach_its_workers_as_under_locust() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let (l, s) = (locust(), stampede());
    let args = ["--greeting", "from the master", "--rounds", "3"];
    let run = |m: &Path, w: &Path, log: &str| {
        pair_with(
            m,
            w,
            &target.url,
            &dir.path().join(log),
            "forwarded_options.py",
            &args,
        )
        .0
    };
    let oracle = run(&l, &l, "ll.log");
    let worker_start = format!(
        "worker test_start: greeting='from the master' rounds=3 host='{}'",
        target.url
    );
    assert!(oracle.contains(&worker_start), "{oracle:?}");
    for (name, master, worker) in [
        ("Stampede master, Stampede worker", &s, &s),
        ("Locust master, Stampede worker", &l, &s),
        ("Stampede master, Locust worker", &s, &l),
    ] {
        let log = format!("{}.log", name.replace([' ', ','], "_"));
        assert_eq!(run(master, worker, &log), oracle, "{name}");
    }
}

/// `--tags` given to a master decides its workers' tasks, as Locust's workers take it from
/// the spawn, in every pairing.
#[test]
fn a_masters_tags_pick_its_workers_tasks_in_every_pairing() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let (l, s) = (locust(), stampede());
    for (name, master, worker) in [
        ("Locust master, Locust worker", &l, &l),
        ("Stampede master, Stampede worker", &s, &s),
        ("Locust master, Stampede worker", &l, &s),
        ("Stampede master, Locust worker", &s, &l),
    ] {
        let slug = name.replace([' ', ','], "_");
        let csv = dir.path().join(&slug);
        let log = dir.path().join(format!("{slug}.log"));
        let args = ["--tags", "a", "--csv", csv.to_str().unwrap()];
        let (_, stderr) = pair_with(master, worker, &target.url, &log, "tagged.py", &args);
        let names: Vec<String> = stats(&csv).into_keys().map(|(_, n)| n).collect();
        assert_eq!(names, ["a"], "{name}\n{stderr}");
    }
}

/// A master reads its runner (target user count, worker count, clients) at test start to
/// share data out by worker id; a worker knows its index; `test_stopping` fires and the
/// state is `stopped` in `test_stop`: as under Locust, in every pairing.
#[test]
fn a_master_shares_data_out_by_its_runners_clients_as_under_locust() {
    let target = Counter::start();
    let dir = tempfile::tempdir().unwrap();
    let (l, s) = (locust(), stampede());
    let run = |m: &Path, w: &Path, log: &str| {
        pair_with(
            m,
            w,
            &target.url,
            &dir.path().join(log),
            "split_users.py",
            &[],
        )
    };
    let (oracle, _) = run(&l, &l, "ll.log");
    assert!(
        oracle.contains("worker 0 got ['user0', 'user1']"),
        "{oracle:?}"
    );
    for (name, master, worker) in [
        ("Stampede master, Stampede worker", &s, &s),
        ("Locust master, Stampede worker", &l, &s),
        ("Stampede master, Locust worker", &s, &l),
    ] {
        let (seen, stderr) = run(
            master,
            worker,
            &format!("{}.log", name.replace([' ', ','], "_")),
        );
        assert_eq!(seen, oracle, "{name}\n{stderr}");
    }
}
