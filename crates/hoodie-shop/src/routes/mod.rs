//! The shop's routes, Saleor's URLs. Handlers read the visitor, do the work, and hand the
//! response back through [`Visit::finish`] so cookies are set in one place.

mod account;
mod catalog;
mod checkout;
mod order;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::csrf;
use crate::db::{Db, DbError};
use crate::form::Form;
use crate::pages;
use crate::visit::{Sessions, Visit};

pub(crate) use account::{valid_email, MIN_PASSWORD};

/// Everything the handlers share.
pub struct ShopState {
    pub db: Db,
    pub sessions: Sessions,
    /// Signs the guest `cart` cookie.
    pub secret: [u8; 32],
    /// PBKDF2 rounds for new passwords (Django 1.11, which Saleor ran, used 36,000).
    pub password_iterations: u32,
}

pub type Shop = Arc<ShopState>;

/// A failure of the shop itself (the database), never of the visitor's input.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, "Server Error (500)").into_response()
    }
}

pub type HandlerResult = Result<Response, AppError>;

pub fn router(shop: Shop) -> Router {
    Router::new()
        .route("/", get(catalog::home))
        .route("/search/", get(catalog::search))
        .route("/products/category/{slug_id}/", get(catalog::category))
        .route("/products/{slug_id}/", get(catalog::product))
        .route(
            "/products/{slug_id}/add/",
            post(catalog::add_to_cart).get(catalog::add_to_cart_get),
        )
        .route("/cart/", get(catalog::cart))
        .route("/cart/update/{variant_id}/", post(catalog::cart_update))
        .route(
            "/account/signup/",
            get(account::signup_page).post(account::signup),
        )
        .route(
            "/account/login/",
            get(account::login_page).post(account::login),
        )
        .route("/account/logout/", get(account::logout))
        .route("/checkout/", get(checkout::index))
        .route(
            "/checkout/shipping-address/",
            get(checkout::address_page).post(checkout::address),
        )
        .route(
            "/checkout/shipping-method/",
            get(checkout::method_page).post(checkout::method),
        )
        .route(
            "/checkout/summary/",
            get(checkout::summary_page).post(checkout::summary),
        )
        .route("/order/{token}/", get(order::details))
        .route(
            "/order/{token}/payment/",
            get(order::payment_page).post(order::payment),
        )
        .route(
            "/order/{token}/payment/default/",
            get(order::gateway_page).post(order::gateway),
        )
        .nest("/api", crate::api::router())
        .fallback(fallback)
        .with_state(shop)
}

/// Django's APPEND_SLASH: `/cart` redirects to `/cart/`; anything else is a 404 page, in
/// JSON under `/api`.
async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if crate::api::is_api_path(path) {
        return crate::api::no_route(req.method(), path);
    }
    if !path.ends_with('/') && req.method() == http::Method::GET {
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        return redirect(StatusCode::MOVED_PERMANENTLY, &format!("{path}/{query}"));
    }
    not_found()
}

pub(crate) fn page(status: StatusCode, body: String) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [(http::header::LOCATION, to.to_owned())]).into_response()
}

pub(crate) fn found(to: &str) -> Response {
    redirect(StatusCode::FOUND, to)
}

pub(crate) fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, pages::not_found())
}

pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Reads the visitor from the request headers.
pub(crate) fn visit(shop: &Shop, headers: &HeaderMap) -> Visit {
    Visit::load(&shop.sessions, &shop.secret, headers)
}

pub(crate) fn finish(shop: &Shop, v: Visit, resp: Response) -> Response {
    v.finish(&shop.sessions, &shop.secret, resp)
}

/// A request refused by the CSRF check, with Django's reason.
pub(crate) struct Forbidden(&'static str);

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        page(StatusCode::FORBIDDEN, pages::csrf_failure(self.0))
    }
}

/// Django's CSRF middleware for a POST: the form field or the `X-CSRFToken` header must
/// match the `csrftoken` cookie.
pub(crate) fn check_csrf(v: &Visit, headers: &HeaderMap, form: &Form) -> Result<(), Forbidden> {
    let header = headers.get("x-csrftoken").and_then(|h| h.to_str().ok());
    csrf::check(v.csrf_cookie(), form.get("csrfmiddlewaretoken"), header).map_err(Forbidden)
}

/// Parses a POST body and checks CSRF in one step.
pub(crate) fn posted(v: &Visit, headers: &HeaderMap, body: &Bytes) -> Result<Form, Forbidden> {
    let form = Form::parse(body);
    check_csrf(v, headers, &form)?;
    Ok(form)
}

/// `codemash-1` -> (`codemash`, 1).
pub(crate) fn slug_id(s: &str) -> Option<(&str, i64)> {
    let (slug, id) = s.rsplit_once('-')?;
    Some((slug, id.parse().ok().filter(|i| *i > 0)?))
}

/// Renders a form page and finishes the visit: `body` gets the signed-in visitor's email and
/// a fresh CSRF token.
pub(crate) fn render(
    shop: &Shop,
    mut v: Visit,
    body: impl FnOnce(Option<&str>, &str) -> String,
) -> HandlerResult {
    let user = user_email(shop, &v)?;
    let token = v.csrf_token();
    Ok(finish(
        shop,
        v,
        page(StatusCode::OK, body(user.as_deref(), &token)),
    ))
}

/// The signed-in visitor's email, for the page header.
pub(crate) fn user_email(shop: &Shop, v: &Visit) -> Result<Option<String>, AppError> {
    match v.user_id() {
        Some(id) => Ok(shop.db.user_email(id)?),
        None => Ok(None),
    }
}

pub(crate) fn is_ajax(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .and_then(|h| h.to_str().ok())
        == Some("XMLHttpRequest")
}
