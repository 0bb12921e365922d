//! One request's trip over the wire: each hop (redirects followed), sent again on a fresh
//! connection when a kept-alive one turned out closed, with the headers built for each hop
//! (credentials left out on another origin).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;

use super::{RequestBuilder, TRACEPARENT};
use crate::client::conn::Origin;
use crate::client::target::Target;
use crate::client::{ClientError, Hop, Response};

impl RequestBuilder<'_> {
    /// The request and its redirects, up to the final response with its body read.
    pub(super) async fn exchange(&mut self) -> Result<Response, ClientError> {
        let mut target = if self.query.is_empty() {
            self.client.targets.get(&self.client.base, &self.path)?
        } else {
            let mut url = self
                .client
                .base
                .join(&self.path)
                .map_err(|e| ClientError::Url(format!("{}: {e}", self.path)))?;
            url.query_pairs_mut().extend_pairs(self.query.iter());
            Arc::new(Target::new(url)?)
        };
        let mut method = self.method.clone();
        let mut body = std::mem::take(&mut self.body);
        // The first hop's origin, kept once a redirect happens.
        let mut first: Option<Arc<Origin>> = None;
        let mut cross = false;
        let mut history = Vec::new();
        for redirects in 0..=self.max_redirects {
            // Once a chain has left its first origin, every later hop is cross-origin, even
            // one back on the first: that hop's path was chosen by the other site.
            cross |= first.as_ref().is_some_and(|f| **f != *target.origin);
            let (parts, answer) = self.hop(&target, &method, &body, cross).await?;
            self.client.store_cookies(&parts.fields, &target.url);
            let location = parts.fields.get("location");
            match location {
                Some(loc) if self.follow_redirects && parts.status.is_redirection() => {
                    first.get_or_insert_with(|| target.origin.clone());
                    // Kept like a path: a form's redirect lands on the same page every time.
                    let next = self.client.redirect_target(&target, loc)?;
                    history.push(crate::client::response::Redirect {
                        status: parts.status,
                        url: target.url.clone(),
                        headers: parts.fields,
                    });
                    target = next;
                    if matches!(
                        parts.status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
                    ) && method != Method::HEAD
                    {
                        method = Method::GET;
                        body = Bytes::new();
                    }
                }
                _ => {
                    let url = target.url.clone();
                    self.client.last = Some(target);
                    return Ok(Response {
                        status: parts.status,
                        headers: parts.fields,
                        url,
                        content_length: answer.total,
                        body: answer.kept,
                        elapsed: Duration::ZERO,
                        redirects: redirects as u32,
                        history,
                    });
                }
            }
        }
        Err(ClientError::TooManyRedirects(self.max_redirects))
    }

    /// One hop: sent, and sent again on a new connection when the kept-alive one turned out
    /// closed (see [`Client::send_hop`]). Its headers are built again for each attempt,
    /// into the client's reused map.
    async fn hop(
        &mut self,
        target: &Target,
        method: &Method,
        body: &Bytes,
        cross: bool,
    ) -> Result<(crate::client::h1::Head, crate::client::conn::Body), ClientError> {
        let mut retried = false;
        loop {
            // The client's own map, cleared and filled again: its room is reused.
            let mut headers = std::mem::take(&mut self.client.out_headers);
            headers.clear();
            self.request_headers(&mut headers, target, method, body, cross);
            let out = crate::client::Outgoing {
                method,
                uri: &target.uri,
                headers: &headers,
                body,
            };
            let sent = self.client.send_hop(&target.origin, out, retried).await;
            self.client.out_headers = headers;
            match sent {
                Ok(answer) => return Ok(answer),
                Err(Hop::Stale) => retried = true,
                Err(Hop::Failed(e)) => return Err(e),
            }
        }
    }

    /// The headers of one hop. A hop to another origin than the request's first (`cross`)
    /// carries no credentials, the client's or the request's own.
    fn request_headers(
        &mut self,
        h: &mut HeaderMap,
        target: &Target,
        method: &Method,
        body: &Bytes,
        cross: bool,
    ) {
        if let Some(host) = &target.host {
            h.insert(header::HOST, host.clone());
        }
        if self.browser_headers {
            h.insert(header::USER_AGENT, self.client.config.user_agent.clone());
            h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        if let Some(v) = self.client.cookie_header(target) {
            h.insert(header::COOKIE, v);
        }
        if let Some(v) = self.client.span.as_ref().and_then(|s| s.header.as_ref()) {
            h.insert(TRACEPARENT, v.clone());
        }
        if let Some(prev) = self.client.last.as_ref().filter(|_| self.browser_headers) {
            if crate::client::same_origin(&prev.url, &target.url) {
                if let Some(v) = prev.referer() {
                    h.insert(header::REFERER, v.clone());
                }
            }
        }
        // A redirected POST becomes a GET and loses its body's content type.
        let body_lost = *method == Method::GET && self.method != Method::GET;
        if !body.is_empty() {
            // hyper would format (and allocate) this one itself.
            h.insert(
                header::CONTENT_LENGTH,
                crate::client::headers::content_length(body.len()),
            );
        } else if *method != Method::GET && *method != Method::HEAD {
            // A method that may carry a body says it carries none, as Python's requests
            // and browsers do (RFC 9110 8.6); some front ends answer 411 without it.
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        self.client.add_default_headers(&target.url, cross, h);
        if let Some(v) = self.content_type.as_ref().filter(|_| !body_lost) {
            h.insert(header::CONTENT_TYPE, v.clone());
        }
        for (k, v) in &self.headers {
            // A Host of the request's own (a virtual host on an IP) is its first origin's.
            if cross && (crate::client::headers::is_credential(k) || k == header::HOST) {
                continue;
            }
            if body_lost && k == header::CONTENT_TYPE {
                continue;
            }
            if k == header::COOKIE {
                let jar = h.get(header::COOKIE).cloned();
                h.insert(k.clone(), merge_cookies(jar.as_ref(), v));
                continue;
            }
            h.insert(k.clone(), v.clone());
        }
    }
}

/// A request's own `Cookie` header joined to the jar's, as Python's requests merges a
/// request's `cookies=` into its session's: the jar's pairs, then the request's. A name
/// both have is sent twice, jar's first, as requests sends it (the jar's cookie has a
/// domain, the request's none: to requests they are two cookies).
fn merge_cookies(jar: Option<&HeaderValue>, own: &HeaderValue) -> HeaderValue {
    let Some(jar) = jar else {
        return own.clone();
    };
    let mut out = Vec::with_capacity(jar.len() + 2 + own.len());
    out.extend_from_slice(jar.as_bytes());
    out.extend_from_slice(b"; ");
    out.extend_from_slice(own.as_bytes());
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| own.clone())
}
