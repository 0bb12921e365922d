//! What stands in front of every UI and API route: HTTP Basic auth when `--web-auth` is
//! set, and refusal of state-changing requests from another origin (a page elsewhere must
//! not be able to start a load test from a visitor's browser).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::config::WebAuth;

pub async fn guard(State(auth): State<Option<WebAuth>>, req: Request, next: Next) -> Response {
    if let Some(auth) = &auth {
        if !authorized(req.headers(), auth) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"stampede\"")],
                "authentication required\n",
            )
                .into_response();
        }
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && foreign_origin(req.headers())
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
