//! A finished response, with the helpers load-test scripts reach for: text, JSON, and
//! pulling values out of HTML (a hidden input's token, links, an attribute holding JSON).
//!
//! HTML is parsed on demand and never kept, because a parsed document cannot cross an
//! `.await` in a multi-threaded runtime.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use scraper::{Html, Selector};
use url::Url;

/// Why a value could not be pulled out of a response.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("invalid CSS selector '{0}'")]
    /// A CSS selector that does not parse.
    Selector(String),
    #[error("no element matches '{0}'")]
    /// No element matches the selector.
    NotFound(String),
    #[error("element '{selector}' has no attribute '{attr}'")]
    /// An element matched but lacks the attribute.
    NoAttribute {
        /// The selector that matched.
        selector: String,
        /// The attribute it lacked.
        attr: String,
    },
    #[error("'{0}' does not hold valid JSON: {1}")]
    /// An attribute (`selector @attr`) that does not hold JSON, and the parser's words.
    Json(String, String),
    /// The body was to be read as JSON and is not: the parser's words, and the body's start.
    #[error("the body is not JSON ({0}): {1}")]
    NotJson(String, String),
    #[error("no JSON value at '{0}' in {1}")]
    /// No value at the path (first), in a document of this shape (second: its keys, never its values).
    NoJsonValue(String, String),
    #[error("the JSON value at '{path}' is not of the wanted type: {detail}")]
    /// A value is there, of another type than asked for.
    JsonType {
        /// The path asked for.
        path: String,
        /// What serde said of the value there.
        detail: String,
    },
    #[error("no header '{0}'")]
    /// The response has no such header (or it is not text).
    NoHeader(String),
    #[error("invalid regex /{0}/: {1}")]
    /// The pattern does not compile, and why.
    Regex(String, String),
    #[error("no match for /{0}/ in the body")]
    /// The pattern matches nowhere in the body.
    NoMatch(String),
}

/// The answer to a request, after any redirects.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: super::fields::Fields,
    pub(crate) url: std::sync::Arc<Url>,
    pub(crate) body: Bytes,
    /// Every body byte that arrived; more than `body` holds when `--max-body` cut it.
    pub(crate) content_length: u64,
    pub(crate) elapsed: Duration,
    /// Redirects followed to reach it.
    pub(crate) redirects: u32,
    /// The redirects' own answers, in order (empty, and unallocated, without redirects).
    pub(crate) history: Vec<Redirect>,
}

/// One redirect a request followed: what that hop answered (Python's requests keeps these
/// as `response.history`).
#[derive(Debug, Clone)]
pub struct Redirect {
    pub(crate) status: StatusCode,
    pub(crate) url: std::sync::Arc<Url>,
    pub(crate) headers: super::fields::Fields,
}

impl Redirect {
    /// The redirect's status (301, 302, ...).
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The URL that answered with the redirect.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// Its headers as (name, value) text, in the order received.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers.pairs()
    }
}

impl Response {
    /// The final status code, after redirects.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/").await?;
    /// assert!(r.status().is_success());
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The response's headers (built from the raw head the first time they are asked for).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/").await?;
    /// let kind = r.headers().get("content-type");
    /// # let _ = kind;
    /// # Ok(()) }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }
    /// How many redirects were followed to get here (0: the first answer).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.post("/account/signup/").form(&[("email", "a@b.c")]).await?;
    /// if r.redirects() == 0 { /* the form was shown again */ }
    /// # Ok(()) }
    /// ```
    pub fn redirects(&self) -> u32 {
        self.redirects
    }
    /// The redirects followed to get here, in order: each hop's status, URL and headers.
    pub fn history(&self) -> &[Redirect] {
        &self.history
    }
    /// The status line's reason phrase as the server sent it: `Not Found`, or a server's
    /// own (`Nope Here`), which Locust's failure texts quote.
    pub fn reason(&self) -> String {
        self.headers.reason()
    }

