//! The latency-fidelity target of `bench/latency`: answers every request after 20 ms and
//! keeps its own HDR histogram of the time from receiving the request to handing back the
//! answer, so each load tool's reported latency can be compared with the server's truth.
//!
//!     cargo bench --bench slow_target -- PORT_FILE
//!
//! `GET /__stats` returns `{"count", "p50_ms", "p99_ms"}` and starts afresh.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use hdrhistogram::Histogram;

type Shared = Arc<Mutex<Histogram<u64>>>;

async fn slow(State(h): State<Shared>) -> &'static str {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _ = h.lock().unwrap().record(start.elapsed().as_micros() as u64);
    "slow"
}

async fn stats(State(h): State<Shared>) -> String {
    let mut h = h.lock().unwrap();
    let out = format!(
        "{{\"count\": {}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0
    );
    h.reset();
    out
}

#[tokio::main]
async fn main() {
    let port_file = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("a file to write the port to");
    let h: Shared = Arc::new(Mutex::new(Histogram::new(3).unwrap()));
    let app = axum::Router::new()
        .route("/__stats", get(stats))
        .fallback(get(slow))
        .with_state(h);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    std::fs::write(port_file, listener.local_addr().unwrap().port().to_string()).unwrap();
    axum::serve(listener, app).await.unwrap();
}
