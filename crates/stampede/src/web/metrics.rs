//! `/metrics`: the Prometheus exposition (`telemetry::prometheus` renders it) served on the
//! UI's port, and alone on `--prometheus-listen` for headless runs, masters and workers,
//! behind the same guard as the UI (its Host check and `--web-auth`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::config::Options;
use crate::telemetry::prometheus::{render, CONTENT_TYPE};
use crate::telemetry::Telemetry;

/// `GET /metrics`.
pub async fn metrics(State(t): State<Telemetry>) -> impl IntoResponse {
    let body = render(&t.read().await);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body)
}

/// A router with `/metrics` alone, behind the UI's guard (its Host check and
/// `--web-auth`).
pub fn router(t: Telemetry, guard: super::Guard) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(t)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            super::guard_layer,
        ))
}

/// Serves `/metrics` on `addr` (`HOST:PORT`; port 0 picks one) until `shutdown`; returns
/// the address bound.
async fn listen(
    addr: &str,
    o: &Options,
    t: Telemetry,
    shutdown: CancellationToken,
) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--prometheus-listen {addr}: cannot listen: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let guard = super::Guard::new(o.web_auth.clone(), bound, &o.web_allowed_hosts);
    tokio::spawn(super::serve::serve(
        listener,
        router(t, guard),
        super::serve::Limits::default(),
        shutdown,
    ));
    Ok(bound)
}

/// `--prometheus-listen`, when given: serves until `shutdown` and says where. An error is
/// the usage's (exit code 2).
pub async fn listen_if_asked(
    o: &Options,
    t: &Telemetry,
    shutdown: &CancellationToken,
) -> Result<Option<SocketAddr>, String> {
    let Some(addr) = &o.prometheus_listen else {
        return Ok(None);
    };
    let bound = listen(addr, o, t.clone(), shutdown.clone()).await?;
    eprintln!("Prometheus metrics at http://{bound}/metrics");
    Ok(Some(bound))
}
