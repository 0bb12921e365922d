//! Headers a client adds to every request of its user: fixed ones (an API key, a bearer
//! token) and ones that carry a cookie's current value (Django's CSRF idiom), so a plan
//! states them once instead of on every request.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use url::Url;

use super::{Client, ClientError};

/// The client's own headers, applied after the browser-like ones (so they may replace
/// `User-Agent` or `Accept`) and before each request's own (which win).
#[derive(Default)]
pub(super) struct DefaultHeaders {
    fixed: HeaderMap,
    /// Header name, and the cookie whose value it carries when the cookie is set.
    from_cookies: Vec<(HeaderName, String)>,
    /// Headers HTTP refuses, given to `set_header`, by lowercased name: every request fails
    /// with the first (and says so in the failures table) until each is replaced or removed.
    invalid: Vec<(String, ClientError)>,
    /// Basic auth from the base URL's user info (`http://user:pass@host`), sent to the
    /// base's own origin only, as requests sends a URL's auth to that URL alone.
    pub(super) base_auth: Option<(Url, HeaderValue)>,
}

/// Headers that carry credentials: a redirect to another origin (scheme, host or port)
/// drops them, as browsers (the Fetch standard), curl and requests do, so a token for the
/// site under test never reaches the site it redirects to. That includes a `Cookie` the
/// plan set by hand: the jar then builds `Cookie` afresh for the new origin, from the
/// cookies that belong to it (docs/conformance.md, "What a redirect keeps").
const CREDENTIALS: [HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
];

/// Whether `name` carries credentials that must not follow a redirect to another origin.
pub(super) fn is_credential(name: &HeaderName) -> bool {
    CREDENTIALS.contains(name)
}

/// A header name and value, or an error that says which of the two HTTP refuses.
pub(super) fn parse(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ClientError> {
    let bad = |what| ClientError::Header {
        name: name.to_owned(),
        value: value.to_owned(),
        what,
    };
    if name.is_empty() {
        return Err(bad("name (it is empty)"));
    }
    let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
    let v = HeaderValue::from_str(value).map_err(|_| bad("value"))?;
    Ok((n, v))
}

impl Client {
    /// Sends `name: value` on every later request of this client (a request's own
    /// `.header` still wins). A name or value HTTP refuses fails every later request with
    /// an error that names it, as a request's own invalid header does. Bytes beyond ASCII
    /// are sent as they are (HTTP's obs-text); servers often read them as Latin-1.
    /// `Authorization`, `Proxy-Authorization` and `Cookie` are not sent after a redirect
    /// to another origin.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.set_header("Authorization", "Bearer 3f2a...");
    /// client.get("/api/cart").await?;
    /// # Ok(()) }
    /// ```
    pub fn set_header(&mut self, name: &str, value: &str) -> &mut Self {
        self.remove_header(name);
        match parse(name, value) {
            Ok((n, v)) => {
                self.defaults.fixed.insert(n, v);
            }
            Err(e) => self.defaults.invalid.push((name.to_ascii_lowercase(), e)),
        }
        self
    }

    /// Stops sending a header set by [`set_header`](Self::set_header) or
    /// [`header_from_cookie`](Self::header_from_cookie).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.remove_header("Authorization"); // logged out
    /// client.get("/api/products").await?;
    /// # Ok(()) }
    /// ```
    pub fn remove_header(&mut self, name: &str) -> &mut Self {
        let lower = name.to_ascii_lowercase();
        self.defaults.invalid.retain(|(n, _)| *n != lower);
        if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
            self.defaults.fixed.remove(&n);
            self.defaults.from_cookies.retain(|(h, _)| *h != n);
        }
        self
    }

    /// Sends header `header` with the current value of cookie `cookie` on every later
    /// request, whenever the jar holds that cookie for the request's URL: Django's
    /// `client.header_from_cookie("X-CSRFToken", "csrftoken")`. The value is read at each
    /// request, so a token the site rotates (Django does at login) is followed. An invalid
    /// header name fails every later request, as with [`set_header`](Self::set_header).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// client.header_from_cookie("X-CSRFToken", "csrftoken");
    /// client.post("/cart/add/").ajax().await?;
    /// # Ok(()) }
    /// ```
    pub fn header_from_cookie(&mut self, header: &str, cookie: &str) -> &mut Self {
        self.remove_header(header);
        match parse(header, "") {
            Ok((n, _)) => self.defaults.from_cookies.push((n, cookie.to_owned())),
            Err(e) => self.defaults.invalid.push((header.to_ascii_lowercase(), e)),
        }
        self
    }

    /// The error every request fails with while a header given to the client is invalid.
    pub(super) fn invalid_header(&self) -> Option<ClientError> {
        self.defaults.invalid.first().map(|(_, e)| e.clone())
    }

    /// Adds this client's own headers for a request to `url`; `cross_origin` (a redirect
    /// away from the request's first origin) leaves out credentials.
    pub(super) fn add_default_headers(&self, url: &Url, cross_origin: bool, h: &mut HeaderMap) {
        if let Some((base, v)) = &self.defaults.base_auth {
            if !cross_origin && super::same_origin(base, url) {
                h.insert(http::header::AUTHORIZATION, v.clone());
            }
        }
        for (k, v) in &self.defaults.fixed {
            if !(cross_origin && is_credential(k)) {
                h.insert(k.clone(), v.clone());
            }
        }
        for (header, cookie) in &self.defaults.from_cookies {
            let value = self
                .cookies
                .get_request_values(url)
                .find(|(n, _)| n == cookie)
                .and_then(|(_, v)| HeaderValue::from_str(v).ok());
            if let Some(v) = value {
                h.insert(header.clone(), v);
            }
        }
    }
}

/// The `Content-Length` value of a body of `len` bytes. Below 10,000 bytes (every form a
/// plan posts) it is a slice of one table made once per process, so a request allocates
/// nothing for it; hyper would format a new one per request.
pub(super) fn content_length(len: usize) -> HeaderValue {
    const UP_TO: usize = 10_000;
    const WIDTH: usize = 4;
    static TABLE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    if len >= UP_TO {
        return HeaderValue::from(len);
    }
    let table = TABLE.get_or_init(|| {
        // Every number right-aligned in 4 bytes: 40 KB, once.
        let text: String = (0..UP_TO).map(|n| format!("{n:>WIDTH$}")).collect();
        Box::leak(text.into_boxed_str())
    });
    let digits = len.checked_ilog10().unwrap_or(0) as usize + 1;
    let end = (len + 1) * WIDTH;
    HeaderValue::from_static(&table[end - digits..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_lengths_read_as_their_numbers() {
        for len in [0, 1, 9, 10, 99, 100, 999, 1000, 9_999, 10_000, 123_456] {
            assert_eq!(
                super::content_length(len).to_str().unwrap(),
                len.to_string()
            );
        }
    }
}
