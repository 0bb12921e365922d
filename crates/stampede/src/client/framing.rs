//! How a response's body is delimited (RFC 9112 §6.3), read from its parsed header
//! lines: no body after HEAD, 1xx, 204 and 304; chunked when it is the last transfer coding;
//! else `Content-Length`, whose values must agree; else the body runs to the connection's
//! close. And whether the connection may carry another exchange after it.

use std::time::Duration;

use http::{Method, StatusCode, Version};

use super::h1_error::H1Error;

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// The size on a chunk-size line (`1a;ext=1\r\n`).
pub(super) fn chunk_size(line: &[u8]) -> Result<u64, H1Error> {
    let digits = line
        .split(|&b| b == b';' || b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let digits = digits.trim_ascii();
    // Leading zeros are allowed and say nothing; past them, 15 hex digits (2^60) at most.
    let significant = &digits[digits.iter().take_while(|&&b| b == b'0').count()..];
    let digits = if significant.is_empty() && !digits.is_empty() {
        &b"0"[..]
    } else {
        significant
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(H1Error::BadChunk("bad chunk size"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| H1Error::BadChunk("bad chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| H1Error::BadChunk("bad chunk size"))
}

type Fieldset<'h> = [httparse::Header<'h>];

/// The values of every `name` header, as text.
fn values<'h>(headers: &'h Fieldset<'h>, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

pub(super) fn value<'h>(headers: &'h Fieldset<'h>, name: &'h str) -> Option<&'h str> {
    values(headers, name).next()
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &Fieldset<'_>, name: &str, token: &str) -> bool {
    values(headers, name)
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `Keep-Alive: timeout=N`.
pub(super) fn keep_alive_timeout(v: &str) -> Option<Duration> {
    v.split(',').find_map(|part| {
        let (k, n) = part.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("timeout") {
            return None;
        }
        n.trim().parse::<u64>().ok().map(Duration::from_secs)
    })
}

/// How the body is delimited, and whether the connection can be used again after it.
pub(super) fn framing(
    method: &Method,
    status: StatusCode,
    version: Version,
    headers: &Fieldset<'_>,
) -> Result<(Framing, bool), H1Error> {
    let mut reusable = match version {
        Version::HTTP_11 => !has_token(headers, "connection", "close"),
        _ => has_token(headers, "connection", "keep-alive"),
    };
    let code = status.as_u16();
    if *method == Method::HEAD || code == 204 || code == 304 {
        return Ok((Framing::Empty, reusable));
    }
    if headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
    {
        let last = values(headers, "transfer-encoding")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .last();
        if value(headers, "content-length").is_some() || version == Version::HTTP_10 {
            // Both, or a coding HTTP/1.0 does not know: the coding wins, and the
            // connection is not to be trusted after it (RFC 9112 §6.1, §6.3).
            reusable = false;
        }
        return Ok(match last {
            Some(c) if c.eq_ignore_ascii_case("chunked") => (Framing::Chunked, reusable),
            _ => (Framing::UntilClose, false),
        });
    }
    let mut length: Option<u64> = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        let text = String::from_utf8_lossy(h.value);
        for part in text.split(',') {
            let part = part.trim();
            let n = part
                .parse::<u64>()
                .ok()
                .filter(|_| part.bytes().all(|b| b.is_ascii_digit()));
            match (n, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(seen)) if n == seen => {}
                _ => return Err(H1Error::BadLength(text.into_owned())),
            }
        }
    }
    Ok(match length {
        Some(n) => (Framing::Length(n), reusable),
        None => (Framing::UntilClose, false),
    })
}
