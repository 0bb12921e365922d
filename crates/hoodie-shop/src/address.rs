//! Postal addresses as Saleor's checkout forms take them, validated as Saleor did for the
//! US: the state code must exist and the ZIP code must belong to it (`OH` with `44111`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The address fields of Saleor's forms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub street_address_1: String,
    pub street_address_2: String,
    pub city: String,
    pub city_area: String,
    pub postal_code: String,
    pub country: String,
    pub country_area: String,
    pub phone: String,
}

/// Errors by field name, as a Django form keeps them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Three-digit ZIP prefixes of each state (inclusive ranges).
const US_ZIP_PREFIXES: &[(&str, &[(u16, u16)])] = &[
    ("AL", &[(350, 369)]),
    ("AK", &[(995, 999)]),
    ("AZ", &[(850, 865)]),
    ("AR", &[(716, 729)]),
    ("CA", &[(900, 961)]),
    ("CO", &[(800, 816)]),
    ("CT", &[(60, 69)]),
    ("DE", &[(197, 199)]),
    ("DC", &[(200, 205), (569, 569)]),
    ("FL", &[(320, 349)]),
    ("GA", &[(300, 319), (398, 399)]),
    ("HI", &[(967, 968)]),
    ("ID", &[(832, 838)]),
    ("IL", &[(600, 629)]),
    ("IN", &[(460, 479)]),
    ("IA", &[(500, 528)]),
    ("KS", &[(660, 679)]),
    ("KY", &[(400, 427)]),
    ("LA", &[(700, 714)]),
    ("ME", &[(39, 49)]),
    ("MD", &[(206, 219)]),
    ("MA", &[(10, 27), (55, 55)]),
    ("MI", &[(480, 499)]),
    ("MN", &[(550, 567)]),
    ("MS", &[(386, 397)]),
    ("MO", &[(630, 658)]),
    ("MT", &[(590, 599)]),
    ("NE", &[(680, 693)]),
    ("NV", &[(889, 898)]),
    ("NH", &[(30, 38)]),
    ("NJ", &[(70, 89)]),
    ("NM", &[(870, 884)]),
    ("NY", &[(100, 149), (5, 5), (63, 63)]),
    ("NC", &[(270, 289)]),
    ("ND", &[(580, 588)]),
    ("OH", &[(430, 459)]),
    ("OK", &[(730, 749)]),
    ("OR", &[(970, 979)]),
    ("PA", &[(150, 196)]),
    ("RI", &[(28, 29)]),
    ("SC", &[(290, 299)]),
    ("SD", &[(570, 577)]),
    ("TN", &[(370, 385)]),
    ("TX", &[(750, 799), (885, 885)]),
    ("UT", &[(840, 847)]),
    ("VT", &[(50, 59)]),
    ("VA", &[(220, 246), (201, 201)]),
    ("WA", &[(980, 994)]),
    ("WV", &[(247, 268)]),
    ("WI", &[(530, 549)]),
    ("WY", &[(820, 831)]),
];

impl Address {
    /// Reads the fields from a posted form.
    pub fn from_form(form: &crate::form::Form) -> Self {
        let f = |k: &str| form.get(k).trim().to_owned();
        Address {
            first_name: f("first_name"),
            last_name: f("last_name"),
            company_name: f("company_name"),
            street_address_1: f("street_address_1"),
            street_address_2: f("street_address_2"),
            city: f("city"),
            city_area: f("city_area"),
            postal_code: f("postal_code"),
            country: f("country").to_uppercase(),
            country_area: f("country_area").to_uppercase(),
            phone: f("phone"),
        }
    }

    /// Django-style field errors; empty when the address is valid.
    pub fn validate(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let mut err = |field: &str, msg: &str| {
            errors
                .entry(field.to_owned())
                .or_default()
                .push(msg.to_owned());
        };
        for (field, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("street_address_1", &self.street_address_1),
            ("city", &self.city),
            ("country", &self.country),
        ] {
            if value.is_empty() {
                err(field, "This field is required.");
            } else if value.chars().count() > 256 {
                err(field, "Ensure this value has at most 256 characters.");
            }
        }
        if !self.country.is_empty()
            && (self.country.len() != 2 || !self.country.chars().all(|c| c.is_ascii_uppercase()))
        {
            err(
                "country",
                "Select a valid choice. That choice is not one of the available choices.",
            );
        }
        if !self.phone.is_empty() {
            let digits = self.phone.chars().filter(char::is_ascii_digit).count();
            if !(7..=15).contains(&digits)
                || self
                    .phone
                    .chars()
                    .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
            {
                err("phone", "Enter a valid phone number.");
            }
        }
        if self.country == "US" {
            let zip = self.postal_code.split('-').next().unwrap_or("");
            match US_ZIP_PREFIXES
                .iter()
                .find(|(s, _)| *s == self.country_area)
            {
                None if self.country_area.is_empty() => {
                    err("country_area", "This field is required.");
                }
                None => err("country_area", "This value is not valid for the address."),
                Some((_, ranges)) => {
                    if self.postal_code.is_empty() {
                        err("postal_code", "This field is required.");
                    } else if zip.len() != 5 || !zip.chars().all(|c| c.is_ascii_digit()) {
                        err("postal_code", "This value is not valid for the address.");
                    } else {
                        let prefix: u16 = zip[..3].parse().unwrap_or(0);
                        if !ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&prefix)) {
                            err("postal_code", "This value is not valid for the address.");
                        }
                    }
                }
            }
        }
        errors
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    /// One line for pages: "Jane Doe, 1 Main St, Sandusky, OH 44870, US".
    pub fn one_line(&self) -> String {
        format!(
            "{} {}, {}, {}, {} {}, {}",
            self.first_name,
            self.last_name,
            self.street_address_1,
            self.city,
            self.country_area,
            self.postal_code,
            self.country
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ohio() -> Address {
        Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            street_address_1: "1 Main St".into(),
            city: "Cleveland".into(),
            postal_code: "44111".into(),
            country: "US".into(),
            country_area: "OH".into(),
            ..Default::default()
        }
    }

    #[test]
    fn state_and_zip_must_agree() {
        assert!(ohio().validate().is_empty());
        let wrong_zip = Address {
            postal_code: "90210".into(),
            ..ohio()
        };
        assert!(wrong_zip.validate().contains_key("postal_code"));
        let bad_state = Address {
            country_area: "XX".into(),
            ..ohio()
        };
        assert!(bad_state.validate().contains_key("country_area"));
        let missing = Address {
            first_name: String::new(),
            ..ohio()
        };
        assert_eq!(
            missing.validate()["first_name"],
            vec!["This field is required."]
        );
    }
}
