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
    Selector(String),
    #[error("no element matches '{0}'")]
    NotFound(String),
    #[error("element '{selector}' has no attribute '{attr}'")]
    NoAttribute { selector: String, attr: String },
    #[error("'{0}' does not hold valid JSON: {1}")]
    Json(String, String),
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
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The response's headers (built from the raw head the first time they are asked for).
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }
    /// How many redirects were followed to get here (0: the first answer).
    pub fn redirects(&self) -> u32 {
        self.redirects
    }
    /// The URL that answered, after redirects.
    pub fn url(&self) -> &Url {
        &self.url
    }
    /// The body, up to `--max-body` bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
    /// Body bytes that arrived, whether kept or not.
    pub fn content_length(&self) -> u64 {
        self.content_length
    }
    /// Whether the body was longer than `--max-body` and only its start was kept.
    pub fn body_truncated(&self) -> bool {
        self.content_length > self.body.len() as u64
    }
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Time from sending the first request to reading the last body byte.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.map().get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Runs `f` on the parsed HTML document.
    pub fn with_html<R>(&self, f: impl FnOnce(&Html) -> R) -> R {
        let doc = Html::parse_document(&String::from_utf8_lossy(&self.body));
        f(&doc)
    }

    /// The value of `<input name="{name}">`: Django's `csrfmiddlewaretoken`, for example.
    /// Found by a streaming scan of the body (no DOM is built), which defers to the full
    /// parser whenever the page holds anything it cannot be sure of.
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
    pub fn select_attr(&self, css: &str, attr: &str) -> Result<Vec<String>, ExtractError> {
        let sel = selector(css)?;
        Ok(self.with_html(|doc| {
            doc.select(&sel)
                .filter_map(|e| e.value().attr(attr).map(str::to_owned))
                .collect()
        }))
    }

    /// The text content of every element matching `css`, whitespace-trimmed.
    pub fn select_text(&self, css: &str) -> Result<Vec<String>, ExtractError> {
        let sel = selector(css)?;
        Ok(self.with_html(|doc| {
            doc.select(&sel)
                .map(|e| e.text().collect::<String>().trim().to_owned())
                .collect()
        }))
    }

    /// Parses the JSON held in an attribute, such as Saleor's `data-variant-picker-data`.
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
