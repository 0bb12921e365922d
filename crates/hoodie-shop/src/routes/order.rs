//! Orders: details and the dummy payment. An order is visible only to the session (or the
//! user) that placed it; anyone else gets a 404, as if it did not exist.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::{
    finish, found, not_found, page, posted, render, user_email, visit, AppError, HandlerResult,
    Shop,
};
use crate::address::FieldErrors;
use crate::db::Order;
use crate::pages;
use crate::visit::Visit;

fn own_order(shop: &Shop, v: &Visit, token: &str) -> Result<Option<Order>, AppError> {
    if uuid::Uuid::parse_str(token).is_err() {
        return Ok(None);
    }
    let Some(order) = shop.db.order(token)? else {
        return Ok(None);
    };
    let by_session = v.session_key.as_deref() == Some(order.session_key.as_str());
    let by_user = order.user_id.is_some() && order.user_id == v.user_id();
    Ok((by_session || by_user).then_some(order))
}

pub async fn details(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let Some(o) = own_order(&shop, &v, &token)? else {
        return Ok(not_found());
    };
    let body = pages::order(user_email(&shop, &v)?.as_deref(), &o);
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub async fn payment_page(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let Some(o) = own_order(&shop, &v, &token)? else {
        return Ok(not_found());
    };
    if o.paid {
        return Ok(finish(&shop, v, found(&format!("/order/{token}/"))));
    }
    render(&shop, v, |user, csrf| {
        pages::payment_choice(user, &o, csrf, &FieldErrors::new())
    })
}

pub async fn payment(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let Some(o) = own_order(&shop, &v, &token)? else {
        return Ok(not_found());
    };
    if form.get("method") == "default" {
        return Ok(finish(
            &shop,
            v,
            found(&format!("/order/{token}/payment/default/")),
        ));
    }
    let errors: FieldErrors = [(
        "method".to_owned(),
        vec!["Select a valid choice.".to_owned()],
    )]
    .into();
    render(&shop, v, |user, csrf| {
        pages::payment_choice(user, &o, csrf, &errors)
    })
}

pub async fn gateway_page(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let Some(o) = own_order(&shop, &v, &token)? else {
        return Ok(not_found());
    };
    render(&shop, v, |user, csrf| {
        pages::payment_gateway(user, &o, csrf, &FieldErrors::new())
    })
}

/// The dummy gateway: `status=confirmed` pays the order; other known statuses leave it
/// unpaid and show the order; anything else is a form error.
pub async fn gateway(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let Some(o) = own_order(&shop, &v, &token)? else {
        return Ok(not_found());
    };
    match form.get("status") {
        "confirmed" => {
            shop.db.mark_paid(&token)?;
            Ok(finish(&shop, v, found(&format!("/order/{token}/"))))
        }
        "waiting" | "preauth" | "rejected" | "error" => {
            Ok(finish(&shop, v, found(&format!("/order/{token}/"))))
        }
        other => {
            let msg = if other.is_empty() {
                "This field is required."
            } else {
                "Select a valid choice. That choice is not one of the available choices."
            };
            let errors: FieldErrors = [("status".to_owned(), vec![msg.to_owned()])].into();
            render(&shop, v, |user, csrf| {
                pages::payment_gateway(user, &o, csrf, &errors)
            })
        }
    }
}
