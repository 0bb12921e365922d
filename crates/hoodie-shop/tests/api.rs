//! The JSON API over real HTTP and a real SQLite file: the whole flow, every error status,
//! order privacy between users, and that `/api/*` takes bearer tokens without CSRF while the
//! HTML forms keep theirs.

#[path = "api/client.rs"]
mod client;
mod common;

use serde_json::{json, Value};

use client::{call, Api};
use common::{shop, Browser};

/// Reads `/api/products` and checks it against the seeded catalog (and `/api/products/1`
/// against its entry); returns the list.
async fn the_catalog(api: &Api) -> Vec<Value> {
    let products = api.get("/api/products").await;
    assert_eq!(products.status, 200);
    let list = products.json["products"].as_array().unwrap();
    assert_eq!(list.len(), 41, "the whole catalog");
    let hoodie = &list[0];
    assert_eq!(
        (hoodie["id"].as_i64(), hoodie["name"].as_str()),
        (Some(1), Some("CodeMash"))
    );
    assert_eq!(hoodie["price"], "45.00");
    let sizes: Vec<&str> = hoodie["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(sizes, ["XS", "S", "M", "L", "XL", "XXL"]);
    assert_eq!(
        hoodie["variants"][2],
        json!({ "id": 3, "name": "M", "price": "45.00", "stock": 100 })
    );
    assert!(list
        .iter()
        .all(|p| !p["variants"].as_array().unwrap().is_empty()));
    let one = api.get("/api/products/1").await;
    assert_eq!((one.status, &one.json), (200, hoodie));
    list.clone()
}

#[tokio::test]
async fn register_login_products_cart_order_and_read_it_back() {
    let (shop, _dir) = shop().await;
    let mut api = Api::new(shop.addr());
    let reg = api.register("ada@example.com").await;
    assert_eq!(reg.json["email"], "ada@example.com");
    let first = reg.token();

    let login = api
        .post(
            "/api/login",
            json!({ "email": "ADA@example.com", "password": "longenough1" }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.json);
    assert_eq!(
        login.json["email"], "ada@example.com",
        "the email as registered"
    );
    assert_ne!(login.token(), first, "one token per login");
    assert_eq!(login.token().len(), 43, "32 random bytes in base64url");

    let list = the_catalog(&api).await;

    // Both tokens are good: the second login did not end the first.
    for token in [first, login.token()] {
        api.token = Some(token);
        let cart = api.get("/api/cart").await;
        assert_eq!(cart.status, 200);
        assert_eq!(cart.json, json!({ "items": [], "total": "0.00" }));
    }

    let added = api
        .post("/api/cart/items", json!({ "variant_id": 1, "quantity": 2 }))
        .await;
    assert_eq!(added.status, 201, "{}", added.json);
    assert_eq!(
        added.json,
        json!({ "items": [{ "variant_id": 1, "quantity": 2, "price": "45.00" }], "total": "90.00" })
    );
    let mug = list.iter().find(|p| p["name"] == "Mug").unwrap();
    let mug_variant = mug["variants"][0]["id"].as_i64().unwrap();
    let mug_price = mug["price"].as_str().unwrap().to_owned();
    api.post(
        "/api/cart/items",
        json!({ "variant_id": mug_variant, "quantity": 1 }),
    )
    .await;
    let cart = api.get("/api/cart").await;
    assert_eq!(cart.json["items"].as_array().unwrap().len(), 2);
    let cents = |s: &str| -> i64 { s.replace('.', "").parse().unwrap() };
    let total = cents(cart.json["total"].as_str().unwrap());
    assert_eq!(total, 9000 + cents(&mug_price));

    let placed = api.post_raw("/api/orders", None, Vec::new()).await;
    assert_eq!(placed.status, 201, "{}", placed.json);
    assert_eq!(placed.json["status"], "unfulfilled");
    assert_eq!(placed.json["total"], cart.json["total"]);
    let order_token = placed.json["token"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(order_token).is_ok(), "{order_token}");
    let id = placed.json["id"].as_i64().unwrap();
    assert_eq!(
        api.get("/api/cart").await.json,
        json!({ "items": [], "total": "0.00" }),
        "ordering empties the cart"
    );
    let read = api.get(&format!("/api/orders/{id}")).await;
    assert_eq!((read.status, &read.json), (200, &placed.json));
    assert_eq!(shop.counts().unwrap(), (1, 1));
}

#[tokio::test]
async fn registration_and_login_errors() {
    let (shop, _dir) = shop().await;
    let mut api = Api::new(shop.addr());
    for (body, needle) in [
        (
            json!({ "password": "longenough1" }),
            "missing field `email`",
        ),
        (
            json!({ "email": "ada@example.com" }),
            "missing field `password`",
        ),
        (
            json!({ "email": "", "password": "longenough1" }),
            "email is required",
        ),
        (
            json!({ "email": "not-an-email", "password": "longenough1" }),
            "not a valid email",
        ),
        (
            json!({ "email": "ada@example", "password": "longenough1" }),
            "not a valid email",
        ),
        (
            json!({ "email": "ada@example.com", "password": "7chars!" }),
            "too short",
        ),
        (
            json!({ "email": 7, "password": "longenough1" }),
            "invalid type",
        ),
    ] {
        let r = api.post("/api/register", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert!(r.error().contains(needle), "{body}: {}", r.error());
    }
    assert_eq!(shop.counts().unwrap(), (0, 0), "nothing refused was stored");

    api.register("ada@example.com").await;
    let dup = api
        .post(
            "/api/register",
            json!({ "email": "ADA@Example.com", "password": "otherpass1" }),
        )
        .await;
    assert_eq!(dup.status, 409, "emails are compared without case");
    assert!(dup.error().contains("already exists"), "{}", dup.error());

    for (email, password) in [
        ("ada@example.com", "wrongpass1"),
        ("nobody@example.com", "longenough1"),
        ("", ""),
    ] {
        let r = api
            .post(
                "/api/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(r.status, 401, "{email}");
        assert_eq!(r.error(), "invalid email or password");
    }
    let r = api
        .post("/api/login", json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(
        r.status, 400,
        "a missing field is a bad request, not a wrong password"
    );
    assert_eq!(shop.counts().unwrap(), (1, 0));
}

#[tokio::test]
async fn routes_with_a_token_answer_401_with_a_bearer_challenge_without_one() {
    let (shop, _dir) = shop().await;
    let mut api = Api::new(shop.addr());
    api.register("ada@example.com").await;
    let good = api.token.clone().unwrap();
    let mut other = good.clone().into_bytes();
    other[0] = if other[0] == b'A' { b'B' } else { b'A' };
    let unknown = String::from_utf8(other).unwrap();
    let authorizations = [
        None,
        Some(format!("Bearer {unknown}")),
        Some("Bearer".to_owned()),
        Some("Bearer not-a-token".to_owned()),
        Some(format!("Basic {good}")),
        Some(format!("Bearer {good}x")),
    ];
    let routes = [
        ("GET", "/api/cart"),
        ("POST", "/api/cart/items"),
        ("POST", "/api/orders"),
        ("GET", "/api/orders/1"),
    ];
    for auth in &authorizations {
        for (method, path) in routes {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(a) = auth {
                headers.push(("authorization", a.as_str()));
            }
            let body = br#"{"variant_id": 1, "quantity": 1}"#.to_vec();
            let body = if method == "POST" { body } else { Vec::new() };
            let r = call(shop.addr(), method, path, &headers, body).await;
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}");
            let challenge = r.headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert_eq!(challenge == "Bearer", auth.is_none(), "{challenge}");
            assert!(!r.error().is_empty());
        }
    }
    // The refused requests did nothing; the catalog needs no token.
    api.token = Some(good);
    assert_eq!(api.get("/api/cart").await.json["items"], json!([]));
    api.token = None;
    assert_eq!(api.get("/api/products").await.status, 200);
    assert_eq!(api.get("/api/products/1").await.status, 200);
}

#[tokio::test]
async fn cart_and_order_errors() {
    let (shop, _dir) = shop().await;
    let mut api = Api::new(shop.addr());
    api.register("ada@example.com").await;
    for (id, status) in [
        ("99", 404),
        ("0", 404),
        ("abc", 404),
        ("%FF", 404),
        ("1", 200),
    ] {
        let r = api.get(&format!("/api/products/{id}")).await;
        assert_eq!(r.status, status, "{id}");
    }
    assert_eq!(api.get("/api/products/99").await.error(), "no product 99");

    for (item, status, needle) in [
        (json!({ "variant_id": 1, "quantity": 0 }), 400, "quantity"),
        (json!({ "variant_id": 1, "quantity": -3 }), 400, "quantity"),
        (json!({ "variant_id": 1, "quantity": 51 }), 400, "quantity"),
        (
            json!({ "variant_id": 1, "quantity": 2.5 }),
            400,
            "invalid type",
        ),
        (
            json!({ "variant_id": "1", "quantity": 1 }),
            400,
            "invalid type",
        ),
        (json!({ "variant_id": 1 }), 400, "missing field `quantity`"),
        (
            json!({ "variant_id": 999999, "quantity": 1 }),
            404,
            "no variant 999999",
        ),
    ] {
        let r = api.post("/api/cart/items", item.clone()).await;
        assert_eq!(r.status, status, "{item}: {}", r.json);
        assert!(r.error().contains(needle), "{item}: {}", r.error());
    }
    assert_eq!(api.get("/api/cart").await.json["items"], json!([]));

    let empty = api.post("/api/orders", json!({})).await;
    assert_eq!((empty.status, empty.error()), (400, "the cart is empty"));
    for id in ["1", "999", "x"] {
        let r = api.get(&format!("/api/orders/{id}")).await;
        assert_eq!(r.status, 404, "{id}");
        assert_eq!(r.error(), format!("no order {id}"));
    }

    // A line stops at 50, as on the storefront, however it is added up.
    for _ in 0..2 {
        api.post(
            "/api/cart/items",
            json!({ "variant_id": 2, "quantity": 30 }),
        )
        .await;
    }
    let cart = api.get("/api/cart").await;
    assert_eq!(cart.json["items"][0]["quantity"], 50);
    assert_eq!(shop.counts().unwrap(), (1, 0));
}

#[tokio::test]
async fn bodies_content_types_and_sizes_answer_json_errors() {
    let (shop, _dir) = shop().await;
    let mut api = Api::new(shop.addr());
    api.register("ada@example.com").await;
    let item = br#"{"variant_id": 1, "quantity": 1}"#.to_vec();

    let r = api
        .post_raw(
            "/api/login",
            Some("application/json"),
            b"{\"email\": ".to_vec(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.error().starts_with("invalid JSON body: EOF"),
        "{}",
        r.error()
    );
    let r = api
        .post_raw(
            "/api/cart/items",
            Some("application/json"),
            b"[1, 2]".to_vec(),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "serde would read a struct from an array; the API does not"
    );
    assert!(r.error().contains("expected an object"), "{}", r.error());
    let r = api
        .post_raw("/api/cart/items", Some("application/json"), Vec::new())
        .await;
    assert_eq!(r.status, 400, "an empty body is not JSON");

    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = api.post_raw("/api/cart/items", ct, item.clone()).await;
        assert_eq!(r.status, 415, "{ct:?}");
        assert!(r.error().contains("application/json"), "{}", r.error());
    }
    let r = api
        .post_raw(
            "/api/cart/items",
            Some("application/json; charset=utf-8"),
            item.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "parameters of the type are fine");

    let mut big = br#"{"email": "a@example.com", "password": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 70 * 1024));
    big.extend(br#""}"#);
    let r = api
        .post_raw("/api/register", Some("application/json"), big)
        .await;
    assert_eq!(r.status, 413);
    assert!(r.error().contains("65536"), "{}", r.error());

    // The order takes no body, `{}`, or whitespace; not a list, nor a form.
    let r = api
        .post_raw("/api/orders", Some("application/json"), b"[]".to_vec())
        .await;
    assert_eq!(r.status, 400, "{}", r.json);
    let r = api
        .post_raw("/api/orders", Some("text/plain"), b"{}".to_vec())
        .await;
    assert_eq!(r.status, 415);
    let r = api.post("/api/orders", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.json);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json_errors() {
    let (shop, _dir) = shop().await;
    for (method, path, status) in [
        ("GET", "/api", 404),
        ("GET", "/api/", 404),
        ("GET", "/api/nope", 404),
        ("POST", "/api/nope/", 404),
        ("GET", "/api/products/", 404),
        ("POST", "/api/products", 405),
        ("DELETE", "/api/cart", 405),
        ("GET", "/api/login", 405),
    ] {
        let r = call(shop.addr(), method, path, &[], Vec::new()).await;
        assert_eq!(r.status, status, "{method} {path}");
        assert!(r.error().contains(path), "{}", r.error());
    }
}

#[tokio::test]
async fn one_users_token_cannot_read_anothers_order_or_cart() {
    let (shop, _dir) = shop().await;
    let (mut ada, mut bob) = (Api::new(shop.addr()), Api::new(shop.addr()));
    ada.register("ada@example.com").await;
    bob.register("bob@example.com").await;
    ada.post("/api/cart/items", json!({ "variant_id": 1, "quantity": 1 }))
        .await;
    let order = ada.post_raw("/api/orders", None, Vec::new()).await;
    assert_eq!(order.status, 201);
    let path = format!("/api/orders/{}", order.json["id"]);

    let peek = bob.get(&path).await;
    assert_eq!(peek.status, 404, "as if it did not exist");
    assert_eq!(peek.error(), format!("no order {}", order.json["id"]));
    assert_eq!(ada.get(&path).await.status, 200);
    assert_eq!(bob.get("/api/cart").await.json["items"], json!([]));
    let empty = bob.post_raw("/api/orders", None, Vec::new()).await;
    assert_eq!(empty.status, 400, "bob's cart is his own");
    assert_eq!(shop.counts().unwrap(), (2, 1));
}

#[tokio::test]
async fn the_api_needs_no_csrf_token_while_the_html_forms_still_do() {
    let (shop, _dir) = shop().await;
    // No cookie and no CSRF token at any step; `call` asserts that no cookie is set either.
    let mut api = Api::new(shop.addr());
    api.register("ada@example.com").await;
    api.post("/api/cart/items", json!({ "variant_id": 1, "quantity": 1 }))
        .await;
    let order = api.post_raw("/api/orders", None, Vec::new()).await;
    assert_eq!(order.status, 201);

    // A bearer token does not stand in for CSRF on the storefront's forms.
    let auth = format!("Bearer {}", api.token.clone().unwrap());
    let mut b = Browser::new(shop.addr());
    b.get("/products/codemash-1/").await;
    let fields = [("variant", "1"), ("quantity", "1")];
    let r = b
        .post_with(
            "/products/codemash-1/add/",
            &fields,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF token missing or incorrect."));
    let r = Browser::new(shop.addr())
        .post(
            "/account/signup/",
            &[("email", "eve@example.com"), ("password", "longenough1")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF cookie not set."));

    // One users table: the API's user signs in on the form and sees the API's order there;
    // the form's user logs in on the API.
    let token = b.get("/account/login/").await.token();
    let login = [
        ("csrfmiddlewaretoken", token.as_str()),
        ("username", "ada@example.com"),
        ("password", "longenough1"),
    ];
    let r = b.post("/account/login/", &login).await;
    assert_eq!((r.status, r.location()), (302, "/"));
    let page = b
        .get(&format!(
            "/order/{}/",
            order.json["token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page.status, 200);
    let stranger = Browser::new(shop.addr())
        .get(&format!(
            "/order/{}/",
            order.json["token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stranger.status, 404);

    assert_eq!(
        Browser::new(shop.addr())
            .signup("carl@example.com", "longenough1")
            .await
            .status,
        302
    );
    let r = api
        .post(
            "/api/login",
            json!({ "email": "carl@example.com", "password": "longenough1" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

#[tokio::test]
async fn twelve_concurrent_registrations_with_one_email_make_one_user() {
    let (shop, _dir) = shop().await;
    let addr = shop.addr();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(tokio::spawn(async move {
            Api::new(addr)
                .post(
                    "/api/register",
                    json!({ "email": "same@example.com", "password": "longenough1" }),
                )
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    let mut expected = vec![201];
    expected.extend([409; 11]);
    assert_eq!(statuses, expected);
    assert_eq!(shop.counts().unwrap(), (1, 0));
}
