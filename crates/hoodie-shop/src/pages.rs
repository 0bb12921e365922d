//! The shop's HTML. Every value from the database or the visitor goes through [`esc`].
//! The markup keeps the hooks scripts rely on: `.category-list a`, `#variant-picker` with
//! `data-variant-picker-data`, `csrfmiddlewaretoken` inputs, `input[name=method]`.

use std::fmt::Write as _;

use crate::address::{Address, FieldErrors};
use crate::db::{CartLine, Category, Order, Product, Variant};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

pub fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

pub fn product_url(p: &Product) -> String {
    format!("/products/{}-{}/", p.slug, p.id)
}

/// The page frame. `user` is the signed-in email, if any.
pub fn layout(title: &str, user: Option<&str>, body: &str) -> String {
    let account = match user {
        Some(email) => format!(
            "<span class=\"account\">{}</span> <a href=\"/account/logout/\">Log out</a>",
            esc(email)
        ),
        None => "<a href=\"/account/signup/\">Register</a> <a href=\"/account/login/\">Log in</a>"
            .to_owned(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} | Hoodie Shop</title></head>\n<body>\n<header><a href=\"/\">Hoodie Shop</a>\n<form action=\"/search/\" method=\"get\" class=\"search\"><input name=\"q\" type=\"search\"><button>Search</button></form>\n<nav>{account} <a href=\"/cart/\">Cart</a></nav></header>\n<main>\n{body}\n</main></body></html>\n",
        esc(title)
    )
}

fn csrf_input(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{}\">",
        esc(token)
    )
}

fn errors_for(errors: &FieldErrors, field: &str) -> String {
    errors
        .get(field)
        .map(|list| {
            list.iter()
                .map(|e| format!("<span class=\"error\">{}</span>", esc(e)))
                .collect::<String>()
        })
        .unwrap_or_default()
}

fn product_links(products: &[Product]) -> String {
    products
        .iter()
        .map(|p| format!("<div class=\"product\"><a href=\"{}\">{}</a> <span class=\"price\">{}</span></div>\n", product_url(p), esc(&p.name), money(p.price_cents)))
        .collect()
}

pub fn home(user: Option<&str>, categories: &[Category], featured: &[Product]) -> String {
    let cats: String = categories
        .iter()
        .map(|c| {
            format!(
                "<li><a href=\"/products/category/{}-{}/\">{}</a></li>",
                esc(&c.slug),
                c.id,
                esc(&c.name)
            )
        })
        .collect();
    layout("Home", user, &format!("<h1>Welcome</h1><ul class=\"categories\">{cats}</ul>\n<section class=\"featured\">{}</section>", product_links(featured)))
}

pub fn category(
    user: Option<&str>,
    c: &Category,
    products: &[Product],
    page: i64,
    pages: i64,
) -> String {
    let mut nav = String::new();
    if page > 1 {
        let _ = write!(
            nav,
            "<a rel=\"prev\" href=\"?page={}\">Previous</a> ",
            page - 1
        );
    }
    if page < pages {
        let _ = write!(nav, "<a rel=\"next\" href=\"?page={}\">Next</a>", page + 1);
    }
    layout(
        &c.name,
        user,
        &format!("<h1>{}</h1>\n<div class=\"category-list\">\n{}</div>\n<nav class=\"pages\">Page {page} of {pages} {nav}</nav>", esc(&c.name), product_links(products)),
    )
}

pub fn product(
    user: Option<&str>,
    p: &Product,
    variants: &[Variant],
    csrf: &str,
    errors: &FieldErrors,
) -> String {
    let picker = serde_json::json!({
        "variants": variants.iter().map(|v| serde_json::json!({
            "id": v.id, "price": v.price_cents as f64 / 100.0, "attributes": {"size": v.size}
        })).collect::<Vec<_>>(),
        "variantAttributes": [{"name": "Size", "slug": "size"}],
    });
    let options: String = variants
        .iter()
        .map(|v| format!("<option value=\"{}\">{}</option>", v.id, esc(&v.size)))
        .collect();
    layout(
        &p.name,
        user,
        &format!(
            "<h1>{}</h1><p class=\"price\">{}</p><p>{}</p>\n<div id=\"variant-picker\" data-variant-picker-data=\"{}\"></div>\n<form id=\"product-form\" method=\"post\" action=\"{}add/\">{}\n<select name=\"variant\">{options}</select>{}\n<input name=\"quantity\" type=\"number\" value=\"1\" min=\"1\" max=\"50\">{}\n<button type=\"submit\">Add to cart</button></form>",
            esc(&p.name),
            money(p.price_cents),
            esc(&p.description),
            esc(&picker.to_string()),
            product_url(p),
            csrf_input(csrf),
            errors_for(errors, "variant"),
            errors_for(errors, "quantity"),
        ),
    )
}

