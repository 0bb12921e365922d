//! Values out of a response in the step that fetched it: a token out of a JSON login
//! answer, a header, a regex match, a form field. Each extractor says what was missing
//! when it fails, and [`RequestBuilder::extract`](super::RequestBuilder::extract) makes that
//! failure the request's own, so a login without a token is a failed login in the table,
//! not a string of puzzling failures later on.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::response::{ExtractError, Response};

/// The most of a body an error message quotes.
const QUOTED: usize = 120;

impl Response {
    /// The value at `path` in the JSON body, converted to `T`.
    ///
    /// `path` is a JSON pointer (`/token`, `/items/0/id`) or a dotted path as k6 and
    /// JSONPath write it (`token`, `items.0.id`, `$.items[0].id`).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let token: String = client
    ///     .post("/api/login")
    ///     .json(&serde_json::json!({ "email": "ann@example.com", "password": "hoodies!" }))
    ///     .extract(|r| r.json_path("token"))
    ///     .await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub fn json_path<T: DeserializeOwned>(&self, path: &str) -> Result<T, ExtractError> {
        let doc: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ExtractError::NotJson(e.to_string(), quote(&self.body)))?;
        let pointer = to_pointer(path);
        let found = doc
            .pointer(&pointer)
            .ok_or_else(|| ExtractError::NoJsonValue(path.to_owned(), shape(&doc)))?;
        T::deserialize(found).map_err(|e| ExtractError::JsonType {
            path: path.to_owned(),
            detail: e.to_string(),
        })
    }

    /// The value of header `name`, which must be there and be text.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let next: String = client
    ///     .post("/api/orders")
    ///     .extract(|r| r.header_value("location"))
    ///     .await?;
    /// # let _ = next; Ok(()) }
    /// ```
    pub fn header_value(&self, name: &str) -> Result<String, ExtractError> {
        self.header(name)
            .map(str::to_owned)
            .ok_or_else(|| ExtractError::NoHeader(name.to_owned()))
    }

    /// The first match of `pattern` in the body: its first capture group when it has one,
    /// else the whole match.
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let order: String = client
    ///     .get("/checkout/")
    ///     .extract(|r| r.regex(r"/order/([0-9a-f-]+)/"))
    ///     .await?;
    /// # let _ = order; Ok(()) }
    /// ```
    pub fn regex(&self, pattern: &str) -> Result<String, ExtractError> {
        let re = compiled(pattern)?;
        let text = String::from_utf8_lossy(&self.body);
        let caps = re
            .captures(&text)
            .ok_or_else(|| ExtractError::NoMatch(pattern.to_owned()))?;
        let m = caps.get(1).or_else(|| caps.get(0));
        Ok(m.map_or_else(String::new, |m| m.as_str().to_owned()))
    }

    /// The value of the form field `name`: an `<input name=..>` anywhere in the page, the
    /// CSRF case (`csrfmiddlewaretoken`). The same as [`hidden_input`](Self::hidden_input).
    ///
    /// ```
    /// # async fn demo(client: &mut stampede::Client) -> stampede::TaskResult {
    /// let csrf = client
    ///     .get("/account/signup/")
    ///     .extract(|r| r.form_field("csrfmiddlewaretoken"))
    ///     .await?;
    /// # let _ = csrf; Ok(()) }
    /// ```
    pub fn form_field(&self, name: &str) -> Result<String, ExtractError> {
        self.hidden_input(name)
    }
}

/// What a JSON document holds at its top, for a message about a value it lacks: its keys,
/// never their values (a missing `token` beside a present `access_token` must not put the
/// token in the failures table).
fn shape(doc: &Value) -> String {
    match doc {
        Value::Object(m) if m.is_empty() => "an empty object".to_owned(),
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().take(10).map(String::as_str).collect();
            let more = if m.len() > 10 { ", ..." } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// `pattern` compiled, from a small per-thread cache: a plan calls `regex` with the same
/// pattern on every request, and compiling is far dearer than matching.
fn compiled(pattern: &str) -> Result<regex::Regex, ExtractError> {
    const KEPT: usize = 32;
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<(String, regex::Regex)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(re) = CACHE.with(|c| {
        c.borrow()
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, r)| r.clone())
    }) {
        return Ok(re);
    }
    let re = regex::Regex::new(pattern)
        .map_err(|e| ExtractError::Regex(pattern.to_owned(), e.to_string()))?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= KEPT {
            c.remove(0);
        }
        c.push((pattern.to_owned(), re.clone()));
    });
    Ok(re)
}

/// `path` as a JSON pointer: pointers pass through; `a.b[0].c` and `$.a.b` are converted
/// (a `~` or `/` inside a key is escaped as RFC 6901 says).
fn to_pointer(path: &str) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_owned();
    }
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut out = String::new();
    for part in path.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    out
}

/// The start of a body, for an error message.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(QUOTED) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> Response {
        Response {
            status: http::StatusCode::OK,
            headers: super::super::fields::Fields::new(bytes::Bytes::from_static(
                b"HTTP/1.1 200 OK\r\nLocation: /next/\r\n\r\n",
            )),
            url: std::sync::Arc::new("http://t/".parse().expect("a URL")),
            body: bytes::Bytes::from(body.to_owned()),
            content_length: body.len() as u64,
            elapsed: std::time::Duration::ZERO,
            redirects: 0,
            history: Vec::new(),
        }
    }

    #[test]
    fn paths_in_every_spelling_reach_the_same_value() {
        let r = response(r#"{"items":[{"id":7}],"token":"t-1","a/b":{"~c":1}}"#);
        for path in ["/items/0/id", "items.0.id", "$.items[0].id", "items[0].id"] {
            assert_eq!(r.json_path::<u64>(path).expect(path), 7);
        }
        assert_eq!(r.json_path::<String>("token").expect("token"), "t-1");
        assert_eq!(r.json_path::<u8>("/a~1b/~0c").expect("escaped"), 1);
    }

    #[test]
    fn a_missing_value_says_what_and_where() {
        let r = response(r#"{"error":"invalid email or password"}"#);
        let e = r.json_path::<String>("token").unwrap_err().to_string();
        assert_eq!(e, "no JSON value at 'token' in an object with keys error");
        let secret = response(r#"{"access_token":"s3cret"}"#);
        let e = secret.json_path::<String>("token").unwrap_err().to_string();
        assert!(
            !e.contains("s3cret"),
            "a value reached the failure text: {e}"
        );
        let e = r.json_path::<u64>("error").unwrap_err().to_string();
        assert!(
            e.starts_with("the JSON value at 'error' is not of the wanted type"),
            "{e}"
        );
        let e = response("<html>")
            .json_path::<String>("token")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("the body is not JSON"), "{e}");
    }

    #[test]
    fn headers_regexes_and_form_fields() {
        let r = response(
            r#"<a href="/order/ab-12/">x</a><input name="csrfmiddlewaretoken" value="tok">"#,
        );
        assert_eq!(r.header_value("location").expect("location"), "/next/");
        assert_eq!(
            r.header_value("x-nope").unwrap_err().to_string(),
            "no header 'x-nope'"
        );
        assert_eq!(r.regex(r"/order/([a-z0-9-]+)/").expect("match"), "ab-12");
        assert_eq!(r.regex("href").expect("whole match"), "href");
        assert_eq!(
            r.regex("nope").unwrap_err().to_string(),
            "no match for /nope/ in the body"
        );
        assert!(r.regex("(").is_err());
        assert_eq!(r.form_field("csrfmiddlewaretoken").expect("field"), "tok");
    }
}
