//! The JSON API's queries, kept out of `db.rs` (the storefront's) but on the same
//! connection and tables: an API user is a storefront user, their cart is the same cart,
//! and their orders are counted with the storefront's (`ShopHandle::counts`).

use rusqlite::{params, OptionalExtension};

use crate::db::{variant_row, CartOwner, Db, DbResult, Product, Variant};

/// The `session_key` of orders placed through the API. Storefront session keys are random
/// and only ever looked up in the in-memory session store, so none can equal this one: the
/// HTML order pages show an API order to its user only.
const API_SESSION: &str = "api";

/// Who a bearer token belongs to.
#[derive(Clone, Debug)]
pub struct TokenUser {
    pub user_id: i64,
    pub email: String,
}

/// An order as the API shows it.
#[derive(Clone, Debug)]
pub struct ApiOrder {
    pub id: i64,
    pub token: String,
    pub total_cents: i64,
}

impl Db {
    /// Stores a token's digest for a user. The token itself is never stored, so a copy of
    /// the database holds nothing a client could present.
    pub(crate) fn api_store_token(&self, digest: &str, user_id: i64) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_tokens (digest, user_id) VALUES (?1, ?2)",
                params![digest, user_id],
            )
            .map(|_| ())
        })
    }

    /// The user a token's digest was issued to, if any.
    pub(crate) fn api_token_user(&self, digest: &str) -> DbResult<Option<TokenUser>> {
        self.with(|c| {
            let mut s = c.prepare_cached(
                "SELECT u.id, u.email FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.digest = ?1",
            )?;
            s.query_row([digest], |r| {
                Ok(TokenUser {
                    user_id: r.get(0)?,
                    email: r.get(1)?,
                })
            })
            .optional()
        })
    }

    /// The user's id, stored email and password hash: login answers with the email as it
    /// was registered, whatever its case in the request.
    pub(crate) fn api_login_user(&self, email: &str) -> DbResult<Option<(i64, String, String)>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, email, password FROM users WHERE email = ?1",
                [email],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
        })
    }

    /// Every product with its variants, in two queries rather than one per product: the
    /// list is what a load test asks for most.
    pub(crate) fn api_catalog(&self) -> DbResult<Vec<(Product, Vec<Variant>)>> {
        let products = self.products_where("ORDER BY id", &[])?;
        let variants: Vec<Variant> = self.with(|c| {
            let mut s = c.prepare_cached(
                "SELECT id, product_id, size, sku, price_cents FROM variants
                 ORDER BY product_id, id",
            )?;
            let rows = s.query_map([], variant_row)?;
            rows.collect()
        })?;
        let mut out: Vec<(Product, Vec<Variant>)> =
            products.into_iter().map(|p| (p, Vec::new())).collect();
        for v in variants {
            if let Ok(i) = out.binary_search_by_key(&v.product_id, |(p, _)| p.id) {
                out[i].1.push(v);
            }
        }
        Ok(out)
    }

    /// Turns the user's cart into an order and empties the cart, in one transaction that
    /// also reads the lines, so a line added meanwhile is either ordered or left in the cart.
    /// API orders have no address and no shipping charge: their total is the cart's. The
    /// schema requires a shipping method, so they record the first (never charged).
    /// Returns `None` when the cart is empty.
    pub(crate) fn api_place_order(&self, user_id: i64, email: &str) -> DbResult<Option<ApiOrder>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let Some(cart) = Db::cart_token(&tx, &CartOwner::User(user_id), false)? else {
                return Ok(None);
            };
            let lines: Vec<(i64, String, String, i64, i64)> = {
                let mut s = tx.prepare_cached(
                    "SELECT v.id, p.name, v.size, l.quantity, v.price_cents
                     FROM cart_lines l JOIN variants v ON v.id = l.variant_id
                     JOIN products p ON p.id = v.product_id
                     WHERE l.cart_token = ?1 ORDER BY v.id",
                )?;
                let rows = s.query_map([&cart], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            if lines.is_empty() {
                return Ok(None);
            }
            let total: i64 = lines.iter().map(|l| l.3 * l.4).sum();
            let token = uuid::Uuid::new_v4().to_string();
            let address = crate::address::Address::default().to_json();
            tx.execute(
                "INSERT INTO orders (token, user_id, session_key, email, address, shipping_method_id, total_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5, (SELECT MIN(id) FROM shipping_methods), ?6)",
                params![token, user_id, API_SESSION, email, address, total],
            )?;
            let id = tx.last_insert_rowid();
            for (variant, name, size, quantity, price) in &lines {
                tx.execute(
                    "INSERT INTO order_lines (order_id, variant_id, product_name, size, quantity, unit_price_cents)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![id, variant, name, size, quantity, price],
                )?;
            }
            tx.execute("DELETE FROM cart_lines WHERE cart_token = ?1", [&cart])?;
            tx.commit()?;
            Ok(Some(ApiOrder {
                id,
                token,
                total_cents: total,
            }))
        })
    }

    /// An order by id, only if `user_id` placed it: anyone else's order reads as missing.
    pub(crate) fn api_order(&self, id: i64, user_id: i64) -> DbResult<Option<ApiOrder>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, token, total_cents FROM orders WHERE id = ?1 AND user_id = ?2",
                params![id, user_id],
                |r| {
                    Ok(ApiOrder {
                        id: r.get(0)?,
                        token: r.get(1)?,
                        total_cents: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }
}