pub fn search(user: Option<&str>, q: &str, results: &[Product]) -> String {
    let body = if results.is_empty() {
        format!(
            "<h1>Search</h1><p class=\"no-results\">No products match “{}”.</p>",
            esc(q)
        )
    } else {
        format!(
            "<h1>Search results for “{}”</h1><div class=\"search-results\">{}</div>",
            esc(q),
            product_links(results)
        )
    };
    layout("Search", user, &body)
}

pub fn cart(user: Option<&str>, lines: &[CartLine], csrf: &str) -> String {
    if lines.is_empty() {
        return layout(
            "Cart",
            user,
            "<h1>Your cart</h1><p class=\"empty\">Your cart is empty.</p>",
        );
    }
    let rows: String = lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{} ({})</td><td><form method=\"post\" action=\"/cart/update/{}/\">{}<input name=\"quantity\" value=\"{}\"><button>Update</button></form></td><td>{}</td></tr>",
                esc(&l.product_name),
                esc(&l.variant.size),
                l.variant.id,
                csrf_input(csrf),
                l.quantity,
                money(l.variant.price_cents * l.quantity)
            )
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l.variant.price_cents * l.quantity)
        .sum();
    layout("Cart", user, &format!("<h1>Your cart</h1><table class=\"cart\">{rows}</table><p class=\"total\">Total: {}</p><a class=\"checkout\" href=\"/checkout/\">Checkout</a>", money(total)))
}

/// Signup (`login = false`) or login form.
pub fn account_form(
    login: bool,
    email: &str,
    next: &str,
    csrf: &str,
    errors: &FieldErrors,
) -> String {
    let (title, action, field, button) = if login {
        ("Log in", "/account/login/", "username", "Log in")
    } else {
        ("Register", "/account/signup/", "email", "Create an account")
    };
    let next_input = if login {
        format!(
            "<input type=\"hidden\" name=\"next\" value=\"{}\">",
            esc(next)
        )
    } else {
        String::new()
    };
    layout(
        title,
        None,
        &format!(
            "<h1>{title}</h1>{}<form method=\"post\" action=\"{action}\">{}{next_input}\n<label>Email <input name=\"{field}\" type=\"email\" value=\"{}\"></label>{}\n<label>Password <input name=\"password\" type=\"password\"></label>{}\n<button type=\"submit\">{button}</button></form>",
            errors_for(errors, "__all__"),
            csrf_input(csrf),
            esc(email),
            errors_for(errors, field),
            errors_for(errors, "password"),
        ),
    )
}

fn address_fields(a: &Address, errors: &FieldErrors) -> String {
    let fields = [
        ("first_name", &a.first_name),
        ("last_name", &a.last_name),
        ("company_name", &a.company_name),
        ("street_address_1", &a.street_address_1),
        ("street_address_2", &a.street_address_2),
        ("city", &a.city),
        ("city_area", &a.city_area),
        ("postal_code", &a.postal_code),
        ("country", &a.country),
        ("country_area", &a.country_area),
        ("phone", &a.phone),
    ];
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<label>{name} <input name=\"{name}\" value=\"{}\"></label>{}\n",
                esc(value),
                errors_for(errors, name)
            )
        })
        .collect()
}

pub fn shipping_address(
    user: Option<&str>,
    email: &str,
    a: &Address,
    csrf: &str,
    errors: &FieldErrors,
) -> String {
    let who = match user {
        Some(_) => "<label><input type=\"radio\" name=\"address\" value=\"new_address\" checked> New address</label>".to_owned(),
        None => format!("<label>Email <input name=\"email\" type=\"email\" value=\"{}\"></label>{}", esc(email), errors_for(errors, "email")),
    };
    layout(
        "Shipping address",
        user,
        &format!("<h1>Shipping address</h1><form method=\"post\">{}{who}\n{}<button type=\"submit\">Continue</button></form>", csrf_input(csrf), address_fields(a, errors)),
    )
}

