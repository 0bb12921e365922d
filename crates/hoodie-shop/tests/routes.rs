//! Every route's happy path and its bad-input cases, over real HTTP and a real SQLite file.

mod common;

use common::{shop, Browser, OHIO};

#[tokio::test]
async fn catalog_pages_and_canonical_urls() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("href=\"/account/signup/\"")
            && home.body.contains("/products/category/apparel-1/")
    );

    let cat = b.get("/products/category/apparel-1/").await;
    assert_eq!(cat.status, 200);
    assert!(cat.body.contains("<div class=\"category-list\">"));
    assert!(cat.body.contains("href=\"/products/codemash-1/\""));
    assert_eq!(
        b.get("/products/category/wrong-1/").await.location(),
        "/products/category/apparel-1/"
    );
    for bad in [
        "/products/category/apparel-99/",
        "/products/category/apparel-1/?page=abc",
        "/products/category/apparel-1/?page=9",
        "/products/category/x/",
    ] {
        assert_eq!(b.get(bad).await.status, 404, "{bad}");
    }

    let p = b.get("/products/codemash-1/").await;
    assert_eq!(p.status, 200);
    let attr = "data-variant-picker-data=\"";
    let start = p.body.find(attr).expect("a variant picker") + attr.len();
    let raw = &p.body[start..start + p.body[start..].find('"').unwrap()];
    let picker: serde_json::Value = serde_json::from_str(&raw.replace("&quot;", "\"")).unwrap();
    let ids: Vec<i64> = picker["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(picker["variants"][0]["attributes"]["size"], "XS");
    for size in ["XS", "S", "M", "L", "XL", "XXL"] {
        assert!(p.body.contains(&format!(">{size}</option>")));
    }
    let wrong = b.get("/products/hoodie-1/").await;
    assert_eq!(
        (wrong.status, wrong.location()),
        (301, "/products/codemash-1/")
    );
    assert_eq!(b.get("/products/codemash-999/").await.status, 404);
    assert_eq!(b.get("/cart").await.location(), "/cart/");
    assert_eq!(b.get("/no/such/page/").await.status, 404);
}

#[tokio::test]
async fn search_really_searches() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    let r = b.get("/search/?q=hoodie").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("/products/codemash-1/"), "{}", r.body);
    let none = b.get("/search/?q=%25%27%22%3Cscript%3E").await;
    assert_eq!(none.status, 200);
    assert!(
        none.body.contains("No products match") && none.body.contains("&lt;script&gt;"),
        "input is escaped"
    );
    assert_eq!(b.get("/search/").await.status, 200);
}

#[tokio::test]
async fn signup_validates_logs_in_and_rotates_csrf() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    let bad = b.signup("not-an-email", "longenough1").await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("Enter a valid email address."));
    let short = b.signup("ada@example.com", "short").await;
    assert!(short.body.contains("This password is too short."));
    assert_eq!(shop.counts().unwrap(), (0, 0));

    let before = b.cookie("csrftoken").unwrap();
    let ok = b.signup("ada@example.com", "longenough1").await;
    assert_eq!((ok.status, ok.location()), (302, "/"));
    assert!(b.cookie("sessionid").is_some());
    assert_ne!(
        b.cookie("csrftoken").unwrap(),
        before,
        "signup rotates the CSRF secret"
    );
    assert!(b.get("/").await.body.contains("ada@example.com"));
    assert_eq!(shop.counts().unwrap(), (1, 0));

    let mut other = Browser::new(shop.addr());
    let dup = other.signup("ADA@example.com", "longenough1").await;
    assert_eq!(dup.status, 200);
    assert!(dup.body.contains("User with this Email already exists."));
    assert_eq!(shop.counts().unwrap(), (1, 0));
}

