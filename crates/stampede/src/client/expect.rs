//! The expectations a request can carry (`expect_status`, `expect_redirect_to`,
//! `expect_path`, `expect_text`): each failure names the expectation and what came back, so
//! the failures table says what went wrong without a debugger.

use std::borrow::Cow;
use std::panic::Location;

use url::Url;

use super::{same_origin, Response};

type PathTest<'c> = Box<dyn FnOnce(&str) -> bool + Send + 'c>;
type Custom<'c> = Box<dyn FnOnce(&Response) -> Result<(), String> + Send + 'c>;

/// One condition on a request's final response. The built-in ones are plain values: a
/// request that carries them boxes nothing and copies no URL.
pub(super) enum Check<'c> {
    Status(u16),
    RedirectTo(Cow<'c, str>),
    Path(PathTest<'c>, &'static Location<'static>),
    Text(Cow<'c, str>),
    /// `check(..)`: the plan's own verdict.
    Custom(Custom<'c>),
}

impl Check<'_> {
    /// `Err(reason)` when the response fails it; `base` is the plan's host.
    pub fn run(self, r: &Response, base: &Url) -> Result<(), String> {
        match self {
            Check::Status(want) => status(r, want, base),
            Check::RedirectTo(target) => redirect_to(r, &target, base),
            Check::Path(test, at) => path(r, test, at, base),
            Check::Text(text) => self::text(r, &text, base),
            Check::Custom(check) => check(r),
        }
    }
}

/// Where the response landed, for failure messages: `200 OK at /account/signup/` on the
/// plan's host (`base`), the whole URL anywhere else.
fn landed(r: &Response, base: &Url) -> String {
    let url = r.url();
    let place = match url.query() {
        _ if !same_origin(url, base) => url.as_str().to_owned(),
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

fn status(r: &Response, want: u16, base: &Url) -> Result<(), String> {
    if r.status().as_u16() == want {
        Ok(())
    } else {
        Err(format!("expected status {want}, got {}", landed(r, base)))
    }
}

/// `target` is read as a `Location` header would be, against the plan's host: `/` is that
/// host's home page, not any host's.
fn redirect_to(r: &Response, target: &str, base: &Url) -> Result<(), String> {
    let want = base
        .join(target)
        .map_err(|e| format!("expect_redirect_to: {target:?} is not a URL ({e})"))?;
    let url = r.url();
    let arrived =
        same_origin(url, &want) && url.path() == want.path() && url.query() == want.query();
    let got = landed(r, base);
    match (arrived, r.redirects()) {
        (true, 1..) => Ok(()),
        (true, 0) => Err(format!(
            "expected a redirect to {target}, got {got} without one"
        )),
        (false, _) => Err(format!("expected a redirect to {target}, got {got}")),
    }
}

fn path(
    r: &Response,
    test: impl FnOnce(&str) -> bool,
    at: &'static Location<'static>,
    base: &Url,
) -> Result<(), String> {
    if test(r.url().path()) {
        return Ok(());
    }
    let file = at.file().rsplit('/').next().unwrap_or(at.file());
    Err(format!(
        "expected another path (expect_path at {file}:{}), got {}",
        at.line(),
        landed(r, base)
    ))
}

fn text(r: &Response, text: &str, base: &Url) -> Result<(), String> {
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
        landed(r, base)
    ))
}