pub fn shipping_method(
    user: Option<&str>,
    methods: &[(i64, String, i64)],
    csrf: &str,
    errors: &FieldErrors,
) -> String {
    let radios: String = methods
        .iter()
        .enumerate()
        .map(|(i, (id, name, price))| {
            format!(
                "<label><input type=\"radio\" name=\"method\" value=\"{id}\"{}> {} {}</label>\n",
                if i == 0 { " checked" } else { "" },
                esc(name),
                money(*price)
            )
        })
        .collect();
    layout("Shipping method", user, &format!("<h1>Shipping method</h1><form method=\"post\">{}{radios}{}<button type=\"submit\">Continue</button></form>", csrf_input(csrf), errors_for(errors, "method")))
}

pub fn summary(
    user: Option<&str>,
    lines: &[CartLine],
    shipping: &Address,
    csrf: &str,
    errors: &FieldErrors,
) -> String {
    let items: String = lines
        .iter()
        .map(|l| {
            format!(
                "<li>{} ({}) × {}</li>",
                esc(&l.product_name),
                esc(&l.variant.size),
                l.quantity
            )
        })
        .collect();
    layout(
        "Order summary",
        user,
        &format!(
            "<h1>Summary</h1><ul class=\"lines\">{items}</ul><p>Ship to: {}</p><form method=\"post\">{}\n<label><input type=\"radio\" name=\"address\" value=\"shipping_address\" checked> Billing same as shipping</label>\n<label><input type=\"radio\" name=\"address\" value=\"new_address\"> Another billing address</label>{}\n{}<button type=\"submit\">Order &amp; Pay</button></form>",
            esc(&shipping.one_line()),
            csrf_input(csrf),
            errors_for(errors, "address"),
            address_fields(&Address::default(), errors),
        ),
    )
}

pub fn payment_choice(user: Option<&str>, o: &Order, csrf: &str, errors: &FieldErrors) -> String {
    layout(
        "Payment",
        user,
        &format!(
            "<h1>Payment for order {}</h1><p>Total {}</p><form method=\"post\">{}<label><input type=\"radio\" name=\"method\" value=\"default\" checked> Dummy gateway</label>{}<button>Proceed to payment</button></form>",
            esc(&o.token),
            money(o.total_cents),
            csrf_input(csrf),
            errors_for(errors, "method")
        ),
    )
}

pub fn payment_gateway(user: Option<&str>, o: &Order, csrf: &str, errors: &FieldErrors) -> String {
    let select = |name: &str, options: &[&str]| {
        let opts: String = options
            .iter()
            .map(|o| format!("<option value=\"{o}\">{o}</option>"))
            .collect();
        format!(
            "<label>{name} <select name=\"{name}\">{opts}</select></label>{}\n",
            errors_for(errors, name)
        )
    };
    layout(
        "Dummy payment",
        user,
        &format!(
            "<h1>Dummy payment of {}</h1><form method=\"post\">{}\n{}{}{}{}<button>Pay</button></form>",
            money(o.total_cents),
            csrf_input(csrf),
            select("status", &["confirmed", "waiting", "preauth", "rejected", "error"]),
            select("fraud_status", &["accept", "reject", "review"]),
            select("gateway_response", &["3ds-disabled", "success", "payment-declined"]),
            select("verification_result", &["confirmed", "waiting", "rejected", "error"]),
        ),
    )
}

pub fn order(user: Option<&str>, o: &Order) -> String {
    let items: String = o
        .lines
        .iter()
        .map(|(n, size, q, price)| {
            format!(
                "<li>{} ({}) × {q} at {}</li>",
                esc(n),
                esc(size),
                money(*price)
            )
        })
        .collect();
    let status = if o.paid { "Paid" } else { "Awaiting payment" };
    layout(
        "Order",
        user,
        &format!(
            "<h1>Order {}</h1><p class=\"status\">{status}</p><ul>{items}</ul><p>Shipping: {}</p><p>Ship to: {}</p><p class=\"total\">Total {}</p>",
            esc(&o.token),
            esc(&o.shipping_method),
            esc(&o.address.one_line()),
            money(o.total_cents)
        ),
    )
}

pub fn not_found() -> String {
    layout(
        "Not found",
        None,
        "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>",
    )
}

pub fn csrf_failure(reason: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Forbidden <span>(403)</span></h1><p>CSRF verification failed. Request aborted.</p><p>Reason given for failure:</p><pre>\n    {}\n    </pre></body></html>",
        esc(reason)
    )
}
