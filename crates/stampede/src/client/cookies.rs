//! The user's cookie jar: what a response sets, within a browser's limits and a memory
//! budget, and the `Cookie` header a request carries, made once per origin and again only
//! when the jar has changed.
//!
//! A server that sets cookies without end made every user hold megabytes: the jar (180
//! cookies of 4 KB), and a `Cookie` line built from it for each of the client's prepared
//! targets. Now the line is one per origin, and a user's cookies have a byte budget
//! ([`COOKIE_BUDGET`], part of the memory `--user-limit` guards): each cookie is counted as
//! the jar stores it and once more as its text in a line, so the jar and its line always fit
//! together; lines for more origins are kept while they fit too.

use std::sync::Arc;

use bytes::Bytes;
use cookie_store::{Cookie, CookieExpiration};
use url::Url;

use super::conn::Origin;
use super::{fields, target, Client};
use crate::capacity::COOKIE_BUDGET;

/// Cookies a user's jar holds unless `--max-cookies` says otherwise (browsers keep about
/// 180 per site).
pub const DEFAULT_MAX_COOKIES: u16 = 180;
/// The longest `Set-Cookie` value kept (browsers: 4 KB per cookie).
const MAX_COOKIE_BYTES: usize = 4096;
/// What the jar spends on a cookie besides its text: the store's maps and entry, the
/// parsed cookie (measured with `cookie_store` 0.22: about 400 bytes a cookie in a jar of
/// 180 one-letter cookies, 500 in a jar of 10).
const PER_COOKIE: usize = 448;

/// The `Cookie` lines built for a user's origins, and what its jar is counted to hold.
#[derive(Default)]
pub(super) struct CookieLines {
    /// Per origin, the line last built; the newest last.
    lines: Vec<(Arc<Origin>, Line)>,
    /// The jar's cookies, each as stored plus its text in a line ([`counted`]).
    jar: usize,
    /// Of that, the text: the most a line made of the jar takes.
    text: usize,
}

/// A `Cookie` header as the jar gave it: it holds while the jar has not changed
/// (`generation`) and none of its cookies has expired (`until`, unix seconds), for every
/// path of its origin, or only for `path` when some cookie in the jar is scoped to a path.
struct Line {
    generation: u64,
    until: f64,
    path: Option<Box<str>>,
    value: Option<http::HeaderValue>,
}

impl Line {
    fn bytes(&self) -> usize {
        self.value.as_ref().map_or(0, |v| v.len()) + self.path.as_ref().map_or(0, |p| p.len())
    }
}

impl CookieLines {
    /// Bytes held by the lines.
    fn lines(&self) -> usize {
        self.lines.iter().map(|(_, l)| l.bytes()).sum()
    }

    /// Bytes the cookies hold: the jar as stored, and the lines.
    fn held(&self) -> usize {
        self.jar - self.text + self.lines()
    }

    /// Keeps `line` for `origin`, dropping the oldest lines of other origins until the
    /// budget holds it (the jar's own count leaves room for one line, always).
    fn keep(&mut self, origin: &Arc<Origin>, line: Line) {
        self.lines.retain(|(o, _)| **o != **origin);
        while !self.lines.is_empty() && self.held() + line.bytes() > COOKIE_BUDGET {
            self.lines.remove(0);
        }
        self.lines.push((origin.clone(), line));
    }

    /// The jar changed: every line is stale, and is dropped now rather than when replaced.
    fn stale(&mut self) {
        self.lines.clear();
    }
}

/// What a stored cookie is counted as: its memory in the jar, and its text (`name=value; `)
/// in the line it will be sent in.
fn counted(c: &Cookie<'_>) -> usize {
    let domain = c.domain.as_cow().map_or(0, |d| d.len());
    let path = AsRef::<str>::as_ref(&c.path).len();
    // The store keeps the name, path and domain in the cookie and again as map keys.
    let stored = PER_COOKIE + 2 * (c.name().len() + path + domain) + c.value().len();
    stored + text(c)
}

/// A cookie's text in a `Cookie` line.
fn text(c: &Cookie<'_>) -> usize {
    c.name().len() + c.value().len() + 3
}

