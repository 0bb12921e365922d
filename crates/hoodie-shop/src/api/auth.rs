//! Registration, login and bearer tokens.
//!
//! A token is 32 random bytes in base64url (43 characters), issued at each registration and
//! each login and never expiring: a load test logs in once per simulated user and keeps it.
//! The database keeps only its SHA-256, so a copy of the database lets no one in.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine as _;
use rand::Rng as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::db::TokenUser;
use super::{reply, ApiError, ApiResult, JsonBody};
use crate::db::CreateUser;
use crate::password;
use crate::routes::{valid_email, Shop, MIN_PASSWORD};

/// Characters of a base64url-encoded 32-byte token, without padding.
const TOKEN_LEN: usize = 43;

#[derive(serde::Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a token for the user and answers it with the email.
fn issue(shop: &Shop, user_id: i64, email: &str, status: StatusCode) -> ApiResult {
    let token = new_token();
    shop.db.api_store_token(&digest(&token), user_id)?;
    Ok(reply(status, json!({ "token": token, "email": email })))
}

/// PBKDF2 is deliberately slow, so it runs off the async workers, as the storefront's does.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `POST /api/register`: the storefront's signup rules for the email and the password's
/// length, and the same users table, so the account also signs in on the HTML forms.
pub async fn register(State(shop): State<Shop>, JsonBody(c): JsonBody<Credentials>) -> ApiResult {
    let email = c.email.trim().to_owned();
    if email.is_empty() {
        return Err(ApiError::BadRequest("email is required".into()));
    }
    if !valid_email(&email) {
        return Err(ApiError::BadRequest(format!(
            "{email:?} is not a valid email address"
        )));
    }
    if c.password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "the password is too short: it must have at least {MIN_PASSWORD} characters"
        )));
    }
    let iterations = shop.password_iterations;
    let hashed = blocking(move || password::hash(&c.password, iterations)).await?;
    match shop.db.create_user(&email, &hashed)? {
        CreateUser::Created(id) => issue(&shop, id, &email, StatusCode::CREATED),
        CreateUser::EmailTaken => Err(ApiError::Conflict(format!(
            "a user with the email {email} already exists"
        ))),
    }
}

/// `POST /api/login`: one message for an unknown email and a wrong password, so the answer
/// does not tell which emails have accounts.
pub async fn login(State(shop): State<Shop>, JsonBody(c): JsonBody<Credentials>) -> ApiResult {
    let refused = || ApiError::Unauthorized {
        message: "invalid email or password",
        invalid: false,
    };
    let Some((id, email, hashed)) = shop.db.api_login_user(c.email.trim())? else {
        return Err(refused());
    };
    if !blocking(move || password::verify(&c.password, &hashed)).await? {
        return Err(refused());
    }
    issue(&shop, id, &email, StatusCode::OK)
}

/// The token of an `Authorization: Bearer <token>` header, or why there is none usable.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized {
            message: "missing Authorization: Bearer <token> (POST /api/login gives one)",
            invalid: false,
        });
    };
    let malformed = ApiError::Unauthorized {
        message: "malformed Authorization header: expected Bearer <token>",
        invalid: true,
    };
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Err(malformed);
    };
    let token = token.trim();
    let well_formed = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !scheme.eq_ignore_ascii_case("bearer") || !well_formed {
        return Err(malformed);
    }
    Ok(token)
}

/// The signed-in caller of a route that needs a token. As the first argument of a handler
/// it runs before the body is read, so a request without a valid token is answered 401
/// whatever its body.
pub struct Caller(pub TokenUser);

impl FromRequestParts<Shop> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?;
        match shop.db.api_token_user(&digest(token))? {
            Some(user) => Ok(Caller(user)),
            None => Err(ApiError::Unauthorized {
                message: "unknown token",
                invalid: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_random_and_bearer_headers_are_checked() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(digest(&a).len(), 64);
        let mut h = HeaderMap::new();
        assert!(matches!(
            bearer(&h),
            Err(ApiError::Unauthorized { invalid: false, .. })
        ));
        for bad in ["Bearer", "Basic abc", "Bearer short", "Token "] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(bad).unwrap());
            assert!(bearer(&h).is_err(), "{bad}");
        }
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("bearer {a}")).unwrap(),
        );
        assert_eq!(bearer(&h).unwrap(), a);
    }
}
