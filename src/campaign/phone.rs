//! Customer numbers in one form (E.164), so that the do-not-call list, the
//! idempotency of imports and the dial string all see the same number
//! however it was written.

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};

/// A number normalised for a campaign's region, with its parsed form (for
/// the number's time zone).
pub struct Normalised {
    pub e164: String,
    pub parsed: PhoneNumber,
}

/// Normalises `raw` (national numbers are read in `region`), or says why it
/// is not a number that can be called.
pub fn normalise(raw: &str, region: Id) -> Result<Normalised, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is empty".into());
    }
    if raw.len() > 40 {
        return Err("is longer than 40 characters".into());
    }
    // Letters (vanity numbers, extensions, SIP URIs) are refused rather
    // than guessed at.
    if let Some(c) = raw
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')')))
    {
        return Err(format!("contains {c:?}"));
    }
    // A number with its country code is read without the region:
    // phonenumber 0.3 reads "+33 1 ..." with region US as if the 1 after
    // the country code were the US trunk prefix, and drops it.
    let default = (!raw.starts_with('+')).then_some(region);
    let parsed =
        phonenumber::parse(default, raw).map_err(|e| format!("is not a number: {e}"))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(format!(
            "is not a valid number (read with region {})",
            region.as_ref()
        ));
    }
    let e164 = parsed.format().mode(Mode::E164).to_string();
    Ok(Normalised { e164, parsed })
}

/// A region by its ISO 3166 code (`US`, `fr`).
pub fn region(code: &str) -> Option<Id> {
    code.trim().to_ascii_uppercase().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_one_form() {
        let us = region("us").unwrap();
        assert_eq!(normalise("(212) 736-5000", us).unwrap().e164, "+12127365000");
        assert_eq!(normalise("+33 1 42 68 53 00", us).unwrap().e164, "+33142685300");
        let fr = region("FR").unwrap();
        assert_eq!(normalise("01 42 68 53 00", fr).unwrap().e164, "+33142685300");
        assert_eq!(normalise("+44 20 7946 0958", fr).unwrap().e164, "+442079460958");
        for bad in ["", "12", "+1 555", "1555;x", "sip:1@x", "+999 12345678", "0800 CALL NOW"] {
            assert!(normalise(bad, us).is_err(), "{bad:?}");
        }
        assert!(region("XX").is_none());
    }
}
