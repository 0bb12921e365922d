//! What the Python front's tests share: the installed `stampede` command and real Locust
//! (both in `target/locust-venv`, installed by `scripts/test`), a Hoodie Shop on a free
//! loopback port, and Locust's CSV reports read back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv() -> PathBuf {
    std::env::var_os("STAMPEDE_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/locust-venv"))
}

/// A command of the test venv; missing means `scripts/test` did not install it: fail.
fn tool(name: &str, env: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| venv().join("bin").join(name));
    assert!(
        path.exists(),
        "{} not found: run ./scripts/test, which installs it (or set {env})",
        path.display()
    );
    path
}

/// The Python front's command, `stampede`.
pub fn stampede() -> PathBuf {
    tool("stampede", "STAMPEDE_PY")
}

/// Real Locust 2.47.
pub fn locust() -> PathBuf {
    tool("locust", "STAMPEDE_LOCUST")
}

/// A locustfile of these tests.
pub fn locustfile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/locustfiles")
        .join(name)
}

/// A Hoodie Shop on a free loopback port, on its own runtime thread, until dropped.
pub struct Shop {
    pub url: String,
    _dir: tempfile::TempDir,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Shop {
    pub fn start() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shop.db");
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let shop = hoodie_shop::start("127.0.0.1:0".parse().unwrap(), &db)
                    .await
                    .unwrap();
                let url = shop.url();
                url_tx.send(url).unwrap();
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                shop.shutdown().await;
            });
        });
        let url = url_rx.recv().unwrap().trim_end_matches('/').to_owned();
        Shop {
            url,
            _dir: dir,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loopback server that answers every request with `ok` and counts them: the reference
/// count a run's report must equal.
pub struct Counter {
    pub url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl Counter {
    pub fn start() -> Counter {
        use std::sync::atomic::{AtomicU64, Ordering};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let hits = std::sync::Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { "ok" }
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(async move { axum::serve(listener, app).await });
        Counter { url, hits, _rt: rt }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Runs `program` (Locust or Stampede) headless on `file` against `host`, with CSV
/// reports at `csv`; `extra` adds flags. Bounded by `-t` and a kill after 120 s.
pub fn run_headless(program: &Path, file: &Path, host: &str, csv: &Path, extra: &[&str]) -> Output {
    run_headless_env(program, file, host, csv, extra, &[])
}

/// [`run_headless`] with environment variables set.
pub fn run_headless_env(
    program: &Path,
    file: &Path,
    host: &str,
    csv: &Path,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> Output {
    let mut cmd = Command::new("timeout");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.arg("120")
        .arg(program)
        .arg("-f")
        .arg(file)
        .args(["--headless", "--host", host, "--csv"])
        .arg(csv)
        .args(extra)
        .current_dir(file.parent().unwrap())
        .env_remove("LOCUST_HOST");
    // The Python layer's own settings must not leak into real Locust, and back.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let out = cmd.output().unwrap();
    if !out.status.success() && out.status.code() != Some(1) {
        eprintln!(
            "{} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            program.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// `PREFIX_stats.csv` as (Type, Name) → (requests, failures), Aggregated left out.
pub fn stats(csv: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let text = std::fs::read_to_string(format!("{}_stats.csv", csv.display()))
        .unwrap_or_else(|e| panic!("{}_stats.csv: {e}", csv.display()));
    let mut out = BTreeMap::new();
    for row in rows(&text).into_iter().skip(1) {
        if row.len() < 4 || row[1] == "Aggregated" {
            continue;
        }
        out.insert(
            (row[0].clone(), row[1].clone()),
            (row[2].parse().unwrap(), row[3].parse().unwrap()),
        );
    }
    out
}

/// `PREFIX_failures.csv` as (Method, Name, Error) → occurrences.
pub fn failures(csv: &Path) -> BTreeMap<(String, String, String), u64> {
    let text = std::fs::read_to_string(format!("{}_failures.csv", csv.display())).unwrap();
    let mut out = BTreeMap::new();
    for row in rows(&text).into_iter().skip(1) {
        if row.len() >= 4 {
            out.insert(
                (row[0].clone(), row[1].clone(), row[2].clone()),
                row[3].parse().unwrap(),
            );
        }
    }
    out
}

/// `PREFIX_exceptions.csv` as message → count.
pub fn exceptions(csv: &Path) -> BTreeMap<String, u64> {
    let text =
        std::fs::read_to_string(format!("{}_exceptions.csv", csv.display())).unwrap_or_default();
    let mut out = BTreeMap::new();
    for row in rows(&text).into_iter().skip(1) {
        if row.len() >= 2 {
            *out.entry(row[1].clone()).or_default() += row[0].parse::<u64>().unwrap_or(0);
        }
    }
    out
}

/// A small CSV reader: quoted fields with doubled quotes and newlines inside.
pub fn rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A loopback port free now, as text (for a master's `--master-bind-port`).
pub fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}
