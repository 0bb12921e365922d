//! The shop's SQLite database: catalog, users, carts and orders.
//!
//! One connection behind a `std::sync::Mutex`: every query is short, SQLite serialises
//! writers anyway, and holding a std mutex (never across an `.await`) is cheaper than a pool.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::address::Address;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type DbResult<T> = Result<T, DbError>;

#[derive(Clone, Debug)]
pub struct Category {
    pub id: i64,
    pub name: String,
    pub slug: String,
}

#[derive(Clone, Debug)]
pub struct Product {
    pub id: i64,
    pub category_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price_cents: i64,
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub size: String,
    pub sku: String,
    pub price_cents: i64,
}

#[derive(Clone, Debug)]
pub struct CartLine {
    pub variant: Variant,
    pub product_name: String,
    pub quantity: i64,
}

/// Whose cart: a guest's (by its `cart` cookie token) or a signed-in user's.
#[derive(Clone, Debug, PartialEq)]
pub enum CartOwner {
    Guest(String),
    User(i64),
}

#[derive(Clone, Debug)]
pub struct Order {
    pub token: String,
    pub user_id: Option<i64>,
    pub session_key: String,
    pub email: String,
    pub address: Address,
    pub shipping_method: String,
    pub total_cents: i64,
    pub paid: bool,
    pub lines: Vec<(String, String, i64, i64)>,
}

/// Why a user could not be created.
#[derive(Debug, PartialEq)]
pub enum CreateUser {
    Created(i64),
    EmailTaken,
}

pub struct Db {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL REFERENCES categories(id),
    name TEXT NOT NULL, slug TEXT NOT NULL, description TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id),
    size TEXT NOT NULL, sku TEXT NOT NULL UNIQUE, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS shipping_methods (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, password TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS carts (
    token TEXT PRIMARY KEY, user_id INTEGER UNIQUE REFERENCES users(id),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS cart_lines (
    cart_token TEXT NOT NULL REFERENCES carts(token) ON DELETE CASCADE,
    variant_id INTEGER NOT NULL REFERENCES variants(id), quantity INTEGER NOT NULL,
    PRIMARY KEY (cart_token, variant_id));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, user_id INTEGER REFERENCES users(id),
    session_key TEXT NOT NULL, email TEXT NOT NULL, address TEXT NOT NULL,
    shipping_method_id INTEGER NOT NULL REFERENCES shipping_methods(id), total_cents INTEGER NOT NULL,
    paid INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id), variant_id INTEGER NOT NULL REFERENCES variants(id),
    product_name TEXT NOT NULL, size TEXT NOT NULL, quantity INTEGER NOT NULL, unit_price_cents INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
    digest TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
";

const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];

