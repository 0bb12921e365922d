//! The per-user HTTP session against a real server: cookies, redirects, failure marking,
//! HTML helpers, and what ends up in the statistics.

mod common;

use std::time::Duration;

#[tokio::test]
async fn malformed_max_age_cookie_is_kept_and_sent_on_other_paths() {
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    c.get("/set-cookie").send().await.unwrap();
    assert_eq!(
        c.cookie("cart").as_deref(),
        Some("0f1e2d3c-aaaa-bbbb-cccc-000000000001:sig")
    );
    assert_eq!(c.cookie("csrftoken").as_deref(), Some("abc123"));
    let echoed = c.get("/deep/echo-cookie").send().await.unwrap().text();
    assert!(
        echoed.contains("cart=0f1e2d3c-aaaa-bbbb-cccc-000000000001:sig"),
        "{echoed}"
    );
    assert!(echoed.contains("csrftoken=abc123"), "{echoed}");
}

#[tokio::test]
async fn redirects_are_followed_and_post_becomes_get() {
    let srv = common::start().await;
    let (mut c, stats) = common::client(srv.url());
    let r = c.get("/redirect").send().await.unwrap();
    assert_eq!(r.url().path(), "/landing");
    assert_eq!(r.text(), "GET landed ");
    let r = c
        .post("/post-redirect")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text(),
        "GET landed ",
        "a 302 after POST is fetched with GET and no body"
    );
    let r = c
        .post("/keep-redirect")
        .form(&[("a", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text(), "POST landed a=1", "a 307 keeps method and body");
    let r = c.get("/redirect").no_redirects().send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let loop_err = c.get("/redirect-loop").send().await.unwrap_err();
    assert!(
        loop_err.reason.contains("too many redirects"),
        "{}",
        loop_err.reason
    );

    // One entry per request name, however many hops it took.
    c.recorder().flush();
    let s = stats.snapshot().await;
    let entry = &s.entries[&("/redirect".to_owned(), "GET".to_owned())];
    assert_eq!(entry.num_requests, 2);
    assert_eq!(srv.hits.get("/landing"), 3);
}

#[tokio::test]
async fn error_statuses_and_checks_count_as_failures_with_reasons() {
    let srv = common::start().await;
    let (mut c, stats) = common::client(srv.url());
    let e = c.get("/fail").name("boom").send().await.unwrap_err();
    assert_eq!(
        e.reason,
        "HTTPError('500 Server Error: Internal Server Error for url: boom')"
    );
    assert_eq!(e.response.as_ref().unwrap().status().as_u16(), 500);
    c.get("/missing").send().await.unwrap_err();
    // A check decides instead of the status: an expected 404 is a success...
    c.get("/missing")
        .name("expected 404")
        .expect_status(404)
        .send()
        .await
        .unwrap();
    // ...and a 200 without the right content is a failure.
    let e = c
        .get("/")
        .name("wrong body")
        .check(|r| {
            if r.text().contains("welcome") {
                Ok(())
            } else {
                Err("no welcome".into())
            }
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.reason, "no welcome");

    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!(s.total.num_requests, 4);
    assert_eq!(s.total.num_failures, 3);
    let reasons: Vec<&str> = s.errors.values().map(|e| e.error.as_str()).collect();
    assert!(
        reasons.contains(&"HTTPError('404 Client Error: Not Found for url: /missing')"),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"no welcome"));
}

#[tokio::test]
async fn a_dead_target_is_counted_as_failures() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut c, stats) = common::client(format!("http://127.0.0.1:{port}/").parse().unwrap());
    for _ in 0..3 {
        let e = c.get("/").send().await.unwrap_err();
        assert_eq!(
            e.reason,
            format!(
                "failed while connecting (127.0.0.1:{port}): Connection refused (os error 111)"
            )
        );
    }
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert_eq!((s.total.num_requests, s.total.num_failures), (3, 3));
}

#[tokio::test]
async fn timeouts_fail_the_request() {
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    let e = c
        .get("/slow?ms=2000")
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.reason,
        format!(
            "timed out after 100ms waiting for the response headers ({})",
            srv.addr
        )
    );
    // The connection that timed out is not reused in a broken state.
    assert_eq!(c.get("/").send().await.unwrap().text(), "hello");
}

