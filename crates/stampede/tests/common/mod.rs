//! A real HTTP server on 127.0.0.1:0 for the engine's tests, counting what it serves.
#![allow(dead_code)]

pub mod raw;
pub mod running;
pub mod scripted;
pub mod webui;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use stampede::advanced::client::ClientConfig;
use stampede::advanced::stats::{spawn_aggregator, StatsHandle, UserCounts};

/// Requests served, by path.
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, u64>>>);

impl Hits {
    pub fn get(&self, path: &str) -> u64 {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// The count of `path` once it reaches `at_least` (or after 10 s), then a moment later:
    /// the server counts a request when it has parsed it, which can lag the client's stop
    /// on a busy machine. A count short of `at_least` after 10 s is a lost request; one
    /// past it, a request the report missed.
    pub async fn settled_at(&self, path: &str, at_least: u64) -> u64 {
        for _ in 0..500 {
            if self.get(path) >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.get(path)
    }
    fn hit(&self, path: &str) {
        *self.0.lock().unwrap().entry(path.to_owned()).or_default() += 1;
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub hits: Hits,
}

impl TestServer {
    pub fn url(&self) -> url::Url {
        format!("http://{}/", self.addr).parse().unwrap()
    }
}

#[derive(serde::Deserialize)]
struct Slow {
    ms: u64,
}

#[derive(serde::Deserialize)]
struct Target {
    url: String,
}

pub async fn start() -> TestServer {
    let hits = Hits::default();
    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/fail", any(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "nope") }))
        .route("/redirect", get(|| async { redirect(StatusCode::FOUND, "/landing") }))
        .route("/redirect-loop", get(|| async { redirect(StatusCode::FOUND, "/redirect-loop") }))
        .route("/post-redirect", post(|| async { redirect(StatusCode::FOUND, "/landing") }))
        .route("/redirect-to", get(|Query(t): Query<Target>| async move { (StatusCode::FOUND, [("location", t.url)]).into_response() }))
        .route("/keep-redirect", post(|| async { redirect(StatusCode::TEMPORARY_REDIRECT, "/landing") }))
        .route("/landing", any(|method: Method, body: String| async move { format!("{method} landed {body}") }))
        .route(
            "/set-cookie",
            get(|| async {
                // Saleor's guest cart cookie, float Max-Age and all.
                let cookie = "cart=0f1e2d3c-aaaa-bbbb-cccc-000000000001:sig; expires=Thu, 01 Jan 2037 00:00:00 GMT; Max-Age=315360000.0; Path=/";
                (axum::response::AppendHeaders([("set-cookie", cookie), ("set-cookie", "csrftoken=abc123; Path=/")]), "cookies set")
            }),
        )
        .route("/deep/echo-cookie", get(|h: HeaderMap| async move { header(&h, "cookie") }))
        .route("/echo-headers", any(|h: HeaderMap| async move { format!("{h:?}") }))
        // The client's port: the same port on two requests means one connection.
        .route("/peer", get(|axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>| async move { peer.port().to_string() }))
        .route("/slow", get(|Query(s): Query<Slow>| async move {
            tokio::time::sleep(Duration::from_millis(s.ms)).await;
            "slow"
        }))
        .route(
            "/form",
            get(|| async {
                axum::response::Html(
                    r#"<html><body><form><input type="hidden" name="csrfmiddlewaretoken" value="tok-123"><input name="email"></form>
                    <div class="category-list"><a href="/p/1/">One</a><a href="/p/2/">Two</a></div>
                    <div id="variant-picker" data-variant-picker-data='{"variants":[{"id":1,"price":45.0}]}'></div></body></html>"#,
                )
            }),
        )
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_counting(listener, app, hits.clone()));
    TestServer { addr, hits }
}

/// Serves `app`, counting each request the moment hyper has read its head: in the
/// service's `call`, before anything is awaited. (A count inside an axum middleware runs
/// only when the request's future is first polled; a request whose client hung up right
/// after sending it can be dropped unpolled, and would go uncounted though it arrived.)
async fn serve_counting(listener: tokio::net::TcpListener, app: Router, hits: Hits) {
    use tower::ServiceExt;
    while let Ok((sock, peer)) = listener.accept().await {
        let (app, hits) = (app.clone(), hits.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    hits.hit(req.uri().path());
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    app.clone().oneshot(req)
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), service)
                .await;
        });
    }
}

fn redirect(status: StatusCode, to: &'static str) -> Response {
    (status, [("location", to)]).into_response()
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A client and the stats handle it records into.
pub fn client(base: url::Url) -> (stampede::Client, StatsHandle) {
    client_with(base, ClientConfig::new(false))
}

/// [`client`] with settings of its own.
pub fn client_with(base: url::Url, config: ClientConfig) -> (stampede::Client, StatsHandle) {
    let counts = Arc::new(UserCounts::new(vec!["T".into()]));
    let stats = spawn_aggregator(counts, "test".into(), false, Default::default());
    let client = stampede::Client::new(base, config, stats.recorder());
    (client, stats)
}

/// `target/<profile>/examples/<name>`, which `cargo test` builds next to the test binaries.
pub fn example(name: &str) -> std::path::PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing; cargo test builds the examples",
        path.display()
    );
    path
}

/// A port that was free a moment ago, for a process that must be told its port before it
/// binds (a master and its workers, servers that cannot bind port 0 and say which port
/// they got). Another process may take it first; callers that can, retry.
pub fn probed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Users that each GET `/slow?ms=5` ("slow") without a pause: a stop nearly always finds
/// requests in flight.
pub fn busy_plan() -> stampede::Plan {
    use stampede::prelude::*;
    struct Busy(Client);
    impl Busy {
        async fn slow(&mut self) -> TaskResult {
            self.0.get("/slow?ms=5").name("slow").send().await?;
            Ok(())
        }
    }
    Plan::new().user_type(UserType::new("Busy", |ctx| Busy(ctx.client())).task(task!(Busy::slow)))
}

/// The Locust that `scripts/test` installs (or `STAMPEDE_LOCUST`); fails clearly if absent.
#[allow(dead_code)]
pub fn locust() -> std::path::PathBuf {
    let path = std::path::PathBuf::from(std::env::var("STAMPEDE_LOCUST").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/locust-venv/bin/locust"
        )
        .to_owned()
    }));
    assert!(
        path.exists(),
        "Locust is not installed at {} (scripts/test installs it)",
        path.display()
    );
    path
}
