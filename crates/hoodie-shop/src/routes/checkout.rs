//! The checkout steps: shipping address, shipping method, summary (which places the order).
//! Progress lives in the session; each step sends visitors back if an earlier one is missing.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;

use super::{finish, found, page, posted, user_email, visit, AppError, HandlerResult, Shop};
use crate::address::{Address, FieldErrors};
use crate::db::CartLine;
use crate::pages;
use crate::visit::Visit;

/// The visitor's cart lines, or a redirect to the (empty) cart page.
fn cart_or_redirect(
    shop: &Shop,
    v: &mut Visit,
) -> Result<Result<Vec<CartLine>, Response>, AppError> {
    let lines = match v.cart_owner(false) {
        Some(owner) => shop.db.cart_lines(&owner)?,
        None => Vec::new(),
    };
    Ok(if lines.is_empty() {
        Err(found("/cart/"))
    } else {
        Ok(lines)
    })
}

pub async fn index(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let resp = match cart_or_redirect(&shop, &mut v)? {
        Err(r) => r,
        Ok(_) => found("/checkout/shipping-address/"),
    };
    Ok(finish(&shop, v, resp))
}

fn address_page_body(
    shop: &Shop,
    v: &mut Visit,
    email: &str,
    a: &Address,
    errors: &FieldErrors,
) -> Result<String, AppError> {
    let user = user_email(shop, v)?;
    Ok(pages::shipping_address(
        user.as_deref(),
        email,
        a,
        &v.csrf_token(),
        errors,
    ))
}

pub async fn address_page(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    if let Err(r) = cart_or_redirect(&shop, &mut v)? {
        return Ok(finish(&shop, v, r));
    }
    let saved = v.session.checkout.address.clone().unwrap_or_default();
    let email = v.session.checkout.email.clone().unwrap_or_default();
    let body = address_page_body(&shop, &mut v, &email, &saved, &FieldErrors::new())?;
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub async fn address(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    if let Err(r) = cart_or_redirect(&shop, &mut v)? {
        return Ok(finish(&shop, v, r));
    }
    let a = Address::from_form(&form);
    let mut errors = a.validate();
    let email = match user_email(&shop, &v)? {
        Some(user) => user,
        None => {
            let e = form.get("email").trim().to_owned();
            if e.is_empty() {
                errors.insert("email".into(), vec!["This field is required.".into()]);
            } else if !e.contains('@') || e.contains(char::is_whitespace) {
                errors.insert("email".into(), vec!["Enter a valid email address.".into()]);
            }
            e
        }
    };
    if form.has("address")
        && !matches!(form.get("address"), "new_address")
        && form.get("address").parse::<i64>().is_err()
    {
        errors.insert("address".into(), vec!["Select a valid choice.".into()]);
    }
    if !errors.is_empty() {
        let body = address_page_body(&shop, &mut v, &email, &a, &errors)?;
        return Ok(finish(&shop, v, page(StatusCode::OK, body)));
    }
    v.touch_session();
    v.session.checkout.email = Some(email);
    v.session.checkout.address = Some(a);
    Ok(finish(&shop, v, found("/checkout/shipping-method/")))
}

fn method_body(shop: &Shop, v: &mut Visit, errors: &FieldErrors) -> Result<String, AppError> {
    let user = user_email(shop, v)?;
    Ok(pages::shipping_method(
        user.as_deref(),
        &shop.db.shipping_methods()?,
        &v.csrf_token(),
        errors,
    ))
}

/// Redirects to the first checkout step the session has not done.
fn missing_step(v: &Visit, need_method: bool) -> Option<Response> {
    if v.session.checkout.address.is_none() {
        return Some(found("/checkout/shipping-address/"));
    }
    if need_method && v.session.checkout.method.is_none() {
        return Some(found("/checkout/shipping-method/"));
    }
    None
}

pub async fn method_page(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    if let Err(r) = cart_or_redirect(&shop, &mut v)? {
        return Ok(finish(&shop, v, r));
    }
    if let Some(r) = missing_step(&v, false) {
        return Ok(finish(&shop, v, r));
    }
    let body = method_body(&shop, &mut v, &FieldErrors::new())?;
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub async fn method(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    if let Err(r) = cart_or_redirect(&shop, &mut v)? {
        return Ok(finish(&shop, v, r));
    }
    if let Some(r) = missing_step(&v, false) {
        return Ok(finish(&shop, v, r));
    }
    let methods = shop.db.shipping_methods()?;
    match form
        .get("method")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| methods.iter().any(|(id, _, _)| id == m))
    {
        Some(m) => {
            v.session.checkout.method = Some(m);
            Ok(finish(&shop, v, found("/checkout/summary/")))
        }
        None => {
            let mut errors = FieldErrors::new();
            let msg = if form.get("method").is_empty() {
                "This field is required."
            } else {
                "Select a valid choice. That choice is not one of the available choices."
            };
            errors.insert("method".into(), vec![msg.into()]);
            let body = method_body(&shop, &mut v, &errors)?;
            Ok(finish(&shop, v, page(StatusCode::OK, body)))
        }
    }
}

fn summary_body(
    shop: &Shop,
    v: &mut Visit,
    lines: &[CartLine],
    errors: &FieldErrors,
) -> Result<String, AppError> {
    let user = user_email(shop, v)?;
    let shipping = v.session.checkout.address.clone().unwrap_or_default();
    Ok(pages::summary(
        user.as_deref(),
        lines,
        &shipping,
        &v.csrf_token(),
        errors,
    ))
}

pub async fn summary_page(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let lines = match cart_or_redirect(&shop, &mut v)? {
        Ok(l) => l,
        Err(r) => return Ok(finish(&shop, v, r)),
    };
    if let Some(r) = missing_step(&v, true) {
        return Ok(finish(&shop, v, r));
    }
    let body = summary_body(&shop, &mut v, &lines, &FieldErrors::new())?;
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

/// Places the order: billing is the shipping address, or a new one that must validate.
pub async fn summary(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let lines = match cart_or_redirect(&shop, &mut v)? {
        Ok(l) => l,
        Err(r) => return Ok(finish(&shop, v, r)),
    };
    if let Some(r) = missing_step(&v, true) {
        return Ok(finish(&shop, v, r));
    }
    let errors = match form.get("address") {
        "shipping_address" => FieldErrors::new(),
        "new_address" => Address::from_form(&form).validate(),
        "" => [(
            "address".to_owned(),
            vec!["This field is required.".to_owned()],
        )]
        .into(),
        _ => [(
            "address".to_owned(),
            vec!["Select a valid choice.".to_owned()],
        )]
        .into(),
    };
    if !errors.is_empty() {
        let body = summary_body(&shop, &mut v, &lines, &errors)?;
        return Ok(finish(&shop, v, page(StatusCode::OK, body)));
    }
    let owner = v.cart_owner(false).expect("a cart was found above");
    let checkout = v.session.checkout.clone();
    v.touch_session();
    let session_key = v.session_key.clone().unwrap_or_default();
    let placed = shop.db.place_order(
        &owner,
        &session_key,
        checkout.email.as_deref().unwrap_or(""),
        checkout.address.as_ref().expect("checked by missing_step"),
        checkout.method.expect("checked by missing_step"),
    )?;
    let Some(token) = placed else {
        return Ok(finish(&shop, v, found("/cart/")));
    };
    v.session.checkout = Default::default();
    Ok(finish(&shop, v, found(&format!("/order/{token}/payment/"))))
}
