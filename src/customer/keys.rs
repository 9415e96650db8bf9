//! The keys a customer is found by, normalised so that two spellings of one
//! phone number or e-mail address are one key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which key a source is queried by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    CustomerId,
    Phone,
    Email,
}

impl KeyKind {
    pub fn name(&self) -> &'static str {
        match self {
            KeyKind::CustomerId => "customer_id",
            KeyKind::Phone => "phone",
            KeyKind::Email => "email",
        }
    }
}

/// Everything known about the customer before any source is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lookup {
    pub customer_id: Option<String>,
    /// E.164 (`+14155550123`), when the number could be parsed.
    pub phone: Option<String>,
    /// The number as the task gave it.
    pub phone_raw: Option<String>,
    /// Trimmed, lower case.
    pub email: Option<String>,
    /// `campaign_id`, `task_id` and the task's variables (`var.NAME`).
    pub vars: BTreeMap<String, String>,
}

impl Lookup {
    /// A lookup from raw values; the phone is read in `region` (ISO 3166
    /// alpha-2) when it has no leading `+`.
    pub fn new(
        customer_id: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
        region: &str,
    ) -> Lookup {
        let customer_id = customer_id.map(str::trim).filter(|s| !s.is_empty());
        let phone_raw = phone.map(str::trim).filter(|s| !s.is_empty());
        Lookup {
            customer_id: customer_id.map(str::to_string),
            phone: phone_raw.and_then(|p| normalize_phone(p, region)),
            phone_raw: phone_raw.map(str::to_string),
            email: email.and_then(normalize_email),
            vars: BTreeMap::new(),
        }
    }

    pub fn key(&self, kind: KeyKind) -> Option<&str> {
        match kind {
            KeyKind::CustomerId => self.customer_id.as_deref(),
            KeyKind::Phone => self.phone.as_deref(),
            KeyKind::Email => self.email.as_deref(),
        }
    }

    /// A parameter by name (see `Query::param`).
    pub fn param(&self, name: &str) -> Option<&str> {
        match name {
            "customer_id" => self.customer_id.as_deref(),
            "phone" => self.phone.as_deref(),
            "phone_raw" => self.phone_raw.as_deref(),
            "email" => self.email.as_deref(),
            other => self.vars.get(other).map(String::as_str),
        }
    }

    /// Takes the keys it lacks from a customer record's `id`, `phone` and
    /// `email` fields; whether it learned any.
    pub fn learn_keys(
        &mut self,
        fields: &serde_json::Map<String, serde_json::Value>,
        region: &str,
    ) -> bool {
        use serde_json::Value;
        let mut learned = false;
        if self.customer_id.is_none() {
            self.customer_id = fields
                .get("id")
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty());
            learned |= self.customer_id.is_some();
        }
        if self.phone.is_none() {
            self.phone = fields
                .get("phone")
                .and_then(Value::as_str)
                .and_then(|p| normalize_phone(p, region));
            learned |= self.phone.is_some();
        }
        if self.email.is_none() {
            self.email = fields
                .get("email")
                .and_then(Value::as_str)
                .and_then(normalize_email);
            learned |= self.email.is_some();
        }
        learned
    }

    /// Whether this lookup names `key` in any of its forms (for cache
    /// invalidation by whatever key the operator has at hand).
    pub fn matches(&self, key: &str, region: &str) -> bool {
        let key = key.trim();
        self.customer_id.as_deref() == Some(key)
            || (self.phone.is_some() && self.phone == normalize_phone(key, region))
            || (self.email.is_some() && self.email == normalize_email(key))
    }
}

/// E.164, or `None` when it is not a phone number (too short, letters).
pub fn normalize_phone(raw: &str, region: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty()
        || !raw
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +-().".contains(&b))
    {
        return None;
    }
    let country = region.parse::<phonenumber::country::Id>().ok();
    match phonenumber::parse(country, raw) {
        Ok(n) => Some(n.format().mode(phonenumber::Mode::E164).to_string()),
        // A number the library cannot place (a short internal extension, a
        // test range) is still one key: its digits, as written.
        Err(_) => {
            let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
            (!digits.is_empty()).then(|| {
                if raw.starts_with('+') {
                    format!("+{digits}")
                } else {
                    digits
                }
            })
        }
    }
}

pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim();
    (e.len() >= 3 && e.contains('@') && !e.chars().any(char::is_control)).then(|| e.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_several_spellings_are_one_key() {
        let a = normalize_phone("+1 (415) 555-0123", "US");
        let b = normalize_phone("415-555-0123", "US");
        let c = normalize_phone("+14155550123", "DE");
        assert_eq!(a.as_deref(), Some("+14155550123"));
        assert_eq!(a, b);
        assert_eq!(a, c);
        // A German number read in Germany, written nationally.
        assert_eq!(
            normalize_phone("030 1234567", "DE").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(normalize_phone("call me", "US"), None);
        assert_eq!(normalize_phone("1'; DROP", "US"), None);
    }

    #[test]
    fn emails_compare_without_case() {
        assert_eq!(
            normalize_email("  Ana.Lima@Example.COM ").as_deref(),
            Some("ana.lima@example.com")
        );
        assert_eq!(normalize_email("nope"), None);
        assert_eq!(normalize_email("a@b\r\nX: y"), None);
    }

    #[test]
    fn a_lookup_matches_any_of_its_keys() {
        let l = Lookup::new(
            Some("C-1"),
            Some("+1 415 555 0123"),
            Some("Ana@Example.com"),
            "US",
        );
        assert!(l.matches("C-1", "US"));
        assert!(l.matches("(415) 555-0123", "US"));
        assert!(l.matches("ana@example.com", "US"));
        assert!(!l.matches("C-2", "US"));
        assert!(!l.matches("+14155550124", "US"));
    }
}
