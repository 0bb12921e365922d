//! The shop's JSON API under `/api`: token login, products, cart and orders, as a real API
//! is built (and as load-test plans for one are written), next to the storefront's forms.
//!
//! No cookies and no CSRF here. A client proves who it is with `Authorization: Bearer
//! <token>` on each request; a browser never attaches that header by itself, so another
//! site cannot make a visitor's browser send an authenticated request, which is the attack
//! CSRF tokens exist to stop. The storefront's forms keep their cookies and CSRF checks.
//!
//! Every answer, errors included, is JSON: an error is `{"error": "..."}` with its status.

mod auth;
mod db;
mod shop;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::db::DbError;
use crate::routes::Shop;

/// The largest body the API reads: its requests are a few dozen bytes, and a cap keeps a
/// client from making the shop buffer megabytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The API's routes, to be nested at `/api`. Its errors are JSON: a wrong method here, and
/// an unknown `/api/...` path through [`is_api_path`] in the storefront's fallback (the one
/// fallback sees the whole path, which a nested one would not).
pub fn router() -> Router<Shop> {
    Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login))
        .route("/products", get(shop::products))
        .route("/products/{id}", get(shop::product))
        .route("/cart", get(shop::cart))
        .route("/cart/items", post(shop::add_item))
        .route("/orders", post(shop::place_order))
        .route("/orders/{id}", get(shop::order))
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Whether a path is the API's, so that a miss there is answered in JSON, not with the
/// storefront's HTML 404 or its trailing-slash redirect.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The API's 404 for a path with no route.
pub fn no_route(method: &Method, path: &str) -> Response {
    ApiError::NotFound(format!("no route {method} {path}")).into_response()
}

/// Why an API request failed; each variant is one status, answered as `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// No usable token. `invalid` is set when a token was given but is not one the shop
    /// issued, which RFC 6750 reports as `error="invalid_token"`.
    #[error("{message}")]
    Unauthorized {
        message: &'static str,
        invalid: bool,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: Method, path: String },
    #[error("the body must be JSON, sent with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than {BODY_LIMIT} bytes")]
    TooLarge,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Db(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // The shop's own failures are logged, not shown: they may name tables or paths.
        let message = if status.is_server_error() {
            tracing::error!("api: {self}");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let mut resp = (status, Json(json!({ "error": message }))).into_response();
        if let ApiError::Unauthorized { invalid, .. } = self {
            let challenge = if invalid {
                "Bearer error=\"invalid_token\""
            } else {
                "Bearer"
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// Inside the nest the path has lost its `/api`, which the message puts back.
async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method,
        path: format!("/api{}", uri.path()),
    }
}

/// A JSON answer with its status.
pub fn reply(status: StatusCode, value: serde_json::Value) -> Response {
    (status, Json(value)).into_response()
}

/// Cents as the API's decimal string, `4500` -> `"45.00"`: exact, where a JSON number
/// would be read into a float by most clients.
pub fn price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Whether the request says its body is JSON (`application/json`, any parameters, or a
/// `+json` type).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The body's bytes within [`BODY_LIMIT`], the overflow answered as a JSON 413.
async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest(format!("cannot read the body: {e}"))
        }
    })
}

/// Parses a JSON object into `T`. Anything else is refused, even what serde would take: a
/// derived struct also reads from an array (`[1, 2]`), which no client means.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "invalid JSON body: expected an object, {...}".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// A JSON body, like axum's `Json` but with the API's errors: 415 for another content
/// type, 413 past the cap, and 400 naming the problem for anything that does not parse into
/// `T`, a missing field or a wrong type included (axum answers those 422, in plain text).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(JsonBody(parse(&read_body(req).await?)?))
    }
}

/// A body that may be left out: none at all, or a JSON object whose fields are ignored
/// (`POST /api/orders` takes nothing, and clients send either nothing or `{}`).
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let body = read_body(req).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let _: serde_json::Map<String, serde_json::Value> = parse(&body)?;
        Ok(NoBody)
    }
}

/// The `{id}` of a path. Anything but a positive whole number names nothing, so it is a 404
/// like an id that is not in the database; `raw` is kept for the message.
pub struct PathId {
    pub raw: String,
    pub id: Option<i64>,
}

impl PathId {
    fn new(raw: String) -> Self {
        let id = raw.parse().ok().filter(|id| *id > 0);
        PathId { raw, id }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = std::convert::Infallible;

    /// Never fails: a segment that is not UTF-8 once decoded (axum's `Path` answers that
    /// in plain text) is kept as sent, and names nothing.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => raw,
            Err(_) => parts.uri.path().rsplit('/').next().unwrap_or("").to_owned(),
        };
        Ok(PathId::new(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_content_types() {
        assert_eq!(price(4500), "45.00");
        assert_eq!(price(9005), "90.05");
        assert_eq!(price(0), "0.00");
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/vnd.api+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_json(&h), ok, "{ct}");
        }
        assert_eq!(PathId::new("7".into()).id, Some(7));
        assert_eq!(PathId::new("0".into()).id, None);
        assert_eq!(PathId::new("x".into()).id, None);
    }
}
