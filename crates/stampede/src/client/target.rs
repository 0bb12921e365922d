//! Where a request goes, prepared once: a user requests the same few paths over and over,
//! and the URL, its origin, its `Host` header and its request line do not change between
//! requests. Each client keeps the targets of its recent paths, so a repeated request
//! parses, joins and formats nothing; and what it has seen of each origin's idle timeout.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

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
    /// The URL as the next page's `Referer`, made the first time it is one. (Its `Cookie`
    /// header is its origin's, kept by the client: cookies.rs.)
    referer: OnceLock<Option<HeaderValue>>,
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

/// Origins whose idle timeout a client remembers: a user talks to one or two.
const ORIGINS_KEPT: usize = 4;

/// A client's recent targets, by the path they were asked for (relative to the base).
#[derive(Default)]
pub(crate) struct Targets {
    /// (path as given, its target), newest last.
    kept: Vec<(Box<str>, Arc<Target>)>,
    /// The slot the next new path replaces once full.
    next: usize,
    /// Per origin, the shortest idle after which its server was found to have closed a
    /// kept-alive connection unannounced: its idle timeout is at most that. Kept here, for
    /// the user, because connections come and go (`conn::may_risk_unrepeatable`).
    idle_closes: Vec<(Arc<Origin>, Duration)>,
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

    /// The shortest idle after which `origin`'s server was found to have closed a
    /// connection without announcing it, if it has been.
    pub fn idle_close(&self, origin: &Origin) -> Option<Duration> {
        self.idle_closes
            .iter()
            .find(|(o, _)| **o == *origin)
            .map(|(_, d)| *d)
    }

    /// Notes that `origin`'s server had closed a connection idle for `idle`.
    pub fn saw_idle_close(&mut self, origin: &Arc<Origin>, idle: Duration) {
        match self.idle_closes.iter_mut().find(|(o, _)| **o == **origin) {
            Some((_, d)) => *d = (*d).min(idle),
            None => {
                if self.idle_closes.len() == ORIGINS_KEPT {
                    self.idle_closes.remove(0);
                }
                self.idle_closes.push((origin.clone(), idle));
            }
        }
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

    #[test]
    fn an_origins_idle_timeout_is_the_shortest_idle_found_closed() {
        let base: Url = "http://shop.test/".parse().unwrap();
        let mut targets = Targets::default();
        let shop = targets.get(&base, "/").unwrap().origin.clone();
        assert_eq!(targets.idle_close(&shop), None);
        targets.saw_idle_close(&shop, Duration::from_secs(3));
        targets.saw_idle_close(&shop, Duration::from_secs(5));
        targets.saw_idle_close(&shop, Duration::from_secs(2));
        assert_eq!(targets.idle_close(&shop), Some(Duration::from_secs(2)));
        for port in 0..ORIGINS_KEPT as u16 {
            let other = Origin {
                port,
                ..(*shop).clone()
            };
            targets.saw_idle_close(&Arc::new(other), Duration::from_secs(1));
        }
        assert_eq!(targets.idle_closes.len(), ORIGINS_KEPT, "bounded");
        assert_eq!(targets.idle_close(&shop), None, "the oldest went first");
    }
}
