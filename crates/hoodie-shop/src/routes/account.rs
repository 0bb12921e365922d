//! Signup, login and logout.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

use super::{finish, found, page, posted, visit, AppError, HandlerResult, Shop};
use crate::address::FieldErrors;
use crate::db::CreateUser;
use crate::pages;
use crate::password;

/// The shortest password accepted, as Django's default validator.
pub(crate) const MIN_PASSWORD: usize = 8;

pub async fn signup_page(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let body = pages::account_form(false, "", "", &v.csrf_token(), &FieldErrors::new());
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub(crate) fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && e.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        && !domain.contains('@')
}

fn password_errors(p: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if p.is_empty() {
        errs.push("This field is required.".to_owned());
    } else {
        if p.chars().count() < MIN_PASSWORD {
            errs.push(format!(
                "This password is too short. It must contain at least {MIN_PASSWORD} characters."
            ));
        }
        if p.chars().all(|c| c.is_ascii_digit()) {
            errs.push("This password is entirely numeric.".to_owned());
        }
    }
    errs
}

pub async fn signup(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let email = form.get("email").trim().to_owned();
    let pw = form.get("password").to_owned();
    let mut errors = FieldErrors::new();
    if email.is_empty() {
        errors
            .entry("email".into())
            .or_default()
            .push("This field is required.".into());
    } else if !valid_email(&email) {
        errors
            .entry("email".into())
            .or_default()
            .push("Enter a valid email address.".into());
    }
    let pw_errs = password_errors(&pw);
    if !pw_errs.is_empty() {
        errors.insert("password".into(), pw_errs);
    }
    if errors.is_empty() {
        let iterations = shop.password_iterations;
        let hashed = tokio::task::spawn_blocking(move || password::hash(&pw, iterations))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        match shop.db.create_user(&email, &hashed)? {
            CreateUser::Created(id) => {
                let guest = v.guest_cart().map(str::to_owned);
                v.login(id);
                if let Some(g) = guest {
                    shop.db.merge_guest_cart(&g, id)?;
                }
                return Ok(finish(&shop, v, found("/")));
            }
            CreateUser::EmailTaken => {
                errors
                    .entry("email".into())
                    .or_default()
                    .push("User with this Email already exists.".into());
            }
        }
    }
    let body = pages::account_form(false, &email, "", &v.csrf_token(), &errors);
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

#[derive(serde::Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn login_page(
    State(shop): State<Shop>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let body = pages::account_form(
        true,
        "",
        q.next.as_deref().unwrap_or(""),
        &v.csrf_token(),
        &FieldErrors::new(),
    );
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

/// Only local paths are followed after login, so `next` cannot send visitors elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

pub async fn login(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    let form = match posted(&v, &headers, &body) {
        Ok(f) => f,
        Err(forbidden) => return Ok(forbidden.into_response()),
    };
    let email = form.get("username").trim().to_owned();
    let pw = form.get("password").to_owned();
    let user = shop.db.user_by_email(&email)?;
    let ok = match user.clone() {
        Some((_, hashed)) => tokio::task::spawn_blocking(move || password::verify(&pw, &hashed))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?,
        None => false,
    };
    if let (true, Some((id, _))) = (ok, user) {
        let guest = v.guest_cart().map(str::to_owned);
        v.login(id);
        if let Some(g) = guest {
            shop.db.merge_guest_cart(&g, id)?;
        }
        let to = safe_next(form.get("next")).to_owned();
        return Ok(finish(&shop, v, found(&to)));
    }
    let mut errors = FieldErrors::new();
    errors.insert(
        "__all__".into(),
        vec!["Please enter a correct email and password. Note that both fields may be case-sensitive.".into()],
    );
    let body = pages::account_form(true, &email, form.get("next"), &v.csrf_token(), &errors);
    Ok(finish(&shop, v, page(StatusCode::OK, body)))
}

pub async fn logout(State(shop): State<Shop>, headers: HeaderMap) -> HandlerResult {
    let mut v = visit(&shop, &headers);
    v.logout();
    Ok(finish(&shop, v, found("/")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn emails_and_next() {
        assert!(super::valid_email("a.b@example.com"));
        assert!(!super::valid_email("not-an-email"));
        assert!(!super::valid_email("a@b"));
        assert_eq!(super::safe_next("//evil.example"), "/");
        assert_eq!(super::safe_next("/cart/"), "/cart/");
    }
}
