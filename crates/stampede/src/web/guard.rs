//! What stands in front of every UI and API route:
//! - a `Host` header naming the UI itself (the defence against DNS rebinding, where a page
//!   on a name the attacker controls is pointed at 127.0.0.1);
//! - HTTP Basic auth when `--web-auth` is set;
//! - refusal of state-changing requests (`/swarm`, `/stop`, `/stats/reset`, whatever the
//!   method) from another origin: an `Origin` of another host, or `Sec-Fetch-Site`
//!   `cross-site` or `same-site`. Scripts and curl send neither and are let through, as
//!   Locust's own clients must be.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::config::WebAuth;

/// The routes that change state.
const STATE_CHANGING: [&str; 3] = ["/swarm", "/stop", "/stats/reset"];

/// What the guard checks against.
#[derive(Clone, Debug)]
pub struct Guard {
    /// The `--web-auth` credentials every request must carry, if any.
    pub auth: Option<WebAuth>,
    /// Host names (without port) the UI answers to.
    hosts: Vec<String>,
    port: u16,
}

impl Guard {
    /// For a UI bound to `bound`: on loopback, `127.0.0.1`, `[::1]` and `localhost`;
    /// otherwise the address it listens on; plus `extra` (`--web-allowed-hosts`). A UI on
    /// an unspecified address (`0.0.0.0`) answers to any host, as there is no one name.
    pub fn new(auth: Option<WebAuth>, bound: SocketAddr, extra: &[String]) -> Self {
        let mut hosts: Vec<String> = extra.iter().map(|h| h.to_ascii_lowercase()).collect();
        let ip = bound.ip();
        if ip.is_loopback() {
            hosts.extend(["127.0.0.1", "[::1]", "localhost"].map(str::to_owned));
        } else if !ip.is_unspecified() {
            hosts.push(match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            });
        }
        if ip.is_unspecified() {
            hosts.clear();
        }
        Self {
            auth,
            hosts,
            port: bound.port(),
        }
    }

    /// Whether the `Host` header names this UI (a missing one is let through).
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if self.hosts.is_empty() {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let host = host.to_ascii_lowercase();
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !p.contains(']') => (n, p.parse::<u16>().ok()),
            _ => (host.as_str(), None),
        };
        port.is_none_or(|p| p == self.port) && self.hosts.iter().any(|h| h == name)
    }
}

pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    if !g.host_allowed(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "unknown Host: this UI answers to its own address (add names with --web-allowed-hosts)\n",
        )
            .into_response();
    }
    if let Some(auth) = &g.auth {
        if !authorized(req.headers(), auth) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"stampede\"")],
                "authentication required\n",
            )
                .into_response();
        }
    }
    if STATE_CHANGING.contains(&req.uri().path())
        && (foreign_origin(req.headers()) || foreign_fetch(req.headers()))
    {
        return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
    }
    next.run(req).await
}

fn authorized(headers: &HeaderMap, auth: &WebAuth) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", auth.user, auth.password);
    // Constant-time comparison, so the password cannot be guessed byte by byte.
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

/// True when an `Origin` header names another host than the one the request was sent to.
/// Requests without `Origin` (curl, scripts) are allowed.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// A browser's own word that the request comes from another site.
fn foreign_fetch(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.eq_ignore_ascii_case("cross-site") || v.eq_ignore_ascii_case("same-site")
        })
}
