//! Products, the cart and orders. The cart is the signed-in user's storefront cart, so an
//! item added on the HTML pages shows here and the other way round.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::Caller;
use super::db::ApiOrder;
use super::{price, reply, ApiError, ApiResult, JsonBody, NoBody, PathId};
use crate::db::{CartOwner, Product, Variant};
use crate::routes::Shop;

/// Every variant reports this stock: the shop keeps no inventory, and a load test must not
/// run out of hoodies.
const STOCK: i64 = 100;

/// The most of one variant a cart line holds, as the storefront's add-to-cart form.
const MAX_QUANTITY: i64 = 50;

/// Saleor's status of an order nobody has shipped: the shop fulfils nothing.
const UNFULFILLED: &str = "unfulfilled";

fn product_json(p: &Product, variants: &[Variant]) -> Value {
    let variants: Vec<Value> = variants
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "name": v.size,
                "price": price(v.price_cents),
                "stock": STOCK,
            })
        })
        .collect();
    json!({
        "id": p.id,
        "name": p.name,
        "price": price(p.price_cents),
        "variants": variants,
    })
}

/// `GET /api/products`: public, the whole catalog.
pub async fn products(State(shop): State<Shop>) -> ApiResult {
    let products: Vec<Value> = shop
        .db
        .api_catalog()?
        .iter()
        .map(|(p, v)| product_json(p, v))
        .collect();
    Ok(reply(StatusCode::OK, json!({ "products": products })))
}

/// `GET /api/products/{id}`: public.
pub async fn product(State(shop): State<Shop>, path: PathId) -> ApiResult {
    let missing = || ApiError::NotFound(format!("no product {}", path.raw));
    let id = path.id.ok_or_else(missing)?;
    let p = shop.db.product(id)?.ok_or_else(missing)?;
    let variants = shop.db.variants(p.id)?;
    Ok(reply(StatusCode::OK, product_json(&p, &variants)))
}

/// The caller's cart, answered with `status`.
fn cart_reply(shop: &Shop, user_id: i64, status: StatusCode) -> ApiResult {
    let lines = shop.db.cart_lines(&CartOwner::User(user_id))?;
    let items: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "variant_id": l.variant.id,
                "quantity": l.quantity,
                "price": price(l.variant.price_cents),
            })
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l.variant.price_cents * l.quantity)
        .sum();
    Ok(reply(
        status,
        json!({ "items": items, "total": price(total) }),
    ))
}

/// `GET /api/cart`.
pub async fn cart(caller: Caller, State(shop): State<Shop>) -> ApiResult {
    cart_reply(&shop, caller.0.user_id, StatusCode::OK)
}

#[derive(serde::Deserialize)]
pub struct NewItem {
    variant_id: i64,
    quantity: i64,
}

/// `POST /api/cart/items`: adds to the line of that variant; a line stops at 50, as the
/// storefront's does.
pub async fn add_item(
    caller: Caller,
    State(shop): State<Shop>,
    JsonBody(item): JsonBody<NewItem>,
) -> ApiResult {
    if !(1..=MAX_QUANTITY).contains(&item.quantity) {
        return Err(ApiError::BadRequest(format!(
            "quantity must be from 1 to {MAX_QUANTITY}, not {}",
            item.quantity
        )));
    }
    let Some(variant) = shop.db.variant(item.variant_id)? else {
        return Err(ApiError::NotFound(format!(
            "no variant {}",
            item.variant_id
        )));
    };
    let owner = CartOwner::User(caller.0.user_id);
    shop.db.add_to_cart(&owner, variant.id, item.quantity)?;
    cart_reply(&shop, caller.0.user_id, StatusCode::CREATED)
}

fn order_reply(o: &ApiOrder, status: StatusCode) -> Response {
    reply(
        status,
        json!({
            "id": o.id,
            "token": o.token,
            "total": price(o.total_cents),
            "status": UNFULFILLED,
        }),
    )
}

/// `POST /api/orders`: the whole cart becomes the order and the cart is emptied.
pub async fn place_order(caller: Caller, State(shop): State<Shop>, _: NoBody) -> ApiResult {
    let user = caller.0;
    match shop.db.api_place_order(user.user_id, &user.email)? {
        Some(order) => Ok(order_reply(&order, StatusCode::CREATED)),
        None => Err(ApiError::BadRequest("the cart is empty".into())),
    }
}

/// `GET /api/orders/{id}`: another user's order is a 404, as if it did not exist, so ids
/// cannot be probed.
pub async fn order(caller: Caller, State(shop): State<Shop>, path: PathId) -> ApiResult {
    let missing = || ApiError::NotFound(format!("no order {}", path.raw));
    let id = path.id.ok_or_else(missing)?;
    let order = shop
        .db
        .api_order(id, caller.0.user_id)?
        .ok_or_else(missing)?;
    Ok(order_reply(&order, StatusCode::OK))
}