    /// Every header as (name, value) text, in the order received, repeats kept (bytes
    /// beyond ASCII as Latin-1): what a front hands to a library that wants them so.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers.pairs()
    }

    /// The URL that answered, after redirects.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.post("/checkout/summary/").await?;
    /// let order_page = r.url().path().to_owned();
    /// # let _ = order_page;
    /// # Ok(()) }
    /// ```
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The body, up to `--max-body` bytes.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/logo.png").await?;
    /// assert!(r.bytes().starts_with(b"\x89PNG"));
    /// # Ok(()) }
    /// ```
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
    /// Body bytes that arrived, whether kept or not.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/big-download").await?;
    /// println!("{} bytes arrived", r.content_length());
    /// # Ok(()) }
    /// ```
    pub fn content_length(&self) -> u64 {
        self.content_length
    }
    /// Whether the body was longer than `--max-body` and only its start was kept.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/big-download").await?;
    /// if r.body_truncated() { /* only the first --max-body bytes are in r.bytes() */ }
    /// # Ok(()) }
    /// ```
    pub fn body_truncated(&self) -> bool {
        self.content_length > self.body.len() as u64
    }
    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let page = client.get("/").await?.text();
    /// assert!(page.contains("Hoodie"));
    /// # Ok(()) }
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Time from sending the first request to reading the last body byte.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/").await?;
    /// println!("{:?}", r.elapsed());
    /// # Ok(()) }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
    /// The value of header `name` (case-insensitive), if it is there and is text.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/").await?;
    /// let server = r.header("server").unwrap_or("unknown");
    /// # let _ = server;
    /// # Ok(()) }
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.map().get(name).and_then(|v| v.to_str().ok())
    }
    /// The body parsed as JSON into `T`: a type of your own, or `serde_json::Value`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let products: serde_json::Value = client.get("/api/products").await?.json()?;
    /// # let _ = products;
    /// # Ok(()) }
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Runs `f` on the parsed HTML document.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let r = client.get("/").await?;
    /// let title = r.with_html(|doc| doc.root_element().text().count());
    /// # let _ = title;
    /// # Ok(()) }
    /// ```
    pub fn with_html<R>(&self, f: impl FnOnce(&Html) -> R) -> R {
        let doc = Html::parse_document(&String::from_utf8_lossy(&self.body));
        f(&doc)
    }

    /// The value of `<input name="{name}">`: Django's `csrfmiddlewaretoken`, for example.
    /// Found by a streaming scan of the body (no DOM is built), which defers to the full
    /// parser whenever the page holds anything it cannot be sure of.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let page = client.get("/account/signup/").await?;
    /// let csrf = page.hidden_input("csrfmiddlewaretoken")?;
    /// # let _ = csrf;
    /// # Ok(()) }
    /// ```
    pub fn hidden_input(&self, name: &str) -> Result<String, ExtractError> {
        let css = || format!("input[name=\"{name}\"]");
        match super::scan::input_value(&self.body, name) {
            super::scan::Scan::Found(value) => return Ok(value),
            super::scan::Scan::Absent => return Err(ExtractError::NotFound(css())),
            super::scan::Scan::Unsure => {}
        }
        let css = css();
        self.select_attr(&css, "value")?
            .into_iter()
            .next()
            .ok_or(ExtractError::NotFound(css))
    }

    /// The attribute `attr` of every element matching `css`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let page = client.get("/products/category/apparel-1/").await?;
    /// let links = page.select_attr(".product-list a", "href")?;
    /// # let _ = links;
    /// # Ok(()) }
    /// ```
    pub fn select_attr(&self, css: &str, attr: &str) -> Result<Vec<String>, ExtractError> {
        let sel = selector(css)?;
        Ok(self.with_html(|doc| {
            doc.select(&sel)
                .filter_map(|e| e.value().attr(attr).map(str::to_owned))
                .collect()
        }))
    }

    /// The text content of every element matching `css`, whitespace-trimmed.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let page = client.get("/cart/").await?;
    /// let prices = page.select_text(".cart-item .price")?;
    /// # let _ = prices;
    /// # Ok(()) }
    /// ```
    pub fn select_text(&self, css: &str) -> Result<Vec<String>, ExtractError> {
        let sel = selector(css)?;
        Ok(self.with_html(|doc| {
            doc.select(&sel)
                .map(|e| e.text().collect::<String>().trim().to_owned())
                .collect()
        }))
    }

    /// Parses the JSON held in an attribute, such as Saleor's `data-variant-picker-data`.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let page = client.get("/products/codemash-1/").await?;
    /// let picker = page.attr_json("#variant-picker", "data-variant-picker-data")?;
    /// let first = &picker["variants"][0]["id"];
    /// # let _ = first;
    /// # Ok(()) }
    /// ```
    pub fn attr_json(&self, css: &str, attr: &str) -> Result<serde_json::Value, ExtractError> {
        let values = self.select_attr(css, attr)?;
        let raw = match values.into_iter().next() {
            Some(raw) => raw,
            None if self.matches(css) => {
                return Err(ExtractError::NoAttribute {
                    selector: css.to_owned(),
                    attr: attr.to_owned(),
                })
            }
            None => return Err(ExtractError::NotFound(css.to_owned())),
        };
        serde_json::from_str(&raw)
            .map_err(|e| ExtractError::Json(format!("{css} @{attr}"), e.to_string()))
    }

    fn matches(&self, css: &str) -> bool {
        selector(css)
            .map(|s| self.with_html(|doc| doc.select(&s).next().is_some()))
            .unwrap_or(false)
    }
}

fn selector(css: &str) -> Result<Selector, ExtractError> {
    Selector::parse(css).map_err(|_| ExtractError::Selector(css.to_owned()))
}
