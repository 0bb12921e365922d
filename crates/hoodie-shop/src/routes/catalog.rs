//! Browsing and the cart: home, categories, products, search, add to cart.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use super::{
    finish, found, is_ajax, json as json_resp, not_found, page, posted, redirect, render, slug_id,
    user_email, visit, HandlerResult, Shop,
};
use crate::address::FieldErrors;
use crate::pages;

/// Products per category page.
const PER_PAGE: i64 = 12;

pub async fn home(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let v = visit(&shop, &headers);
    let body = pages::home(
        user_email(&shop, &v)?.as_deref(),
        &shop.db.categories()?,
        &shop.db.featured()?,
    );
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

pub async fn category(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(sid): Path<String>,
    Query(q): Query<PageQuery>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let Some((slug, id)) = slug_id(&sid) else {
        return Ok(not_found());
    };
    let Some(cat) = shop.db.category(id)? else {
        return Ok(not_found());
    };
    if slug != cat.slug {
        return Ok(redirect(
            StatusCode::MOVED_PERMANENTLY,
            &format!("/products/category/{}-{}/", cat.slug, cat.id),
        ));
    }
    // Django's paginator answers 404 for a page that is not a number or out of range.
    let page_no = match q.page.as_deref() {
        None | Some("") => 1,
        Some(p) => match p.parse::<i64>() {
            Ok(n) if n >= 1 => n,
            _ => return Ok(not_found()),
        },
    };
    let (products, pages) = shop.db.category_page(id, page_no, PER_PAGE)?;
    if page_no > pages {
        return Ok(not_found());
    }
    let body = pages::category(
        user_email(&shop, &v)?.as_deref(),
        &cat,
        &products,
        page_no,
        pages,
    );
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub async fn product(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(sid): Path<String>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let Some((slug, id)) = slug_id(&sid) else {
        return Ok(not_found());
    };
    let Some(p) = shop.db.product(id)? else {
        return Ok(not_found());
    };
    if slug != p.slug {
        return Ok(redirect(
            StatusCode::MOVED_PERMANENTLY,
            &pages::product_url(&p),
        ));
    }
    let variants = shop.db.variants(p.id)?;
    render(&shop, v, |user, csrf| {
        pages::product(user, &p, &variants, csrf, &FieldErrors::new())
    })
}

pub async fn add_to_cart_get(Path(sid): Path<String>) -> HandlerResult {
    Ok(found(&format!("/products/{sid}/")))
}

/// Validates `variant` (of this product) and `quantity` (1..50).
fn add_errors(
    variant: Option<&crate::db::Variant>,
    product_id: i64,
    quantity: &str,
) -> FieldErrors {
    let mut errors = FieldErrors::new();
    match variant {
        None => {
            errors.insert(
                "variant".into(),
                vec![
                    "Select a valid choice. That choice is not one of the available choices."
                        .into(),
                ],
            );
        }
        Some(v) if v.product_id != product_id => {
            errors.insert(
                "variant".into(),
                vec![
                    "Select a valid choice. That choice is not one of the available choices."
                        .into(),
                ],
            );
        }
        Some(_) => {}
    }
    match quantity.trim().parse::<i64>() {
        Ok(q) if (1..=50).contains(&q) => {}
        Ok(q) if q < 1 => {
            errors.insert(
                "quantity".into(),
                vec!["Ensure this value is greater than or equal to 1.".into()],
            );
        }
        Ok(_) => {
            errors.insert(
                "quantity".into(),
                vec!["Ensure this value is less than or equal to 50.".into()],
            );
        }
        Err(_) if quantity.trim().is_empty() => {
            errors.insert("quantity".into(), vec!["This field is required.".into()]);
        }
        Err(_) => {
            errors.insert("quantity".into(), vec!["Enter a whole number.".into()]);
        }
    }
    errors
}

pub async fn add_to_cart(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(sid): Path<String>,
    body: Bytes,
) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let Some((_, id)) = slug_id(&sid) else {
        return Ok(not_found());
    };
    let Some(p) = shop.db.product(id)? else {
        return Ok(not_found());
    };
    let variant = match form.get("variant").trim().parse::<i64>() {
        Ok(vid) => shop.db.variant(vid)?,
        Err(_) => None,
    };
    let errors = add_errors(variant.as_ref(), p.id, form.get("quantity"));
    let ajax = is_ajax(&headers);
    if !errors.is_empty() {
        if ajax {
            return Ok(finish(
                &shop,
                v,
                json_resp(StatusCode::BAD_REQUEST, json!({ "error": errors })),
            ));
        }
        let variants = shop.db.variants(p.id)?;
        return render(&shop, v, |user, csrf| {
            pages::product(user, &p, &variants, csrf, &errors)
        });
    }
    let quantity: i64 = form.get("quantity").trim().parse().unwrap_or(1);
    let owner = v
        .cart_owner(true)
        .expect("a cart owner is created on demand");
    shop.db
        .add_to_cart(&owner, variant.expect("validated above").id, quantity)?;
    let resp = if ajax {
        json_resp(StatusCode::OK, json!({ "next": "/cart/" }))
    } else {
        found("/cart/")
    };
    Ok(finish(&shop, v, resp))
}

pub async fn cart(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let lines = match v.cart_owner(false) {
        Some(owner) => shop.db.cart_lines(&owner)?,
        None => Vec::new(),
    };
    render(&shop, v, |user, csrf| pages::cart(user, &lines, csrf))
}

/// Ajax quantity update: `quantity` 0..50 (0 removes the line); answers the new total.
pub async fn cart_update(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Path(variant_id): Path<String>,
    body: Bytes,
) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let Some(variant) = variant_id
        .parse::<i64>()
        .ok()
        .map(|id| shop.db.variant(id))
        .transpose()?
        .flatten()
    else {
        return Ok(not_found());
    };
    let quantity = match form.get("quantity").trim().parse::<i64>() {
        Ok(q) if (0..=50).contains(&q) => q,
        _ => {
            let err = json!({ "error": { "quantity": ["Enter a whole number from 0 to 50."] } });
            return Ok(finish(&shop, v, json_resp(StatusCode::BAD_REQUEST, err)));
        }
    };
    let owner = v
        .cart_owner(true)
        .expect("a cart owner is created on demand");
    shop.db.set_cart_line(&owner, variant.id, quantity)?;
    let lines = shop.db.cart_lines(&owner)?;
    let total: i64 = lines
        .iter()
        .map(|l| l.variant.price_cents * l.quantity)
        .sum();
    let items: i64 = lines.iter().map(|l| l.quantity).sum();
    let body = json!({ "total": pages::money(total), "numItems": items });
    if is_ajax(&headers) {
        Ok(finish(&shop, v, json_resp(StatusCode::OK, body)))
    } else {
        Ok(finish(&shop, v, found("/cart/")))
    }
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn search(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> HandlerResult {
    let v = visit(&shop, &headers);
    let q = q.q.unwrap_or_default();
    let q = q.trim();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        shop.db.search(q)?
    };
    let body = pages::search(user_email(&shop, &v)?.as_deref(), q, &results);
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}
