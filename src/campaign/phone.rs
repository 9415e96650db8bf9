//! Customer numbers in one form (E.164), so that the do-not-call list, the
//! idempotency of imports and the dial string all see the same number
//! however it was written.

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};

/// A number normalised for a campaign's region, with the region it
/// belongs to (for its time zone).
pub struct Normalised {
    pub e164: String,
    pub region: Option<Id>,
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
    let parsed = phonenumber::parse(default, raw).map_err(|e| format!("is not a number: {e}"))?;
    let invalid = || {
        format!(
            "is not a valid number (read with region {})",
            region.as_ref()
        )
    };
    let (valid, found) = check(&parsed);
    if !valid {
        return Err(invalid());
    }
    let e164 = parsed.format().mode(Mode::E164).to_string();
    Ok(Normalised {
        e164,
        region: found,
    })
}

/// Whether the number is valid, and its region, with the number's
/// patterns matched as few times as possible: they are most of an import's
/// work, and phonenumber matches them through one regex cache behind one
/// lock, so more threads do not help. `is_valid` and `country().id()` each
/// find the region, and for a country code several regions share (+1),
/// finding it is testing the number against each region's patterns, which
/// for a region chosen that way (not by leading digits) is the validity
/// test itself. Elsewhere `is_valid` decides. A test holds this to
/// `is_valid` over numbers of shared and unshared codes.
fn check(n: &PhoneNumber) -> (bool, Option<Id>) {
    let db = &*phonenumber::metadata::DATABASE;
    let shared = db.region(&n.code().value()).is_some_and(|r| r.len() > 1);
    // `metadata` reads the national number without its leading zeros
    // (Italy's), so the shortcut is for numbers that have none.
    if shared
        && n.national().zeros() == 0
        && let Some(meta) = n.metadata(db)
        && meta.leading_digits().is_none()
    {
        return (true, meta.id().parse().ok());
    }
    let valid = phonenumber::is_valid(n);
    (valid, if valid { n.country().id() } else { None })
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
        assert_eq!(
            normalise("(212) 736-5000", us).unwrap().e164,
            "+12127365000"
        );
        assert_eq!(
            normalise("+33 1 42 68 53 00", us).unwrap().e164,
            "+33142685300"
        );
        let fr = region("FR").unwrap();
        assert_eq!(
            normalise("01 42 68 53 00", fr).unwrap().e164,
            "+33142685300"
        );
        assert_eq!(
            normalise("+44 20 7946 0958", fr).unwrap().e164,
            "+442079460958"
        );
        for bad in [
            "",
            "12",
            "+1 555",
            "1555;x",
            "sip:1@x",
            "+999 12345678",
            "0800 CALL NOW",
        ] {
            assert!(normalise(bad, us).is_err(), "{bad:?}");
        }
        assert!(region("XX").is_none());
    }

    #[test]
    fn the_shortcut_agrees_with_is_valid() {
        let samples = [
            "+12127365000",
            "+12125550143",
            "+15551234567",
            "+12120000000",
            "+18765550123",
            "+18762345678",
            "+14165550199",
            "+14162345678",
            "+16135550000",
            "+19005550000",
            "+18005550199",
            "+17875550100",
            "+74951234567",
            "+77012345678",
            "+77172345678",
            "+79991234567",
            "+70001234567",
            "+442079460958",
            "+447700900123",
            "+441481234567",
            "+441624612345",
            "+440000000000",
            "+390612345678",
            "+390669812345",
            "+393123456789",
            "+262262123456",
            "+262269612345",
            "+33142685300",
            "+33612345678",
            "+33000000000",
            "+4930123456",
            "+819012345678",
            "+61212345678",
            "+61891621234",
            "+358912345678",
            "+35818123456",
            "+5999123456",
        ];
        let mut compared = 0;
        for s in samples {
            // Some do not even parse; they never reach the shortcut.
            let Ok(n) = phonenumber::parse(None, s) else {
                continue;
            };
            compared += 1;
            let (valid, region) = check(&n);
            assert_eq!(valid, phonenumber::is_valid(&n), "{s}");
            if valid {
                assert_eq!(region, n.country().id(), "{s}");
            }
        }
        assert!(compared >= 30, "{compared}");
    }
}
