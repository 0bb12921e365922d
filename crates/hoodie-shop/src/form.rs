//! A posted form, decoded leniently: a malformed body is an empty form, which then fails
//! validation with field errors instead of a 500 or a bare 4xx.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The field's value, or "" when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}