/// `raw` without the text it was parsed from: the jar then holds only what it uses, and
/// what it holds can be counted from the cookie (an attribute it ignores costs nothing).
fn lean(raw: &cookie::Cookie<'_>) -> cookie::Cookie<'static> {
    let mut c = cookie::Cookie::new(raw.name().to_owned(), raw.value().to_owned());
    if let Some(p) = raw.path() {
        c.set_path(p.to_owned());
    }
    if let Some(d) = raw.domain() {
        c.set_domain(d.to_owned());
    }
    if let Some(e) = raw.expires() {
        c.set_expires(e);
    }
    if let Some(m) = raw.max_age() {
        c.set_max_age(m);
    }
    c.set_secure(raw.secure());
    c.set_http_only(raw.http_only());
    c.set_same_site(raw.same_site());
    c
}

impl Client {
    /// The value of cookie `name` that would be sent to the base host, such as Django's
    /// `csrftoken` for the `X-CSRFToken` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .get_request_values(&self.base)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Every unexpired cookie in the jar, as (name, value, domain, path): what another
    /// front shows as its session's cookies (requests' `session.cookies`).
    pub fn cookie_list(&self) -> Vec<(String, String, String, String)> {
        self.cookies
            .iter_unexpired()
            .map(|c| {
                let domain = c.domain.as_cow().unwrap_or_default().into_owned();
                let (n, v) = c.name_value();
                (n.to_owned(), v.to_owned(), domain, String::from(&c.path))
            })
            .collect()
    }

    /// Sets a cookie by hand, as `session.cookies.set(..)` does: for `domain` (the base
    /// host when empty) and `path`, within the same limits as a response's cookies.
    pub fn set_cookie(&mut self, name: &str, value: &str, domain: &str, path: &str) {
        let host = if domain.is_empty() {
            self.base.host_str().unwrap_or_default().to_owned()
        } else {
            domain.trim_start_matches('.').to_owned()
        };
        let Ok(url) = Url::parse(&format!("{}://{host}{path}", self.base.scheme())) else {
            return;
        };
        let mut line = format!("{name}={value}; Path={path}");
        if !domain.is_empty() {
            line.push_str("; Domain=");
            line.push_str(&host);
        }
        let head = format!("HTTP/1.1 200 OK\r\nset-cookie: {line}\r\n\r\n");
        self.store_cookies(&fields::Fields::new(Bytes::from(head)), &url);
    }

    /// Removes the cookies named `name` (of `domain` and `path`, when given).
    pub fn remove_cookie(&mut self, name: &str, domain: Option<&str>, path: Option<&str>) {
        let gone: Vec<(String, String, String)> = self
            .cookies
            .iter_any()
            .filter(|c| c.name() == name)
            .map(|c| {
                let d = c.domain.as_cow().unwrap_or_default().into_owned();
                (d, String::from(&c.path), c.name().to_owned())
            })
            .filter(|(d, p, _)| {
                domain.is_none_or(|want| d == want.trim_start_matches('.'))
                    && path.is_none_or(|want| p == want)
            })
            .collect();
        for (d, p, n) in &gone {
            self.cookies.remove(d, p, n);
        }
        if !gone.is_empty() {
            self.jar_changed();
        }
    }

    /// Forgets every cookie (a fresh browser profile).
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
        self.cookie_lines = CookieLines::default();
        self.jar_generation += 1;
    }

    /// The `Cookie` header for a request to `target`: the one made last for its origin
    /// while the jar is unchanged and none of its cookies has expired since, else made
    /// afresh.
    pub(super) fn cookie_header(&mut self, target: &target::Target) -> Option<http::HeaderValue> {
        let path = target.url.path();
        let held = self
            .cookie_lines
            .lines
            .iter()
            .find(|(o, _)| **o == *target.origin);
        if let Some((_, l)) = held {
            if l.generation == self.jar_generation
                && l.path.as_deref().is_none_or(|p| p == path)
                && crate::stats::unix_now() < l.until
            {
                return l.value.clone();
            }
        }
        let line = self.build_line(&target.url);
        let value = line.value.clone();
        self.cookie_lines.keep(&target.origin, line);
        value
    }

    /// The `Cookie` line for `url`, written once into its own buffer.
    fn build_line(&self, url: &Url) -> Line {
        let matched = self.cookies.matches(url);
        let len = matched.iter().map(|c| text(c)).sum::<usize>();
        let mut out = Vec::with_capacity(len.saturating_sub(2));
        let mut until = f64::INFINITY;
        for c in &matched {
            if !out.is_empty() {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(c.name().as_bytes());
            out.push(b'=');
            out.extend_from_slice(c.value().as_bytes());
            if let CookieExpiration::AtUtc(at) = &c.expires {
                until = until.min(at.unix_timestamp() as f64);
            }
        }
        // A cookie scoped to a path changes the line from one path to another.
        let scoped = self
            .cookies
            .iter_any()
            .any(|c| AsRef::<str>::as_ref(&c.path) != "/");
        Line {
            generation: self.jar_generation,
            until,
            path: scoped.then(|| url.path().into()),
            value: (!out.is_empty())
                .then(|| http::HeaderValue::from_maybe_shared(Bytes::from(out)).ok())
                .flatten(),
        }
    }

    /// Keeps the response's cookies, within a browser's limits and the user's budget: a
    /// cookie of more than 4 KB is refused, and so is a new one once the jar holds `--max-cookies` (180)
    /// cookies or its budget is spent (expired cookies make room first), so a target
    /// setting new cookies on every answer cannot grow memory and every `Cookie` header
    /// without end. What came first stays: a session cookie survives a flood.
    pub(super) fn store_cookies(&mut self, fields: &fields::Fields, url: &Url) {
        for s in fields.get_all("set-cookie") {
            if s.len() > MAX_COOKIE_BYTES {
                cookie_refused(self.config.max_cookies);
                continue;
            }
            // A malformed attribute (Saleor's `Max-Age=315360000.0`) is ignored by the
            // parser and the cookie kept, as browsers do.
            let Ok(raw) = cookie::Cookie::parse(s) else {
                continue;
            };
            let Ok(c) = Cookie::try_from_raw_cookie(&lean(&raw), url) else {
                continue;
            };
            // An expired cookie only ends the one it names: it takes no room.
            let fits = c.is_expired() || self.fits(&c) || self.drop_expired() && self.fits(&c);
            if !fits {
                cookie_refused(self.config.max_cookies);
                continue;
            }
            if self.cookies.insert(c, url).is_ok() {
                self.jar_changed();
            }
        }
    }

    /// Whether the jar has room for `c`: in count, when it is new, and in bytes, less
    /// the cookie it replaces.
    fn fits(&self, c: &Cookie<'_>) -> bool {
        let domain = c.domain.as_cow().unwrap_or_default();
        let old = self
            .cookies
            .get_any(&domain, &c.path, c.name())
            .map(counted);
        let full = old.is_none()
            && self.cookies.iter_any().count() >= usize::from(self.config.max_cookies);
        !full && self.cookie_lines.jar + counted(c) - old.unwrap_or(0) <= COOKIE_BUDGET
    }

    /// Drops the expired cookies, which still hold memory; whether there were any.
    fn drop_expired(&mut self) -> bool {
        let expired: Vec<(String, String, String)> = self
            .cookies
            .iter_any()
            .filter(|c| c.is_expired())
            .map(|c| {
                let domain = c.domain.as_cow().unwrap_or_default().into_owned();
                (domain, String::from(&c.path), c.name().to_owned())
            })
            .collect();
        for (domain, path, name) in &expired {
            self.cookies.remove(domain, path, name);
        }
        if !expired.is_empty() {
            self.jar_changed();
        }
        !expired.is_empty()
    }

    /// The jar changed: it is counted again, and every line made from it is stale.
    fn jar_changed(&mut self) {
        self.cookie_lines.jar = self.cookies.iter_any().map(counted).sum();
        self.cookie_lines.text = self.cookies.iter_any().map(text).sum();
        self.cookie_lines.stale();
        self.jar_generation += 1;
    }
}

/// Says once per process that a target sent more cookies than a user keeps.
fn cookie_refused(max_cookies: u16) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            "the target sets more cookies than a user keeps ({max_cookies} cookies (--max-cookies) of at most {MAX_COOKIE_BYTES} bytes, {} KB with the Cookie header made of them): the rest are refused, and this is said once",
            COOKIE_BUDGET / 1024
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::fields::Fields;
    use crate::client::target::Target;

    fn client() -> Client {
        let users = Arc::new(crate::stats::UserCounts::new(vec!["T".into()]));
        let stats = crate::stats::spawn_aggregator(users, "t".into(), false, Default::default());
        let config = crate::client::ClientConfig::new(false);
        Client::new(
            "http://shop.test/".parse().unwrap(),
            config,
            stats.recorder(),
        )
    }

    /// An answer from `path` setting `cookies`.
    fn set(c: &mut Client, path: &str, cookies: &[String]) {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for s in cookies {
            head.push_str(&format!("Set-Cookie: {s}\r\n"));
        }
        head.push_str("\r\n");
        let url = c.base.join(path).unwrap();
        c.store_cookies(&Fields::new(Bytes::from(head)), &url);
    }

    fn header(c: &mut Client, path: &str) -> Option<http::HeaderValue> {
        let target = Target::new(c.base.join(path).unwrap()).unwrap();
        c.cookie_header(&target)
    }

    #[tokio::test]
    async fn one_line_per_origin_and_a_path_scoped_cookie_only_where_it_belongs() {
        let mut c = client();
        set(&mut c, "/", &["a=1; Path=/".into()]);
        let (x, y) = (header(&mut c, "/x").unwrap(), header(&mut c, "/y").unwrap());
        assert_eq!(x, "a=1");
        assert_eq!(x.as_bytes().as_ptr(), y.as_bytes().as_ptr(), "built once");
        set(&mut c, "/deep/x", &["b=2; Path=/deep".into()]);
        assert_eq!(header(&mut c, "/x").unwrap(), "a=1");
        let deep = header(&mut c, "/deep/y").unwrap();
        let mut pairs: Vec<&str> = deep.to_str().unwrap().split("; ").collect();
        pairs.sort();
        assert_eq!(pairs, ["a=1", "b=2"]);
        assert_eq!(header(&mut c, "/x").unwrap(), "a=1");
        assert_eq!(c.cookie_lines.lines.len(), 1);
    }

    #[tokio::test]
    async fn a_browsers_count_of_small_cookies_fits_the_budget() {
        let mut c = client();
        let small = |n: usize| format!("cookie{n}=v; Path=/");
        set(&mut c, "/", &(0..200).map(small).collect::<Vec<_>>());
        assert_eq!(
            c.cookies.iter_any().count(),
            usize::from(DEFAULT_MAX_COOKIES)
        );
        assert!(header(&mut c, "/").is_some());
        assert!(c.cookie_lines.held() <= COOKIE_BUDGET);
    }

    #[tokio::test]
    async fn the_budget_keeps_what_came_first_and_expired_cookies_make_room() {
        let mut c = client();
        let big = |n: usize| format!("c{n}={}; Path=/", "v".repeat(3900));
        set(&mut c, "/", &(0..40).map(big).collect::<Vec<_>>());
        let kept = c.cookies.iter_any().count();
        assert_eq!(kept, 11, "the first 11 fit the budget");
        assert!(c.cookie("c0").is_some() && c.cookie("c11").is_none());
        header(&mut c, "/");
        assert!(c.cookie_lines.held() <= COOKIE_BUDGET);
        // A cookie replaced by one of the same size still fits.
        set(&mut c, "/", &[format!("c0={}; Path=/", "w".repeat(3900))]);
        assert!(c.cookie("c0").unwrap().starts_with('w'));
        // The server ends them all: the next ones take their room.
        let ended: Vec<String> = (0..11)
            .map(|n| format!("c{n}=; Max-Age=0; Path=/"))
            .collect();
        set(&mut c, "/", &ended);
        set(&mut c, "/", &(100..140).map(big).collect::<Vec<_>>());
        assert_eq!(c.cookies.iter_unexpired().count(), 11);
        assert!(c.cookie("c100").is_some() && c.cookie("c0").is_none());
    }
}