impl Db {
    /// Opens (or creates and fills) the database at `path`.
    pub fn open(path: &Path) -> DbResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let db = Self {
            conn: Mutex::new(conn),
        };
        db.seed()?;
        Ok(db)
    }

    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> DbResult<R> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&mut conn)?)
    }

    /// The fixture the workshop relies on (Apparel 1, CodeMash 1 with variants 1-6,
    /// shipping method 1 cheapest) plus a few dozen other products.
    fn seed(&self) -> DbResult<()> {
        self.with(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM categories", [], |r| r.get(0))?;
            if n > 0 {
                return Ok(());
            }
            let tx = c.transaction()?;
            let categories = [(1, "Apparel"), (2, "Accessories"), (3, "Books"), (4, "Groceries")];
            for (id, name) in categories {
                tx.execute("INSERT INTO categories (id, name, slug) VALUES (?1, ?2, ?3)", params![id, name, slugify(name)])?;
            }
            let mut products: Vec<(i64, &str, String, i64)> =
                vec![(1, "CodeMash", "The CodeMash Hoodiepocalypse hoodie: warm, grey, limited.".to_owned(), 4500)];
            let extra = [
                (1, ["T-shirt", "Polo", "Beanie", "Jacket", "Scarf", "Socks", "Sweater", "Cap", "Vest", "Parka"]),
                (2, ["Mug", "Sticker Pack", "Tote Bag", "Water Bottle", "Laptop Sleeve", "Keychain", "Notebook", "Pin", "Lanyard", "Umbrella"]),
                (3, ["Rust in Action", "Load Testing 101", "The Pragmatic Tester", "Async Patterns", "SQL Deep Dive", "HTTP Explained", "Locust Handbook", "Web Performance", "Django Recipes", "Systems Thinking"]),
                (4, ["Coffee Beans", "Green Tea", "Dark Chocolate", "Trail Mix", "Maple Syrup", "Hot Sauce", "Granola", "Olive Oil", "Honey", "Sea Salt"]),
            ];
            for (cat, names) in extra {
                for (i, name) in names.iter().enumerate() {
                    let price = 500 + ((cat * 7 + i as i64 * 13) % 40) * 100;
                    products.push((cat, name, format!("{name}: a fine product from our {} range.", categories[(cat - 1) as usize].1), price));
                }
            }
            let mut variant_id = 1;
            for (pid, (cat, name, desc, price)) in products.iter().enumerate() {
                let pid = pid as i64 + 1;
                tx.execute(
                    "INSERT INTO products (id, category_id, name, slug, description, price_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![pid, cat, name, slugify(name), desc, price],
                )?;
                let sizes: &[&str] = if *cat == 1 { &SIZES } else { &["One size"] };
                for size in sizes {
                    tx.execute(
                        "INSERT INTO variants (id, product_id, size, sku, price_cents) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![variant_id, pid, size, format!("{}-{}", slugify(name), slugify(size)), price],
                    )?;
                    variant_id += 1;
                }
            }
            for (id, name, price) in [(1, "Standard (5-7 days)", 500), (2, "Express (2 days)", 1500), (3, "Overnight", 3000)] {
                tx.execute("INSERT INTO shipping_methods (id, name, price_cents) VALUES (?1, ?2, ?3)", params![id, name, price])?;
            }
            tx.commit()
        })
    }

    pub fn categories(&self) -> DbResult<Vec<Category>> {
        self.with(|c| {
            let mut s = c.prepare_cached("SELECT id, name, slug FROM categories ORDER BY id")?;
            let rows = s.query_map([], |r| {
                Ok(Category {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    slug: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn category(&self, id: i64) -> DbResult<Option<Category>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, slug FROM categories WHERE id = ?1",
                [id],
                |r| {
                    Ok(Category {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        slug: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    pub(crate) fn products_where(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> DbResult<Vec<Product>> {
        let sql = format!(
            "SELECT id, category_id, name, slug, description, price_cents FROM products {clause}"
        );
        self.with(|c| {
            let mut s = c.prepare_cached(&sql)?;
            let rows = s.query_map(args, product_row)?;
            rows.collect()
        })
    }

    pub fn featured(&self) -> DbResult<Vec<Product>> {
        self.products_where("WHERE id % 5 = 1 ORDER BY id LIMIT 8", &[])
    }

    /// One page of a category (`per_page` products) and the number of pages.
    pub fn category_page(
        &self,
        id: i64,
        page: i64,
        per_page: i64,
    ) -> DbResult<(Vec<Product>, i64)> {
        let total: i64 = self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM products WHERE category_id = ?1",
                [id],
                |r| r.get(0),
            )
        })?;
        let offset = (page - 1).max(0) * per_page;
        let items = self.products_where(
            "WHERE category_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
            &[&id, &per_page, &offset],
        )?;
        Ok((items, ((total + per_page - 1) / per_page).max(1)))
    }

    pub fn product(&self, id: i64) -> DbResult<Option<Product>> {
        Ok(self
            .products_where("WHERE id = ?1", &[&id])?
            .into_iter()
            .next())
    }

    pub fn search(&self, q: &str) -> DbResult<Vec<Product>> {
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.products_where(
            "WHERE name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT 50",
            &[&pattern],
        )
    }

    pub fn variants(&self, product_id: i64) -> DbResult<Vec<Variant>> {
        self.with(|c| {
            let mut s = c.prepare_cached("SELECT id, product_id, size, sku, price_cents FROM variants WHERE product_id = ?1 ORDER BY id")?;
            let rows = s.query_map([product_id], variant_row)?;
            rows.collect()
        })
    }

    pub fn variant(&self, id: i64) -> DbResult<Option<Variant>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, product_id, size, sku, price_cents FROM variants WHERE id = ?1",
                [id],
                variant_row,
            )
            .optional()
        })
    }

    pub fn shipping_methods(&self) -> DbResult<Vec<(i64, String, i64)>> {
        self.with(|c| {
            let mut s = c.prepare_cached(
                "SELECT id, name, price_cents FROM shipping_methods ORDER BY price_cents",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
    }

    /// Creates a user; a taken email (any case) is refused, however many sign up at once.
    pub fn create_user(&self, email: &str, password_hash: &str) -> DbResult<CreateUser> {
        self.with(|c| {
            match c.execute(
                "INSERT INTO users (email, password) VALUES (?1, ?2)",
                params![email, password_hash],
            ) {
                Ok(_) => Ok(CreateUser::Created(c.last_insert_rowid())),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(CreateUser::EmailTaken)
                }
                Err(e) => Err(e),
            }
        })
    }

    /// The user's id and password hash.
    pub fn user_by_email(&self, email: &str) -> DbResult<Option<(i64, String)>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, password FROM users WHERE email = ?1",
                [email],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    pub fn user_email(&self, id: i64) -> DbResult<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT email FROM users WHERE id = ?1", [id], |r| r.get(0))
                .optional()
        })
    }

    pub(crate) fn cart_token(
        c: &Connection,
        owner: &CartOwner,
        create: bool,
    ) -> rusqlite::Result<Option<String>> {
        match owner {
            CartOwner::Guest(token) => {
                if create {
                    c.execute("INSERT OR IGNORE INTO carts (token) VALUES (?1)", [token])?;
                }
                c.query_row(
                    "SELECT token FROM carts WHERE token = ?1 AND user_id IS NULL",
                    [token],
                    |r| r.get(0),
                )
                .optional()
            }
            CartOwner::User(id) => {
                if create {
                    c.execute(
                        "INSERT OR IGNORE INTO carts (token, user_id) VALUES (?1, ?2)",
                        params![uuid::Uuid::new_v4().to_string(), id],
                    )?;
                }
                c.query_row("SELECT token FROM carts WHERE user_id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
            }
        }
    }

    pub fn cart_lines(&self, owner: &CartOwner) -> DbResult<Vec<CartLine>> {
        self.with(|c| {
            let Some(token) = Self::cart_token(c, owner, false)? else { return Ok(Vec::new()) };
            let mut s = c.prepare_cached(
                "SELECT v.id, v.product_id, v.size, v.sku, v.price_cents, p.name, l.quantity
                 FROM cart_lines l JOIN variants v ON v.id = l.variant_id JOIN products p ON p.id = v.product_id
                 WHERE l.cart_token = ?1 ORDER BY v.id",
            )?;
            let rows = s.query_map([token], |r| Ok(CartLine { variant: variant_row(r)?, product_name: r.get(5)?, quantity: r.get(6)? }))?;
            rows.collect()
        })
    }

    /// Adds `quantity` of a variant; the line is capped at 50 like Saleor's form.
    pub fn add_to_cart(&self, owner: &CartOwner, variant_id: i64, quantity: i64) -> DbResult<()> {
        self.with(|c| {
            let token = Self::cart_token(c, owner, true)?.expect("the cart was just created");
            c.execute(
                "INSERT INTO cart_lines (cart_token, variant_id, quantity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cart_token, variant_id) DO UPDATE SET quantity = MIN(50, quantity + excluded.quantity)",
                params![token, variant_id, quantity],
            )?;
            Ok(())
        })
    }

    /// Sets a line's quantity; 0 removes it.
    pub fn set_cart_line(&self, owner: &CartOwner, variant_id: i64, quantity: i64) -> DbResult<()> {
        self.with(|c| {
            let Some(token) = Self::cart_token(c, owner, quantity > 0)? else { return Ok(()) };
            if quantity == 0 {
                c.execute("DELETE FROM cart_lines WHERE cart_token = ?1 AND variant_id = ?2", params![token, variant_id])?;
            } else {
                c.execute(
                    "INSERT INTO cart_lines (cart_token, variant_id, quantity) VALUES (?1, ?2, ?3)
                     ON CONFLICT (cart_token, variant_id) DO UPDATE SET quantity = excluded.quantity",
                    params![token, variant_id, quantity],
                )?;
            }
            Ok(())
        })
    }

    /// Moves a guest cart's lines into the user's cart (at login).
    pub fn merge_guest_cart(&self, guest: &str, user_id: i64) -> DbResult<()> {
        let lines = self.cart_lines(&CartOwner::Guest(guest.to_owned()))?;
        for l in lines {
            self.add_to_cart(&CartOwner::User(user_id), l.variant.id, l.quantity)?;
        }
        self.with(|c| {
            c.execute(
                "DELETE FROM carts WHERE token = ?1 AND user_id IS NULL",
                [guest],
            )
            .map(|_| ())
        })
    }

    /// Turns the cart into an order and empties the cart, in one transaction.
    /// Returns `None` when the cart is empty.
    pub fn place_order(
        &self,
        owner: &CartOwner,
        session_key: &str,
        email: &str,
        address: &Address,
        shipping_method: i64,
    ) -> DbResult<Option<String>> {
        let user_id = match owner {
            CartOwner::User(id) => Some(*id),
            CartOwner::Guest(_) => None,
        };
        let lines = self.cart_lines(owner)?;
        if lines.is_empty() {
            return Ok(None);
        }
        self.with(|c| {
            let tx = c.transaction()?;
            let Some(cart) = Self::cart_token(&tx, owner, false)? else { return Ok(None) };
            let shipping: i64 = tx.query_row("SELECT price_cents FROM shipping_methods WHERE id = ?1", [shipping_method], |r| r.get(0))?;
            let total: i64 = lines.iter().map(|l| l.variant.price_cents * l.quantity).sum::<i64>() + shipping;
            let token = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO orders (token, user_id, session_key, email, address, shipping_method_id, total_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![token, user_id, session_key, email, address.to_json(), shipping_method, total],
            )?;
            let order_id = tx.last_insert_rowid();
            for l in &lines {
                tx.execute(
                    "INSERT INTO order_lines (order_id, variant_id, product_name, size, quantity, unit_price_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![order_id, l.variant.id, l.product_name, l.variant.size, l.quantity, l.variant.price_cents],
                )?;
            }
            tx.execute("DELETE FROM cart_lines WHERE cart_token = ?1", [cart])?;
            tx.commit()?;
            Ok(Some(token))
        })
    }

    pub fn order(&self, token: &str) -> DbResult<Option<Order>> {
        self.with(|c| {
            let head = c
                .query_row(
                    "SELECT o.id, o.token, o.user_id, o.session_key, o.email, o.address, s.name, o.total_cents, o.paid
                     FROM orders o JOIN shipping_methods s ON s.id = o.shipping_method_id WHERE o.token = ?1",
                    [token],
                    |r| {
                        Ok((r.get::<_, i64>(0)?, Order {
                            token: r.get(1)?,
                            user_id: r.get(2)?,
                            session_key: r.get(3)?,
                            email: r.get(4)?,
                            address: Address::from_json(&r.get::<_, String>(5)?),
                            shipping_method: r.get(6)?,
                            total_cents: r.get(7)?,
                            paid: r.get::<_, i64>(8)? != 0,
                            lines: Vec::new(),
                        }))
                    },
                )
                .optional()?;
            let Some((id, mut order)) = head else { return Ok(None) };
            let mut s = c.prepare_cached("SELECT product_name, size, quantity, unit_price_cents FROM order_lines WHERE order_id = ?1")?;
            order.lines = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
            Ok(Some(order))
        })
    }

    pub fn mark_paid(&self, token: &str) -> DbResult<()> {
        self.with(|c| {
            c.execute("UPDATE orders SET paid = 1 WHERE token = ?1", [token])
                .map(|_| ())
        })
    }

    /// Rows in `users` and `orders`: what tests compare with the client's counts.
    pub fn counts(&self) -> DbResult<(i64, i64)> {
        self.with(|c| {
            let users = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            let orders = c.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))?;
            Ok((users, orders))
        })
    }
}

fn product_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: r.get(0)?,
        category_id: r.get(1)?,
        name: r.get(2)?,
        slug: r.get(3)?,
        description: r.get(4)?,
        price_cents: r.get(5)?,
    })
}

pub(crate) fn variant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Variant> {
    Ok(Variant {
        id: r.get(0)?,
        product_id: r.get(1)?,
        size: r.get(2)?,
        sku: r.get(3)?,
        price_cents: r.get(4)?,
    })
}

/// `"Load Testing 101"` -> `"load-testing-101"`.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}