#[tokio::test]
async fn html_helpers_find_tokens_links_and_json() {
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    let page = c.get("/form").send().await.unwrap();
    assert_eq!(page.hidden_input("csrfmiddlewaretoken").unwrap(), "tok-123");
    assert_eq!(
        page.select_attr(".category-list a", "href").unwrap(),
        vec!["/p/1/", "/p/2/"]
    );
    let picker = page
        .attr_json("#variant-picker", "data-variant-picker-data")
        .unwrap();
    assert_eq!(picker["variants"][0]["id"], 1);
    assert!(matches!(
        page.hidden_input("nope"),
        Err(stampede::ExtractError::NotFound(_))
    ));
    assert!(matches!(
        page.attr_json("#variant-picker", "data-x"),
        Err(stampede::ExtractError::NoAttribute { .. })
    ));
    assert!(matches!(
        page.select_attr("<<", "x"),
        Err(stampede::ExtractError::Selector(_))
    ));
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_per_user() {
    let srv = common::start().await;
    let (mut c, _stats) = common::client(srv.url());
    let first = c.get("/peer").send().await.unwrap().text();
    for _ in 0..20 {
        assert_eq!(
            c.get("/peer").send().await.unwrap().text(),
            first,
            "a request opened a new connection"
        );
    }
    // Another user has its own connection; closing connections opens a new one.
    let (mut other, _s) = common::client(srv.url());
    assert_ne!(other.get("/peer").send().await.unwrap().text(), first);
    c.close_connections();
    assert_ne!(c.get("/peer").send().await.unwrap().text(), first);
    // The Host header is sent on every request.
    assert!(c
        .get("/echo-headers")
        .send()
        .await
        .unwrap()
        .text()
        .contains("\"host\""));
}

#[tokio::test]
async fn a_late_arrivals_lag_counts_into_its_first_request_only() {
    let srv = common::start().await;
    let (mut c, stats) = common::client(srv.url());
    // Due 500 ms ago: the first request is timed from then.
    c.set_intended_start(Some(
        tokio::time::Instant::now() - Duration::from_millis(500),
    ));
    let first = c.get("/").name("first").send().await.unwrap();
    assert!(
        first.elapsed() >= Duration::from_millis(500),
        "{:?}",
        first.elapsed()
    );
    let second = c.get("/").name("second").send().await.unwrap();
    assert!(
        second.elapsed() < Duration::from_millis(500),
        "{:?}",
        second.elapsed()
    );
    c.recorder().flush();
    let s = stats.snapshot().await;
    assert!(s.entries[&("first".to_owned(), "GET".to_owned())].min_ms() >= 500.0);
}

/// Plans hold the client in their user state and may borrow it across an `.await` from a
/// `&self` method, so it must stay `Send + Sync`.
#[test]
fn the_client_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<stampede::Client>();
}

/// What goes on the wire as Python's requests sends it: a request's own `Cookie` joins the
/// jar's (a name both have goes twice, jar's first), a request's own `Host` goes to its
/// first origin only, and a
/// method that may carry a body says `Content-Length: 0` when it has none.
#[tokio::test]
async fn own_cookie_host_and_empty_bodies_go_out_as_requests_sends_them() {
    let (srv, other) = (common::start().await, common::start().await);
    let (mut c, _stats) = common::client(srv.url());
    c.get("/set-cookie").send().await.unwrap();
    let seen = c
        .get("/echo-headers")
        .header("Cookie", "extra=x; csrftoken=mine")
        .send()
        .await
        .unwrap()
        .text();
    // The jar's two (in the jar's order, which is not fixed), then the request's own.
    let line = seen
        .split("\"cookie\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default();
    let pairs: Vec<&str> = line.split("; ").collect();
    assert_eq!(pairs.len(), 4, "{seen}");
    let mut jar = pairs[..2].to_vec();
    jar.sort_unstable();
    assert_eq!(
        jar,
        [
            "cart=0f1e2d3c-aaaa-bbbb-cccc-000000000001:sig",
            "csrftoken=abc123"
        ],
        "{seen}"
    );
    assert_eq!(pairs[2..], ["extra=x", "csrftoken=mine"], "{seen}");
    assert_eq!(
        c.cookie("csrftoken").as_deref(),
        Some("abc123"),
        "the jar is untouched"
    );
    let vhost = c
        .get("/echo-headers")
        .header("Host", "shop.example.com")
        .send()
        .await
        .unwrap()
        .text();
    assert!(vhost.contains("\"host\": \"shop.example.com\""), "{vhost}");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let away = format!("{}echo-headers", other.url());
    let moved = c
        .get(format!("/redirect-to?url={}", enc(&away)))
        .header("Host", "shop.example.com")
        .send()
        .await
        .unwrap()
        .text();
    assert!(
        !moved.contains("shop.example.com"),
        "the Host stayed home: {moved}"
    );
    for (method, expect) in [
        ("POST", true),
        ("PUT", true),
        ("DELETE", true),
        ("GET", false),
    ] {
        let m = http::Method::from_bytes(method.as_bytes()).unwrap();
        let seen = c.request(m, "/echo-headers").send().await.unwrap().text();
        assert_eq!(
            seen.contains("\"content-length\": \"0\""),
            expect,
            "{method}: {seen}"
        );
    }
}
