//! User info in a base URL (`http://user:pass@host`): sent as Basic auth, as requests
//! does, and kept out of every URL the client builds, so the password never reaches a
//! request line, a span or a report through the URL.

use base64::Engine;
use http::HeaderValue;
use url::Url;

/// The base without its user info, and the `Authorization` value the user info stands for.
/// Both parts are percent-decoded first, as requests' `get_auth_from_url` decodes them.
pub(super) fn split(mut base: Url) -> (Url, Option<HeaderValue>) {
    if base.username().is_empty() && base.password().is_none() {
        return (base, None);
    }
    let user = percent_decode(base.username());
    let pass = percent_decode(base.password().unwrap_or(""));
    let _ = base.set_username("");
    let _ = base.set_password(None);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    // Base64 is ASCII: always a valid header value.
    let value = HeaderValue::from_str(&format!("Basic {token}")).ok();
    (base, value)
}

/// `%XX` escapes decoded, every other byte as it is ('+' and '&' included: this is a URL's
/// user info, not a form).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_becomes_basic_auth_and_leaves_the_url() {
        let (base, auth) = split("http://ann:p%40ss@shop.test:8000/".parse().unwrap());
        assert_eq!(base.as_str(), "http://shop.test:8000/");
        // base64("ann:p@ss")
        assert_eq!(auth.unwrap(), "Basic YW5uOnBAc3M=");
        // base64("ann:p&s+s")
        let (_, amp) = split("http://ann:p&s+s@shop.test/".parse().unwrap());
        assert_eq!(amp.unwrap(), "Basic YW5uOnAmcytz");
        let (plain, none) = split("http://shop.test/".parse().unwrap());
        assert_eq!(plain.as_str(), "http://shop.test/");
        assert_eq!(none, None);
    }
}
