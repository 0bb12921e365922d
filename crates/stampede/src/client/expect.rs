//! The expectations a request can carry (`expect_status`, `expect_redirect_to`,
//! `expect_path`, `expect_text`): each failure names the expectation and what came back, so
//! the failures table says what went wrong without a debugger.

use std::panic::Location;

use super::Response;

/// Where the response landed, for failure messages: `200 OK at /account/signup/`.
fn landed(r: &Response) -> String {
    let url = r.url();
    let place = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    match r.redirects() {
        0 => format!("{} at {place}", r.status()),
        n => format!("{} at {place} after {n} redirect{}", r.status(), plural(n)),
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub(super) fn status(r: &Response, want: u16) -> Result<(), String> {
    if r.status().as_u16() == want {
        Ok(())
    } else {
        Err(format!("expected status {want}, got {}", landed(r)))
    }
}

pub(super) fn redirect_to(r: &Response, target: &str) -> Result<(), String> {
    let url = r.url();
    let arrived = if target.starts_with('/') {
        let path_ok = url.path() == target.split('?').next().unwrap_or(target);
        let query_ok = match target.split_once('?') {
            Some((_, q)) => url.query() == Some(q),
            None => true,
        };
        path_ok && query_ok
    } else {
        url.as_str() == target || url.as_str().trim_end_matches('/') == target.trim_end_matches('/')
    };
    if arrived && r.redirects() > 0 {
        Ok(())
    } else if arrived {
        Err(format!(
            "expected a redirect to {target}, got {} without one",
            landed(r)
        ))
    } else {
        Err(format!(
            "expected a redirect to {target}, got {}",
            landed(r)
        ))
    }
}

pub(super) fn path(
    r: &Response,
    test: impl FnOnce(&str) -> bool,
    at: &'static Location<'static>,
) -> Result<(), String> {
    if test(r.url().path()) {
        Ok(())
    } else {
        let file = at.file().rsplit('/').next().unwrap_or(at.file());
        Err(format!(
            "expected another path (expect_path at {file}:{}), got {}",
            at.line(),
            landed(r)
        ))
    }
}

pub(super) fn text(r: &Response, text: &str) -> Result<(), String> {
    let body = r.bytes();
    let found = text.is_empty()
        || body
            .windows(text.len())
            .any(|window| window == text.as_bytes());
    if found {
        return Ok(());
    }
    let cut = if r.body_truncated() {
        format!(
            " (only the first {} bytes were kept: --max-body)",
            body.len()
        )
    } else {
        String::new()
    };
    Err(format!(
        "expected text {text:?}, not in the {} body bytes of {}{cut}",
        r.content_length(),
        landed(r)
    ))
}
