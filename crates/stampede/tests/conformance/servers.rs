//! Real third-party servers for the conformance suite, each serving the suite's tiny site
//! (a page, a redirect, a form) and logging every request in a format the suite reads back.
//!
//! The servers come from Debian (nginx, Apache), PyPI (gunicorn, uvicorn, Django, in the
//! venv `scripts/test` makes) and Node. A missing one fails its test, never skips it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a server writes its log lines: `METHOD PATH STATUS TIME`, the time in this unit.
#[derive(Clone, Copy, Debug)]
pub enum TimeUnit {
    Seconds,
    Micros,
    Millis,
}

pub struct Server {
    pub name: &'static str,
    pub port: u16,
    /// The server's idle keep-alive timeout, as configured or by its default.
    pub idle_timeout: Duration,
    log: PathBuf,
    unit: TimeUnit,
    child: Child,
    _dir: tempfile::TempDir,
}

/// What a server's log says: requests and the longest answer time (ms) per (method, path).
#[derive(Debug, Default)]
pub struct Log {
    pub hits: BTreeMap<(String, String), u64>,
    pub max_ms: f64,
}

impl Log {
    pub fn total(&self) -> u64 {
        self.hits.values().sum()
    }
    pub fn count(&self, method: &str, path: &str) -> u64 {
        self.hits
            .get(&(method.to_owned(), path.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The log as it stands, once it has stopped growing (servers write after answering).
    pub fn log(&self) -> Log {
        let mut last = String::new();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(100));
            let now = std::fs::read_to_string(&self.log).unwrap_or_default();
            if now == last && !now.is_empty() {
                break;
            }
            last = now;
        }
        parse_log(&last, self.unit)
    }

    /// Empties the log (between scenarios on one server).
    pub fn clear_log(&self) {
        std::fs::write(&self.log, "").unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: nginx and Apache then take their worker processes along.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_log(text: &str, unit: TimeUnit) -> Log {
    let mut log = Log::default();
    for line in text.lines() {
        // Apache's `%r` puts the protocol between the path and the status.
        let mut f = line.split_whitespace().filter(|w| !w.starts_with("HTTP/"));
        let (Some(method), Some(path), Some(_status), Some(t)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let path = path.split('?').next().unwrap_or(path);
        *log.hits
            .entry((method.to_owned(), path.to_owned()))
            .or_default() += 1;
        let t: f64 = t.parse().unwrap_or(0.0);
        let ms = match unit {
            TimeUnit::Seconds => t * 1000.0,
            TimeUnit::Micros => t / 1000.0,
            TimeUnit::Millis => t,
        };
        log.max_ms = log.max_ms.max(ms);
    }
    log
}

/// This test file's folder: the apps and their configs.
fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// A Python tool from the venv `scripts/test` makes (`STAMPEDE_PY_VENV`), else from PATH.
fn py_tool(name: &str) -> PathBuf {
    let venv = std::env::var("STAMPEDE_PY_VENV")
        .unwrap_or_else(|_| format!("{}/../../target/locust-venv", env!("CARGO_MANIFEST_DIR")));
    let path = Path::new(&venv).join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing (scripts/test installs gunicorn, uvicorn and Django)",
        path.display()
    );
    path
}

fn system_tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed (scripts/test installs it from Debian)");
}

/// A port that was free a moment ago, for servers that cannot bind port 0 and say which
/// port they got (nginx, Apache, Django's runserver, uvicorn). Another process may take it
/// before the server binds it: [`launch`] then tries another.
fn free_port() -> u16 {
    crate::common::probed_port()
}

/// Waits until `port` accepts connections; `Err` if the server exited first (a port taken
/// meanwhile, most likely).
fn wait_listening(name: &str, port: u16, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{name} exited before listening on {port}: {status}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{name} did not listen on {port} within 30 s");
}

/// Waits until the server answers a request, then empties its log of that request. A port
/// that accepts connections is not yet a server that answers: gunicorn's master listens
/// before its worker has loaded the app, and the first request of a test would wait for
/// the boot (seen: 1.3 s, where the server's own log said 0.05 ms).
fn wait_answering(name: &str, port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "{name} did not answer within 30 s"
        );
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut head = [0u8; 7];
        let asked = s
            .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_ok();
        if asked && s.read_exact(&mut head).is_ok() && &head == b"HTTP/1." {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Servers write their log line after answering: wait for it before emptying the log.
    let logged = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(log).unwrap_or_default().is_empty() && Instant::now() < logged {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(log, "").unwrap();
}

struct Spec {
    name: &'static str,
    idle_timeout: Duration,
    unit: TimeUnit,
}

/// Starts the server `make` describes for a port, on a probed port, retrying with another
/// when it cannot bind (up to three ports).
fn launch(spec: Spec, dir: tempfile::TempDir, make: impl Fn(u16, &Path) -> Command) -> Server {
    let log = dir.path().join("requests.log");
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        std::fs::write(&log, "").unwrap();
        let out = std::fs::File::create(dir.path().join("server.out")).unwrap();
        let mut child = make(port, dir.path())
            .env("CONFORMANCE_LOG", &log)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", spec.name));
        match wait_listening(spec.name, port, &mut child) {
            Ok(()) => {
                wait_answering(spec.name, port, &log);
                return Server {
                    name: spec.name,
                    port,
                    idle_timeout: spec.idle_timeout,
                    log,
                    unit: spec.unit,
                    child,
                    _dir: dir,
                };
            }
            Err(e) => {
                let said =
                    std::fs::read_to_string(dir.path().join("server.out")).unwrap_or_default();
                last = format!("{e}\n{said}");
            }
        }
    }
    panic!("{last}");
}

fn site(dir: &Path) -> PathBuf {
    let root = dir.join("site");
    std::fs::create_dir_all(&root).unwrap();
    for (file, body) in [
        (
            "index.html",
            "<html><body><h1>Conformance</h1></body></html>",
        ),
        ("landing", "<html><body>landed</body></html>"),
        (
            "form",
            "<html><body><form method='post'><input name='name'></form></body></html>",
        ),
    ] {
        std::fs::write(root.join(file), body).unwrap();
    }
    // nginx's workers and Apache's children run as unprivileged users.
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(dir).status();
    root
}

/// nginx with a short `keepalive_timeout` and small `keepalive_requests`; with `upstream`,
/// a reverse proxy to it (keep-alive to the upstream too) instead of the static site.
pub fn nginx(upstream: Option<u16>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = site(dir.path());
    let body = match upstream {
        None => format!(
            "root {};\n location = /redirect {{ return 302 /landing; }}\n location = /form {{ if ($request_method = POST) {{ return 200 \"posted\\n\"; }} }}",
            root.display()
        ),
        Some(up) => format!(
            "location / {{ proxy_pass http://127.0.0.1:{up}; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host $http_host; }}"
        ),
    };
    let spec = Spec {
        name: if upstream.is_some() {
            "nginx proxy"
        } else {
            "nginx"
        },
        idle_timeout: Duration::from_secs(2),
        unit: TimeUnit::Seconds,
    };
    launch(spec, dir, |port, dir| {
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\nevents {{ worker_connections 1024; }}\nhttp {{\n log_format conformance '$request_method $request_uri $status $request_time';\n access_log {d}/requests.log conformance;\n client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n keepalive_timeout 2s;\n keepalive_requests 10;\n server {{\n listen 127.0.0.1:{port};\n {body}\n }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = Command::new(system_tool("nginx"));
        cmd.arg("-c").arg(&path);
        cmd
    })
}

/// Apache httpd (event MPM) with a 2 s `KeepAliveTimeout`; the form's POST answers 303.
pub fn apache() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = site(dir.path());
    let spec = Spec {
        name: "Apache",
        idle_timeout: Duration::from_secs(2),
        unit: TimeUnit::Micros,
    };
    launch(spec, dir, |port, dir| {
        let conf = std::fs::read_to_string(here().join("httpd.conf"))
            .unwrap()
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", &dir.display().to_string())
            .replace("@ROOT@", &root.display().to_string());
        let path = dir.join("httpd.conf");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = Command::new(system_tool("apache2"));
        cmd.arg("-f").arg(&path).arg("-DFOREGROUND");
        cmd
    })
}

/// gunicorn's sync worker, which closes the connection after every response.
pub fn gunicorn() -> Server {
    let spec = Spec {
        name: "gunicorn",
        idle_timeout: Duration::from_secs(2),
        unit: TimeUnit::Millis,
    };
    launch(spec, tempfile::tempdir().unwrap(), |port, _| {
        let mut cmd = Command::new(py_tool("gunicorn"));
        cmd.arg("--chdir").arg(here()).args([
            "-w",
            "1",
            "-b",
            &format!("127.0.0.1:{port}"),
            "app:wsgi_app",
        ]);
        cmd
    })
}

/// uvicorn with its default 5 s keep-alive.
pub fn uvicorn() -> Server {
    let spec = Spec {
        name: "uvicorn",
        idle_timeout: Duration::from_secs(5),
        unit: TimeUnit::Millis,
    };
    launch(spec, tempfile::tempdir().unwrap(), |port, _| {
        let mut cmd = Command::new(py_tool("uvicorn"));
        cmd.arg("--app-dir").arg(here()).args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "app:asgi_app",
        ]);
        cmd
    })
}

/// Django's development server (`runserver`).
pub fn django() -> Server {
    let spec = Spec {
        name: "Django runserver",
        idle_timeout: Duration::from_secs(2),
        unit: TimeUnit::Millis,
    };
    launch(spec, tempfile::tempdir().unwrap(), |port, _| {
        let mut cmd = Command::new(py_tool("python"));
        cmd.arg(here().join("django_app.py")).args([
            "runserver",
            &format!("127.0.0.1:{port}"),
            "--noreload",
        ]);
        cmd
    })
}

/// Node's own `http` server, default 5 s `keepAliveTimeout`; binds port 0 and says which.
pub fn node() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    std::fs::write(&log, "").unwrap();
    let mut child = Command::new("node")
        .arg(here().join("node_app.js"))
        .env("CONFORMANCE_LOG", &log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is on every machine this project runs on");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("node said '{line}' instead of its port"));
    Server {
        name: "Node http",
        port,
        idle_timeout: Duration::from_secs(5),
        log,
        unit: TimeUnit::Millis,
        child,
        _dir: dir,
    }
}
