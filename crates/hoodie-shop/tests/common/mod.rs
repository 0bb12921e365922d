//! A minimal browser for the shop's tests: cookies kept by name, redirects not followed,
//! so every test sees each route's own status and `Location`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The first `csrfmiddlewaretoken` in the page.
    pub fn token(&self) -> String {
        let at = self
            .body
            .find("name=\"csrfmiddlewaretoken\" value=\"")
            .expect("a CSRF field in the page");
        let rest = &self.body[at + "name=\"csrfmiddlewaretoken\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name).cloned()
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, "", &[]).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_with(path, fields, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send("POST", path, &body, headers).await
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        if method == "POST" {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
            .await
            .unwrap();
        let (parts, incoming) = resp.into_parts();
        let body =
            String::from_utf8(incoming.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        for sc in parts.headers.get_all("set-cookie") {
            let pair = sc.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        Resp {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// Signs up with a fresh form; returns the response to the POST.
    pub async fn signup(&mut self, email: &str, password: &str) -> Resp {
        let token = self.get("/account/signup/").await.token();
        self.post(
            "/account/signup/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Adds the CodeMash hoodie the way the workshop does: ajax with X-CSRFToken.
    pub async fn add_hoodie(&mut self) -> Resp {
        self.get("/products/codemash-1/").await;
        let csrf = self.cookie("csrftoken").unwrap();
        self.post_with(
            "/products/codemash-1/add/",
            &[("quantity", "1"), ("variant", "1")],
            &[
                ("x-csrftoken", &csrf),
                ("x-requested-with", "XMLHttpRequest"),
            ],
        )
        .await
    }

    /// Posts a form with the X-CSRFToken header from the cookie.
    pub async fn post_csrf(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let csrf = self.cookie("csrftoken").expect("a csrftoken cookie");
        self.post_with(path, fields, &[("x-csrftoken", &csrf)])
            .await
    }
}

pub const OHIO: [(&str, &str); 11] = [
    ("first_name", "Ada"),
    ("last_name", "Lovelace"),
    ("company_name", ""),
    ("street_address_1", "1 Main St"),
    ("street_address_2", ""),
    ("city", "Cleveland"),
    ("city_area", ""),
    ("postal_code", "44111"),
    ("country", "US"),
    ("country_area", "OH"),
    ("phone", "+12165550142"),
];

pub async fn shop() -> (hoodie_shop::ShopHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = hoodie_shop::ShopConfig {
        password_iterations: 1000,
    };
    let shop = hoodie_shop::start_with(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("shop.db"),
        config,
    )
    .await
    .unwrap();
    (shop, dir)
}