#[tokio::test]
async fn twelve_concurrent_signups_with_one_email_make_one_user_and_no_500() {
    let (shop, _dir) = shop().await;
    let addr = shop.addr();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(tokio::spawn(async move {
            Browser::new(addr)
                .signup("same@example.com", "longenough1")
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        11,
        "{statuses:?}"
    );
    assert_eq!(shop.counts().unwrap(), (1, 0));
}

#[tokio::test]
async fn login_checks_passwords_and_only_follows_local_next() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    b.signup("bob@example.com", "longenough1").await;
    b.get("/account/logout/").await;
    let token = b.get("/account/login/").await.token();
    let wrong = b
        .post(
            "/account/login/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("username", "bob@example.com"),
                ("password", "nope-nope"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong
        .body
        .contains("Please enter a correct email and password."));
    let token = wrong.token();
    let evil = b
        .post(
            "/account/login/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("username", "bob@example.com"),
                ("password", "longenough1"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!((evil.status, evil.location()), (302, "/"));
    b.get("/account/logout/").await;
    let token = b.get("/account/login/?next=/cart/").await.token();
    let ok = b
        .post(
            "/account/login/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("username", "bob@example.com"),
                ("password", "longenough1"),
                ("next", "/cart/"),
            ],
        )
        .await;
    assert_eq!((ok.status, ok.location()), (302, "/cart/"));
}

#[tokio::test]
async fn add_to_cart_validates_and_sets_salors_cart_cookie() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    let ok = b.add_hoodie().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, r#"{"next":"/cart/"}"#);
    let cart = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cart="))
        .expect("a cart cookie");
    assert!(cart.contains("; Max-Age=315360000.0; Path=/"), "{cart}");
    assert!(b.get("/cart/").await.body.contains("CodeMash (XS)"));

    let csrf = b.cookie("csrftoken").unwrap();
    let ajax = [
        ("x-csrftoken", csrf.as_str()),
        ("x-requested-with", "XMLHttpRequest"),
    ];
    for (variant, quantity, field) in [
        ("999", "1", "variant"),
        ("7", "1", "variant"),
        ("abc", "1", "variant"),
        ("1", "0", "quantity"),
        ("1", "51", "quantity"),
        ("1", "x", "quantity"),
    ] {
        let r = b
            .post_with(
                "/products/codemash-1/add/",
                &[("variant", variant), ("quantity", quantity)],
                &ajax,
            )
            .await;
        assert_eq!(r.status, 400, "variant={variant} quantity={quantity}");
        assert!(r.body.contains(&format!("\"{field}\"")), "{}", r.body);
    }
    let plain = b
        .post_with(
            "/products/codemash-1/add/",
            &[("variant", "2"), ("quantity", "2")],
            &[("x-csrftoken", &csrf)],
        )
        .await;
    assert_eq!((plain.status, plain.location()), (302, "/cart/"));
    let rerender = b
        .post_with(
            "/products/codemash-1/add/",
            &[("variant", "999"), ("quantity", "1")],
            &[("x-csrftoken", &csrf)],
        )
        .await;
    assert_eq!(rerender.status, 200);
    assert!(rerender.body.contains("Select a valid choice."));
    assert_eq!(
        b.get("/products/codemash-1/add/").await.location(),
        "/products/codemash-1/"
    );
    assert_eq!(
        b.post_csrf(
            "/products/codemash-999/add/",
            &[("variant", "1"), ("quantity", "1")]
        )
        .await
        .status,
        404
    );

    let upd = b
        .post_with("/cart/update/1/", &[("quantity", "3")], &ajax)
        .await;
    assert_eq!(upd.status, 200);
    assert!(upd.body.contains("\"numItems\":5"), "{}", upd.body);
    assert_eq!(
        b.post_with("/cart/update/1/", &[("quantity", "-1")], &ajax)
            .await
            .status,
        400
    );
    assert_eq!(
        b.post_with("/cart/update/99999/", &[("quantity", "1")], &ajax)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn guest_checkout_places_and_pays_an_order() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    assert_eq!(b.get("/checkout/").await.location(), "/cart/", "empty cart");
    b.add_hoodie().await;
    assert_eq!(
        b.get("/checkout/").await.location(),
        "/checkout/shipping-address/"
    );
    assert_eq!(
        b.get("/checkout/summary/").await.location(),
        "/checkout/shipping-address/",
        "steps cannot be skipped"
    );
    assert_eq!(b.get("/checkout/shipping-address/").await.status, 200);

    let mut wrong_zip: Vec<(&str, &str)> = OHIO
        .iter()
        .map(|(k, v)| {
            if *k == "postal_code" {
                (*k, "90210")
            } else {
                (*k, *v)
            }
        })
        .collect();
    wrong_zip.push(("email", "guest@example.com"));
    let r = b.post_csrf("/checkout/shipping-address/", &wrong_zip).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("This value is not valid for the address."));
    let no_email: Vec<(&str, &str)> = OHIO.to_vec();
    assert!(b
        .post_csrf("/checkout/shipping-address/", &no_email)
        .await
        .body
        .contains("This field is required."));

    let mut good: Vec<(&str, &str)> = OHIO.to_vec();
    good.push(("email", "guest@example.com"));
    assert_eq!(
        b.post_csrf("/checkout/shipping-address/", &good)
            .await
            .location(),
        "/checkout/shipping-method/"
    );
    assert!(b
        .get("/checkout/shipping-method/")
        .await
        .body
        .contains("name=\"method\" value=\"1\""));
    assert_eq!(
        b.post_csrf("/checkout/shipping-method/", &[("method", "99")])
            .await
            .status,
        200
    );
    assert_eq!(
        b.post_csrf("/checkout/shipping-method/", &[("method", "1")])
            .await
            .location(),
        "/checkout/summary/"
    );
    assert_eq!(
        b.post_csrf("/checkout/summary/", &[("address", "bogus")])
            .await
            .status,
        200
    );
    assert_eq!(shop.counts().unwrap(), (0, 0));

    let placed = b
        .post_csrf("/checkout/summary/", &[("address", "shipping_address")])
        .await;
    assert_eq!(placed.status, 302);
    let payment = placed.location().to_owned();
    let token = payment
        .trim_start_matches("/order/")
        .trim_end_matches("/payment/");
    assert!(uuid::Uuid::parse_str(token).is_ok(), "{payment}");
    assert_eq!(shop.counts().unwrap(), (0, 1));
    assert!(b.get("/cart/").await.body.contains("Your cart is empty."));

    assert_eq!(b.get(&payment).await.status, 200);
    assert_eq!(
        b.post_csrf(&payment, &[("method", "bitcoin")]).await.status,
        200
    );
    let gateway = b.post_csrf(&payment, &[("method", "default")]).await;
    assert_eq!(
        gateway.location(),
        format!("/order/{token}/payment/default/")
    );
    assert_eq!(
        b.post_csrf(gateway.location(), &[("status", "nonsense")])
            .await
            .status,
        200
    );
    let paid = b
        .post_csrf(
            gateway.location(),
            &[("status", "confirmed"), ("fraud_status", "accept")],
        )
        .await;
    assert_eq!(paid.location(), format!("/order/{token}/"));
    assert!(b
        .get(&format!("/order/{token}/"))
        .await
        .body
        .contains("Paid"));

    // Another visitor cannot see or pay it.
    let mut stranger = Browser::new(shop.addr());
    assert_eq!(stranger.get(&format!("/order/{token}/")).await.status, 404);
    assert_eq!(stranger.get(&payment).await.status, 404);
    stranger.get("/account/signup/").await;
    assert_eq!(
        stranger
            .post_csrf(&payment, &[("method", "default")])
            .await
            .status,
        404
    );
    assert_eq!(stranger.get("/order/not-a-uuid/").await.status, 404);
}

#[tokio::test]
async fn login_merges_the_guest_cart_and_users_see_their_orders() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    b.signup("carol@example.com", "longenough1").await;
    b.get("/account/logout/").await;
    b.add_hoodie().await;
    let token = b.get("/account/login/").await.token();
    b.post(
        "/account/login/",
        &[
            ("csrfmiddlewaretoken", &token),
            ("username", "carol@example.com"),
            ("password", "longenough1"),
        ],
    )
    .await;
    assert!(
        b.get("/cart/").await.body.contains("CodeMash (XS)"),
        "the guest cart follows the user"
    );
    let mut fields: Vec<(&str, &str)> = OHIO.to_vec();
    fields.push(("address", "new_address"));
    assert_eq!(
        b.post_csrf("/checkout/shipping-address/", &fields)
            .await
            .location(),
        "/checkout/shipping-method/"
    );
    b.post_csrf("/checkout/shipping-method/", &[("method", "1")])
        .await;
    let placed = b
        .post_csrf("/checkout/summary/", &[("address", "shipping_address")])
        .await;
    assert_eq!(placed.status, 302);
    assert_eq!(shop.counts().unwrap(), (1, 1));
}

#[tokio::test]
async fn garbage_never_gets_a_500() {
    let (shop, _dir) = shop().await;
    let mut b = Browser::new(shop.addr());
    b.get("/products/codemash-1/").await;
    let csrf = b.cookie("csrftoken").unwrap();
    let paths = [
        "/account/signup/",
        "/account/login/",
        "/products/codemash-1/add/",
        "/cart/update/1/",
        "/checkout/shipping-address/",
        "/checkout/shipping-method/",
        "/checkout/summary/",
        "/order/00000000-0000-0000-0000-000000000000/payment/",
    ];
    let bodies = [
        "",
        "%%%",
        "a=%ZZ&b",
        "email=%00&password=%ff%fe",
        &"x=".repeat(2000),
        "variant=1&quantity=99999999999999999999",
    ];
    for path in paths {
        for body in bodies {
            let r = b
                .send(
                    "POST",
                    path,
                    body,
                    &[
                        ("x-csrftoken", &csrf),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                )
                .await;
            assert!(r.status < 500, "{path} with {body:?} gave {}", r.status);
        }
    }
}
