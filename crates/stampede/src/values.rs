//! Values as people write them (durations, sizes, hosts) and as they may be shown (a host
//! without its password): each parser's error names the bad value. The command line uses
//! them, and so do the layers below it (a shape's stages, the runner's status).

use std::time::Duration;

use url::Url;

/// The longest duration accepted anywhere: longer ones overflow the clocks' arithmetic
/// (`Instant + Duration`), and no load test runs for ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A run time or timeout: `30s`, `5m`, `1h30m`, or a bare number of seconds; at most ten
/// years.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = match t.parse::<f64>() {
        Ok(secs) if secs >= 0.0 => Duration::try_from_secs_f64(secs).ok(),
        Ok(_) => None,
        Err(_) => humantime::parse_duration(t).ok(),
    }
    .ok_or_else(|| format!("'{s}' is not a duration; use a form such as 30s, 5m or 1h30m"))?;
    if d > MAX_DURATION {
        return Err(format!(
            "'{s}' is longer than the ten years a duration may be"
        ));
    }
    Ok(d)
}

/// A timeout: like a duration, but zero would fail every request, so it is refused.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("'{s}': a timeout must be longer than zero")),
        d => Ok(d),
    }
}

/// A scale factor (`--wait-scale`): a finite number, zero or more.
pub fn parse_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!(
            "'{s}' is not a scale; use a number of 0 or more (0 removes the waits, 1 keeps them)"
        )),
    }
}

/// A byte size: `16MiB`, `512k`, `1GB`, or a bare number of bytes (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size; use a form such as 16MiB, 512k or 1000"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "'{s}': unknown size unit '{other}' (use k, M or G)"
            ))
        }
    };
    n.checked_mul(mult)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// A host with an http or https scheme.
pub fn parse_host(raw: &str) -> Result<Url, String> {
    let s = &redacted_text(raw);
    let url = Url::parse(raw.trim())
        .map_err(|_| format!("'{s}' is not a URL; give the scheme too, as in http://{s}"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "http" | "https" => Err(format!("'{s}' has no host name")),
        _ => Err(format!("'{s}' needs an http:// or https:// scheme")),
    }
}

/// `host` as it may be shown (logs, reports, the UI, telemetry): user info keeps its user
/// and hides its password, `http://user:***@host/`. The client still sends the password
/// (as Basic auth, as requests does); nothing that prints the host may.
/// A user name with no password (an API key sent as the user, `https://sk_live_..:@api`) is
/// hidden whole: `http://***@host/`.
pub fn redacted_host(host: &Url) -> String {
    let mut shown = host.clone();
    if host.password().is_some() {
        let _ = shown.set_password(Some("***"));
    } else if !host.username().is_empty() {
        let _ = shown.set_username("***");
    }
    shown.to_string()
}

/// `s` with any user info between `://` and `@` hidden, for messages about a host that did
/// not parse (it must not echo a password either).
fn redacted_text(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => s.to_owned(),
    }
}

/// `USER:PASSWORD` for the web UI's Basic auth.
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for WebAuth {
    /// Never prints the password (it must not end up in logs or worker messages).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebAuth({}:***)", self.user)
    }
}

pub fn parse_web_auth(s: &str) -> Result<WebAuth, String> {
    match s.split_once(':') {
        Some((u, p)) if !u.is_empty() && !p.is_empty() => Ok(WebAuth {
            user: u.to_owned(),
            password: p.to_owned(),
        }),
        _ => Err("expected USER:PASSWORD, both non-empty".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_locust_forms() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        let err = parse_duration("5x").unwrap_err();
        assert!(err.contains("'5x'"), "{err}");
    }

    #[test]
    fn a_hosts_password_is_never_shown() {
        let h = parse_host("http://ann:s3cret@shop.test:8000/").unwrap();
        assert_eq!(redacted_host(&h), "http://ann:***@shop.test:8000/");
        let plain = parse_host("http://shop.test/").unwrap();
        assert_eq!(redacted_host(&plain), "http://shop.test/");
        let key = parse_host("https://sk_live_123:@api.test/").unwrap();
        assert_eq!(redacted_host(&key), "https://***@api.test/");
        let bad = parse_host("http://ann:s3cret@shop.test:99999/").unwrap_err();
        assert!(
            !bad.contains("s3cret") && bad.contains("***@shop.test"),
            "{bad}"
        );
    }

    #[test]
    fn hosts_need_a_scheme() {
        assert!(parse_host("http://127.0.0.1:8000").is_ok());
        let err = parse_host("127.0.0.1:8000").unwrap_err();
        assert!(err.contains("127.0.0.1:8000"), "{err}");
        assert!(parse_host("ftp://example.com")
            .unwrap_err()
            .contains("scheme"));
    }
}
