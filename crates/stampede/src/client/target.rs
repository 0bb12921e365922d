//! Where a request goes, prepared once: a user requests the same few paths over and over,
//! and the URL, its origin, its `Host` header and its request line do not change between
//! requests. Each client keeps the targets of its recent paths, so a repeated request
//! parses, joins and formats nothing.

use std::sync::{Arc, Mutex, OnceLock};

use http::HeaderValue;
use url::Url;

use super::conn::Origin;
use super::ClientError;

/// A URL ready to be requested.
#[derive(Debug)]
pub(crate) struct Target {
    pub url: Arc<Url>,
    pub origin: Arc<Origin>,
    /// The `Host` header: the host, and the port unless it is the scheme's default.
    pub host: Option<HeaderValue>,
    /// Path and query, the request target of HTTP/1.1's origin form.
    pub uri: http::Uri,
    /// The URL as the next page's `Referer`, made the first time it is one.
    referer: OnceLock<Option<HeaderValue>>,
    /// The `Cookie` header last sent here, and until when it holds.
    pub cookies: Mutex<Option<CookieLine>>,
}

/// A `Cookie` header as the jar gave it: it holds while the jar has not changed
/// (`generation`) and none of its cookies has expired (`until`, unix seconds).
#[derive(Debug)]
pub(crate) struct CookieLine {
    pub generation: u64,
    pub until: f64,
    pub value: Option<HeaderValue>,
}

impl Target {
    pub fn new(url: Url) -> Result<Self, ClientError> {
        let origin = Origin::of(&url)?;
        let default_port = if origin.tls { 443 } else { 80 };
        let host = url.host_str().and_then(|host| {
            let value = if origin.port == default_port {
                HeaderValue::from_str(host)
            } else {
                HeaderValue::from_str(&format!("{host}:{}", origin.port))
            };
            value.ok()
        });
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let uri = target
            .parse()
            .map_err(|e| ClientError::Url(format!("{url}: {e}")))?;
        Ok(Self {
            url: Arc::new(url),
            origin: Arc::new(origin),
            host,
            uri,
            referer: OnceLock::new(),
            cookies: Mutex::new(None),
        })
    }

    /// This URL as a `Referer` value.
    pub fn referer(&self) -> Option<&HeaderValue> {
        self.referer
            .get_or_init(|| HeaderValue::from_str(self.url.as_str()).ok())
            .as_ref()
    }
}

/// Paths a client keeps prepared. Small: a plan's handful of pages fits, and an idle user's
/// memory stays low.
const KEPT: usize = 8;

/// A client's recent targets, by the path they were asked for (relative to the base).
#[derive(Default)]
pub(crate) struct Targets {
    /// (path as given, its target), newest last.
    kept: Vec<(Box<str>, Arc<Target>)>,
    /// The slot the next new path replaces once full.
    next: usize,
}

impl Targets {
    /// The target of `path` joined to `base`, prepared the first time.
    pub fn get(&mut self, base: &Url, path: &str) -> Result<Arc<Target>, ClientError> {
        if let Some((_, t)) = self.kept.iter().find(|(p, _)| **p == *path) {
            return Ok(t.clone());
        }
        let url = base
            .join(path)
            .map_err(|e| ClientError::Url(format!("{path}: {e}")))?;
        let target = Arc::new(Target::new(url)?);
        let entry = (Box::from(path), target.clone());
        if self.kept.len() < KEPT {
            self.kept.push(entry);
        } else {
            self.kept[self.next] = entry;
            self.next = (self.next + 1) % KEPT;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_holds_host_and_request_line() {
        let t = Target::new("http://shop.test:8000/a/b?x=1".parse().unwrap()).unwrap();
        assert_eq!(t.host.as_ref().unwrap(), "shop.test:8000");
        assert_eq!(t.uri, "/a/b?x=1");
        assert_eq!(t.referer().unwrap(), "http://shop.test:8000/a/b?x=1");
        let t = Target::new("https://shop.test/".parse().unwrap()).unwrap();
        assert_eq!(t.host.as_ref().unwrap(), "shop.test");
    }

    #[test]
    fn a_repeated_path_is_prepared_once_and_the_cache_stays_small() {
        let base: Url = "http://shop.test/shop/".parse().unwrap();
        let mut targets = Targets::default();
        let a = targets.get(&base, "cart").unwrap();
        assert_eq!(a.url.as_str(), "http://shop.test/shop/cart");
        assert!(Arc::ptr_eq(&a, &targets.get(&base, "cart").unwrap()));
        for i in 0..KEPT * 3 {
            targets.get(&base, &format!("/p/{i}")).unwrap();
        }
        assert_eq!(targets.kept.len(), KEPT);
        assert!(targets.get(&base, "ftp://x/").is_err());
    }
}
