//! Django's `pbkdf2_sha256` password hashes: `pbkdf2_sha256$<iterations>$<salt>$<hash>`.

use base64::Engine as _;
use rand::Rng;
use sha2::Sha256;

pub fn hash(password: &str, iterations: u32) -> String {
    let salt: String = {
        let mut rng = rand::rng();
        (0..12)
            .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
            .collect()
    };
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        derive(password, &salt, iterations)
    )
}

fn derive(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    base64::engine::general_purpose::STANDARD.encode(out)
}

pub fn verify(password: &str, encoded: &str) -> bool {
    let mut parts = encoded.splitn(4, '$');
    let (Some("pbkdf2_sha256"), Some(iter), Some(salt), Some(expected)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iter.parse::<u32>() else {
        return false;
    };
    let got = derive(password, salt, iterations);
    got.len() == expected.len()
        && got
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = super::hash("hunter22", 1000);
        assert!(a.starts_with("pbkdf2_sha256$1000$"));
        assert!(super::verify("hunter22", &a));
        assert!(!super::verify("hunter23", &a));
        assert_ne!(a, super::hash("hunter22", 1000));
    }
}
