//! The user's cookie jar: what a response sets, within a browser's limits, and the
//! `Cookie` header a request carries, made again only when the jar has changed.

use url::Url;

use super::{fields, target, Client};

impl Client {
    /// The value of cookie `name` that would be sent to the base host, such as Django's
    /// `csrftoken` for the `X-CSRFToken` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .get_request_values(&self.base)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Forgets every cookie (a fresh browser profile).
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
        self.jar_generation += 1;
    }

    /// The `Cookie` header for a request to `target`: the one made last time while the jar
    /// is unchanged and none of its cookies has expired since, else made afresh.
    pub(super) fn cookie_header(&mut self, target: &target::Target) -> Option<http::HeaderValue> {
        let mut line = target.cookies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = line.as_ref() {
            if l.generation == self.jar_generation && crate::stats::unix_now() < l.until {
                return l.value.clone();
            }
        }
        let out = &mut self.scratch;
        out.clear();
        let mut until = f64::INFINITY;
        for c in self.cookies.matches(&target.url) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(c.name());
            out.push('=');
            out.push_str(c.value());
            if let cookie_store::CookieExpiration::AtUtc(at) = &c.expires {
                until = until.min(at.unix_timestamp() as f64);
            }
        }
        let value = (!out.is_empty())
            .then(|| http::HeaderValue::from_str(out).ok())
            .flatten();
        *line = Some(target::CookieLine {
            generation: self.jar_generation,
            until,
            value: value.clone(),
        });
        value
    }

    /// Keeps the response's cookies, within a browser's limits: a cookie of more than 4 KB
    /// is dropped, and once the jar holds 180 cookies only existing ones are replaced, so a
    /// target setting new cookies on every answer cannot grow memory and every `Cookie`
    /// header without end.
    pub(super) fn store_cookies(&mut self, fields: &fields::Fields, url: &Url) {
        for s in fields.get_all("set-cookie") {
            if s.len() > MAX_COOKIE_BYTES {
                cookie_cap_reached();
                continue;
            }
            let name = s.split(['=', ';']).next().unwrap_or("").trim();
            if self.cookies.iter_any().count() >= MAX_COOKIES
                && !self.cookies.iter_any().any(|c| c.name() == name)
            {
                cookie_cap_reached();
                continue;
            }
            // A malformed attribute (Saleor's `Max-Age=315360000.0`) is ignored by the
            // parser and the cookie kept, as browsers do.
            let _ = self.cookies.parse(s, url);
            self.jar_generation += 1;
        }
    }
}

/// Cookies a user's jar holds (browsers keep about 180 per site).
const MAX_COOKIES: usize = 180;
/// The longest `Set-Cookie` value kept (browsers: 4 KB per cookie).
const MAX_COOKIE_BYTES: usize = 4096;

/// Says once per process that a target sent more cookies than a browser would keep.
fn cookie_cap_reached() {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "the target sets more cookies than a browser keeps ({MAX_COOKIES} per user, {MAX_COOKIE_BYTES} bytes each): the rest are ignored"
        );
    }
}
