//! Fake data for forms: names and passwords from the `fake` crate, emails that are unique
//! for the whole run, and US addresses whose state and ZIP code agree (Saleor validates it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use fake::faker::address::en::{BuildingNumber, StreetName};
use fake::faker::internet::en::Password;
use fake::faker::name::en::{FirstName, LastName};
use fake::Fake;
use rand::seq::IndexedRandom;

static COUNTER: AtomicU64 = AtomicU64::new(0);
static RUN_TAG: OnceLock<String> = OnceLock::new();

/// A short tag for this process, so two runs against one database never collide either.
fn run_tag() -> &'static str {
    RUN_TAG.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("{:x}{:x}", t % 0xffff_ffff, std::process::id() % 0xfff)
    })
}

/// A plausible first name (Faker's `first_name`).
pub fn first_name() -> String {
    FirstName().fake()
}

/// A plausible last name (Faker's `last_name`).
pub fn last_name() -> String {
    LastName().fake()
}

/// A password of 10 to 16 characters.
pub fn password() -> String {
    Password(10..17).fake()
}

/// An email no other call in this run (or another run) returns: `jane.doe.17.k3x9@example.com`.
pub fn unique_email() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let first: String = first_name();
    let last: String = last_name();
    let clean = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    format!(
        "{}.{}.{n}.{}@example.com",
        clean(&first),
        clean(&last),
        run_tag()
    )
}

/// A US postal address in Saleor's field names.
#[derive(Clone, Debug, PartialEq)]
pub struct UsAddress {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// House number and street.
    pub street_address_1: String,
    /// City.
    pub city: String,
    /// The state's two-letter code (Saleor's `country_area`).
    pub country_area: String,
    /// ZIP code.
    pub postal_code: String,
    /// `US`.
    pub country: String,
    /// A phone number in E.164 form (`+1...`).
    pub phone: String,
}

impl UsAddress {
    /// The same street and person in another city: `.in_place("Cleveland", "OH", "44111")`.
    pub fn in_place(mut self, city: &str, state: &str, postal_code: &str) -> Self {
        (self.city, self.country_area, self.postal_code) =
            (city.to_owned(), state.to_owned(), postal_code.to_owned());
        self
    }

    /// The fields as a form posts them.
    pub fn form_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("first_name", self.first_name.clone()),
            ("last_name", self.last_name.clone()),
            ("company_name", String::new()),
            ("street_address_1", self.street_address_1.clone()),
            ("street_address_2", String::new()),
            ("city", self.city.clone()),
            ("city_area", String::new()),
            ("postal_code", self.postal_code.clone()),
            ("country", self.country.clone()),
            ("country_area", self.country_area.clone()),
            ("phone", self.phone.clone()),
        ]
    }
}

/// Real city, state and ZIP triples: a random street in them is a valid address.
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("Sandusky", "OH", "44870", "419"),
    ("Cleveland", "OH", "44111", "216"),
    ("Columbus", "OH", "43215", "614"),
    ("Ann Arbor", "MI", "48104", "734"),
    ("Detroit", "MI", "48226", "313"),
    ("Chicago", "IL", "60601", "312"),
    ("Indianapolis", "IN", "46204", "317"),
    ("Pittsburgh", "PA", "15213", "412"),
    ("Nashville", "TN", "37203", "615"),
    ("Austin", "TX", "78701", "512"),
    ("Denver", "CO", "80202", "303"),
    ("Seattle", "WA", "98101", "206"),
    ("Portland", "OR", "97201", "503"),
    ("Boston", "MA", "02108", "617"),
    ("Atlanta", "GA", "30303", "404"),
];

/// A US address; the workshop used Ohio with `44111`.
pub fn us_address() -> UsAddress {
    let (city, state, zip, area) = *PLACES
        .choose(&mut rand::rng())
        .expect("PLACES is not empty");
    let number: String = BuildingNumber().fake();
    let street: String = StreetName().fake();
    let line: u32 = (1000..9999u32).fake();
    UsAddress {
        first_name: first_name(),
        last_name: last_name(),
        street_address_1: format!("{number} {street}"),
        city: city.to_owned(),
        country_area: state.to_owned(),
        postal_code: zip.to_owned(),
        country: "US".to_owned(),
        phone: format!("+1{area}555{line:04}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_unique_and_plausible() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let e = unique_email();
            assert!(e.ends_with("@example.com") && e.is_ascii(), "{e}");
            assert!(seen.insert(e));
        }
    }

    #[test]
    fn addresses_have_us_fields() {
        let a = us_address();
        assert_eq!(a.country, "US");
        assert_eq!(a.country_area.len(), 2);
        assert_eq!(a.postal_code.len(), 5);
        assert!(
            a.phone.starts_with("+1") && a.phone.len() == 12,
            "{}",
            a.phone
        );
    }
}
