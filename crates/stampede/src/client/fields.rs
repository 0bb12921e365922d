//! A response's header fields, kept as the bytes they arrived in. Most responses are never
//! asked for a header by the plan; the client itself reads a few (`Set-Cookie`,
//! `Location`) straight from the bytes. A `HeaderMap` (two allocations and a copy of every
//! name's hash) is built only when [`Response::headers`](super::Response::headers) is
//! called, and then once.

use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header lines of a response head (already checked by the parser).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    /// The whole head: status line, header lines, blank line.
    raw: Bytes,
    map: OnceLock<HeaderMap>,
}

impl Fields {
    pub fn new(raw: Bytes) -> Self {
        Self {
            raw,
            map: OnceLock::new(),
        }
    }

    /// Each (name, value) in order, the value trimmed.
    fn lines(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.raw
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            // Empty lines before the status line are allowed (and skipped by the parser).
            .skip_while(|line| line.is_empty())
            .skip(1)
            .take_while(|line| !line.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                Some((&line[..colon], line[colon + 1..].trim_ascii()))
            })
    }

    /// The values of every `name` field, as text a `HeaderValue::to_str` would give (visible
    /// ASCII); others are skipped.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.lines()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .filter_map(|(_, v)| visible_ascii(v))
    }

    /// The first `name` field's value.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.get_all(name).next()
    }

    /// Every field as (name, value) text, in the order received, repeats kept; bytes
    /// beyond ASCII read as Latin-1, as Python's `http.client` reads them.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.lines().map(|(n, v)| (latin1(n), latin1(v))).collect()
    }

    /// The status line's reason phrase as the server sent it (`Not Found`, or its own).
    pub fn reason(&self) -> String {
        let status_line = self
            .raw
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .find(|line| !line.is_empty())
            .unwrap_or_default();
        // "HTTP/1.1 404 Not Found": the phrase is what follows the second space.
        let mut parts = status_line.splitn(3, |&b| b == b' ');
        latin1(parts.nth(2).unwrap_or_default())
    }

    /// The fields as a map, built the first time it is asked for.
    pub fn map(&self) -> &HeaderMap {
        self.map.get_or_init(|| {
            let mut map = HeaderMap::new();
            for (name, value) in self.lines() {
                let name = HeaderName::from_bytes(name);
                let value = HeaderValue::from_maybe_shared(self.raw.slice_ref(value));
                if let (Ok(name), Ok(value)) = (name, value) {
                    map.append(name, value);
                }
            }
            map
        })
    }
}

/// `value` as text when every byte is visible ASCII or a tab (what `HeaderValue::to_str`
/// accepts).
fn visible_ascii(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (32..127).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// Bytes as Latin-1 text: each byte one character, so nothing is lost or refused.
fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_from_the_bytes_agree_with_the_map() {
        let raw = Bytes::from_static(
            b"HTTP/1.1 302 Found\r\nLocation:  /next \r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Bin: caf\xc3\xa9\r\n\r\n",
        );
        let f = Fields::new(raw);
        assert_eq!(f.get("location"), Some("/next"));
        assert_eq!(f.get_all("Set-Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert_eq!(
            f.get("x-bin"),
            None,
            "not visible ASCII, as HeaderValue::to_str"
        );
        let map = f.map();
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
        assert_eq!(map["location"], "/next");
        assert_eq!(map["x-bin"].as_bytes(), "café".as_bytes());
    }
}
