//! A client of the JSON API for its tests: no cookies sent or kept, a bearer token once it
//! has one, and every answer parsed as JSON.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// An answer of the API: status, headers and the body parsed as JSON (every answer of the
/// API is JSON, errors included, so a body that is not is a test failure here).
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("an error message in {}", self.json))
    }
    pub fn token(&self) -> String {
        self.json["token"].as_str().expect("a token").to_owned()
    }
}

/// A request to the API: no cookies are ever sent or kept.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let (parts, incoming) = resp.into_parts();
    let raw = incoming.collect().await.unwrap().to_bytes();
    assert!(
        parts.headers.get("set-cookie").is_none(),
        "{method} {path} set a cookie"
    );
    let json = serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "{method} {path} answered {} with a body that is not JSON ({e}): {}",
            parts.status,
            String::from_utf8_lossy(&raw)
        )
    });
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        json,
    }
}

/// A client of the API, with a bearer token once it has one.
pub struct Api {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, token: None }
    }

    fn auth(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    pub async fn get(&self, path: &str) -> Reply {
        let auth = self.auth();
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        call(self.addr, "GET", path, &headers, Vec::new()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_raw(
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let auth = self.auth();
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        call(self.addr, "POST", path, &headers, body).await
    }

    /// Registers and keeps the token.
    pub async fn register(&mut self, email: &str) -> Reply {
        let r = self
            .post(
                "/api/register",
                json!({ "email": email, "password": "longenough1" }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        self.token = Some(r.token());
        r
    }
}
