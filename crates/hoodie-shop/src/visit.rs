//! One request's view of the visitor: session, CSRF secret and guest cart, read from the
//! cookies, and the `Set-Cookie` headers owed when something changed.
//!
//! Sessions live in memory, like Django's cache session backend; everything that must
//! survive (users, carts, orders) is in the database.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::response::Response;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::address::Address;
use crate::csrf;
use crate::db::CartOwner;

/// Checkout progress, kept in the session as Saleor does.
#[derive(Clone, Debug, Default)]
pub struct Checkout {
    pub email: Option<String>,
    pub address: Option<Address>,
    pub method: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Session {
    pub user_id: Option<i64>,
    pub checkout: Checkout,
}

/// Every live session by key.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn get(&self, key: &str) -> Option<Session> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }
    fn put(&self, key: String, s: Session) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, s);
    }
    fn remove(&self, key: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

pub struct Visit {
    pub session_key: Option<String>,
    pub session: Session,
    csrf_secret: Option<String>,
    cart_token: Option<String>,
    set_csrf: bool,
    set_cart: bool,
    new_session: bool,
    old_session_key: Option<String>,
}

fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for v in headers.get_all(COOKIE) {
        for pair in v.to_str().unwrap_or("").split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
    out
}

fn random_key() -> String {
    csrf::new_secret().to_lowercase()
}

fn sign(secret: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..20])
}

impl Visit {
    pub fn load(sessions: &Sessions, secret: &[u8], headers: &HeaderMap) -> Self {
        let jar = cookies(headers);
        let (session_key, session) = match jar
            .get("sessionid")
            .and_then(|k| sessions.get(k).map(|s| (k.clone(), s)))
        {
            Some((k, s)) => (Some(k), s),
            None => (None, Session::default()),
        };
        let csrf_secret = jar.get("csrftoken").cloned();
        let cart_token = jar.get("cart").and_then(|c| {
            let (token, sig) = c.rsplit_once(':')?;
            (sign(secret, token) == sig && uuid::Uuid::parse_str(token).is_ok())
                .then(|| token.to_owned())
        });
        Self {
            session_key,
            session,
            csrf_secret,
            cart_token,
            set_csrf: false,
            set_cart: false,
            new_session: false,
            old_session_key: None,
        }
    }

    /// The raw `csrftoken` cookie as sent.
    pub fn csrf_cookie(&self) -> Option<&str> {
        self.csrf_secret.as_deref()
    }

    /// A fresh masked token for a form; sets the cookie if the visitor has none yet.
    pub fn csrf_token(&mut self) -> String {
        let valid = self
            .csrf_secret
            .as_deref()
            .is_some_and(|s| s.len() == csrf::SECRET_LEN);
        if !valid {
            self.csrf_secret = Some(csrf::new_secret());
            self.set_csrf = true;
        }
        csrf::mask(self.csrf_secret.as_deref().expect("set above"))
    }

    /// Signs the user in: a new session key and a new CSRF secret (so tokens scraped before
    /// login are refused after it), as Django's `login()` does.
    pub fn login(&mut self, user_id: i64) {
        self.rotate();
        self.session.user_id = Some(user_id);
    }

    pub fn logout(&mut self) {
        self.rotate();
        self.session = Session::default();
    }

    fn rotate(&mut self) {
        self.old_session_key = self.session_key.take();
        self.session_key = Some(random_key());
        self.new_session = true;
        self.csrf_secret = Some(csrf::new_secret());
        self.set_csrf = true;
    }

    pub fn user_id(&self) -> Option<i64> {
        self.session.user_id
    }

    /// The guest cart token, if the visitor has a valid `cart` cookie.
    pub fn guest_cart(&self) -> Option<&str> {
        self.cart_token.as_deref()
    }

    /// Whose cart this visitor sees; with `create`, a guest without one gets a new token.
    pub fn cart_owner(&mut self, create: bool) -> Option<CartOwner> {
        if let Some(id) = self.session.user_id {
            return Some(CartOwner::User(id));
        }
        if self.cart_token.is_none() && create {
            self.cart_token = Some(uuid::Uuid::new_v4().to_string());
            self.set_cart = true;
        }
        self.cart_token.clone().map(CartOwner::Guest)
    }

    /// Keeps the session (creating its key if needed) so checkout progress survives.
    pub fn touch_session(&mut self) {
        if self.session_key.is_none() {
            self.session_key = Some(random_key());
            self.new_session = true;
        }
    }

    /// Saves the session and adds the cookies this request changed.
    pub fn finish(self, sessions: &Sessions, secret: &[u8], mut resp: Response) -> Response {
        if let Some(old) = &self.old_session_key {
            sessions.remove(old);
        }
        if let Some(key) = &self.session_key {
            sessions.put(key.clone(), self.session.clone());
        }
        let h = resp.headers_mut();
        let mut add = |v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.append(SET_COOKIE, v);
            }
        };
        if self.new_session {
            if let Some(key) = &self.session_key {
                add(format!(
                    "sessionid={key}; expires={}; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax",
                    http_date(1_209_600)
                ));
            }
        }
        if self.set_csrf {
            if let Some(s) = &self.csrf_secret {
                add(format!(
                    "csrftoken={s}; expires={}; Max-Age=31449600; Path=/; SameSite=Lax",
                    http_date(31_449_600)
                ));
            }
        }
        if self.set_cart {
            if let Some(token) = &self.cart_token {
                // Exactly as Saleor sent it: a float Max-Age, which Python's cookie jar drops.
                add(format!(
                    "cart={token}:{}; expires={}; Max-Age=315360000.0; Path=/",
                    sign(secret, token),
                    http_date(315_360_000)
                ));
            }
        }
        resp
    }
}

/// An HTTP date `secs` from now, as Django formats `expires`.
fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(secs))
}
