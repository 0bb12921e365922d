//! Django's CSRF rules: a missing cookie, a missing or wrong token, and a stale token after
//! login are each refused with 403 and Django's reason.

mod common;

use common::{shop, Browser};

#[tokio::test]
async fn csrf_failures_answer_403_with_djangos_reasons() {
    let (shop, _dir) = shop().await;
    let fields = [("email", "eve@example.com"), ("password", "longenough1")];

    // No cookie at all.
    let mut b = Browser::new(shop.addr());
    let r = b.post("/account/signup/", &fields).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF cookie not set."), "{}", r.body);

    // A cookie, but no token.
    let page = b.get("/account/signup/").await;
    let r = b.post("/account/signup/", &fields).await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF token missing or incorrect."));

    // A wrong token (another visitor's).
    let mut other = Browser::new(shop.addr());
    let foreign = other.get("/account/signup/").await.token();
    let r = b
        .post(
            "/account/signup/",
            &[
                ("csrfmiddlewaretoken", foreign.as_str()),
                fields[0],
                fields[1],
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF token missing or incorrect."));
    assert_eq!(shop.counts().unwrap(), (0, 0), "nothing refused was stored");

    // Tokens differ on every render, and each one works.
    let again = b.get("/account/signup/").await.token();
    assert_ne!(page.token(), again);
    let ok = b
        .post(
            "/account/signup/",
            &[
                ("csrfmiddlewaretoken", page.token().as_str()),
                fields[0],
                fields[1],
            ],
        )
        .await;
    assert_eq!(ok.status, 302);

    // A token scraped before login is stale after it.
    let mut c = Browser::new(shop.addr());
    c.signup("carl@example.com", "longenough1").await;
    c.get("/account/logout/").await;
    let login_page = c.get("/account/login/").await;
    let stale = c.get("/products/codemash-1/").await.token();
    let r = c
        .post(
            "/account/login/",
            &[
                ("csrfmiddlewaretoken", login_page.token().as_str()),
                ("username", "carl@example.com"),
                ("password", "longenough1"),
            ],
        )
        .await;
    assert_eq!(r.status, 302);
    let r = c
        .post(
            "/products/codemash-1/add/",
            &[
                ("csrfmiddlewaretoken", stale.as_str()),
                ("variant", "1"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "a pre-login token must not work after login");
    assert!(r.body.contains("CSRF token missing or incorrect."));
    // The header with the current cookie does.
    let csrf = c.cookie("csrftoken").unwrap();
    let r = c
        .post_with(
            "/products/codemash-1/add/",
            &[("variant", "1"), ("quantity", "1")],
            &[("x-csrftoken", &csrf)],
        )
        .await;
    assert_eq!((r.status, r.location()), (302, "/cart/"));
}
