//! Django's CSRF protection, as Saleor ran it: a secret in the `csrftoken` cookie, forms
//! carrying a masked token that differs on every render, and the `X-CSRFToken` header for
//! scripts. Login and signup rotate the secret.

use rand::Rng;

const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const SECRET_LEN: usize = 32;

/// Django's reasons, word for word.
pub const REASON_NO_COOKIE: &str = "CSRF cookie not set.";
pub const REASON_BAD_TOKEN: &str = "CSRF token missing or incorrect.";

pub fn new_secret() -> String {
    let mut rng = rand::rng();
    (0..SECRET_LEN)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn index(c: u8) -> Option<usize> {
    CHARS.iter().position(|&x| x == c)
}

/// A 64-character token for a form: a random mask, then the secret shifted by it.
pub fn mask(secret: &str) -> String {
    let mask = new_secret();
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| CHARS[(index(s).unwrap_or(0) + index(m).unwrap_or(0)) % CHARS.len()] as char)
        .collect();
    format!("{mask}{cipher}")
}

fn unmask(token: &str) -> Option<String> {
    let (mask, cipher) = token.split_at(SECRET_LEN);
    mask.bytes()
        .zip(cipher.bytes())
        .map(|(m, c)| Some(CHARS[(index(c)? + CHARS.len() - index(m)?) % CHARS.len()] as char))
        .collect()
}

fn well_formed(s: &str) -> bool {
    s.bytes().all(|b| index(b).is_some())
}

/// Whether `token` (a masked form token or the bare secret) matches the cookie's secret.
pub fn matches(secret: &str, token: &str) -> bool {
    if secret.len() != SECRET_LEN || !well_formed(secret) || !well_formed(token) {
        return false;
    }
    let candidate = match token.len() {
        64 => match unmask(token) {
            Some(s) => s,
            None => return false,
        },
        SECRET_LEN => token.to_owned(),
        _ => return false,
    };
    // Constant time, as Django compares.
    candidate
        .bytes()
        .zip(secret.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Checks a state-changing request. `cookie` is the `csrftoken` cookie, `field` the form's
/// `csrfmiddlewaretoken`, `header` the `X-CSRFToken` header.
pub fn check(cookie: Option<&str>, field: &str, header: Option<&str>) -> Result<(), &'static str> {
    let Some(secret) = cookie else {
        return Err(REASON_NO_COOKIE);
    };
    let token = if field.is_empty() {
        header.unwrap_or("")
    } else {
        field
    };
    if token.is_empty() || !matches(secret, token) {
        return Err(REASON_BAD_TOKEN);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_differ_but_unmask_to_the_secret() {
        let s = new_secret();
        let (a, b) = (mask(&s), mask(&s));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(matches(&s, &a) && matches(&s, &b) && matches(&s, &s));
        assert!(!matches(&new_secret(), &a));
    }

    #[test]
    fn reasons_follow_django() {
        let s = new_secret();
        assert_eq!(check(None, &mask(&s), None), Err(REASON_NO_COOKIE));
        assert_eq!(check(Some(&s), "", None), Err(REASON_BAD_TOKEN));
        assert_eq!(check(Some(&s), "x", None), Err(REASON_BAD_TOKEN));
        assert_eq!(check(Some(&s), "", Some(&s)), Ok(()));
        assert_eq!(check(Some(&s), &mask(&s), None), Ok(()));
    }
}
