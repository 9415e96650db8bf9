//! Mapping paths and field rules, as a source's config gives them
//! (`record_path`, `items_path`, `[source.fields]`), applied to arbitrary
//! JSON, as `CustomerService` does with every answer of a source.
//!
//! Input (text): rule lines, a NUL byte, then the JSON document (anything
//! that is not JSON is taken as one JSON string). A rule line is either a
//! bare path (`fields.fN = "path"`) or `type<TAB>path[<TAB>default JSON]`,
//! a leading `!` making the field required.
//!
//! Invariants:
//! - nothing panics, whatever the path or the document;
//! - a mapped record has only the configured fields, every required one,
//!   and each converted value has the shape its type promises (money: a
//!   string with two decimals; date: YYYY-MM-DD; ...);
//! - converting a converted value again changes nothing.

#![no_main]

use dialpop::customer::mapping::{Conversion, JsonPath, Mapping, convert};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const TYPES: [(&str, Conversion); 8] = [
    ("any", Conversion::Any),
    ("string", Conversion::String),
    ("number", Conversion::Number),
    ("integer", Conversion::Integer),
    ("bool", Conversion::Bool),
    ("date", Conversion::Date),
    ("datetime", Conversion::DateTime),
    ("money", Conversion::Money),
];

/// What a converted value must look like.
fn check_shape(v: &Value, to: Conversion) {
    let ok = match to {
        Conversion::Any => true,
        Conversion::String => v.is_string(),
        Conversion::Number => v.is_number(),
        Conversion::Integer => v.is_i64() || v.is_u64(),
        Conversion::Bool => v.is_boolean(),
        Conversion::Date => v.as_str().is_some_and(|s| {
            s.len() == 10
                && s.as_bytes()[0].is_ascii_digit()
                && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        }),
        Conversion::DateTime => v
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        Conversion::Money => v.as_str().is_some_and(|s| {
            let digits = s.strip_prefix('-').unwrap_or(s);
            let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == 2
                && frac.bytes().all(|b| b.is_ascii_digit())
        }),
    };
    assert!(ok, "{to:?} gave {v}");
}

fn check_convert(v: &Value) {
    for (_, to) in TYPES {
        if let Ok(once) = convert(v, to) {
            check_shape(&once, to);
            let twice = convert(&once, to);
            assert_eq!(twice.as_ref(), Ok(&once), "{to:?} is not stable on {v}");
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let (spec, doc) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b""[..]),
    };
    let doc: Value = serde_json::from_slice(doc)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(doc).into_owned()));
    let spec = String::from_utf8_lossy(spec);

    check_convert(&doc);

    let mut fields = Map::new();
    // (field, type, required, has a default)
    let mut rules = Vec::new();
    for (i, line) in spec.lines().enumerate().take(16) {
        let field = format!("f{i}");
        let (required, line) = match line.strip_prefix('!') {
            Some(l) => (true, l),
            None => (false, line),
        };
        let mut parts = line.splitn(3, '\t');
        let (ty, path, default) = match (parts.next(), parts.next(), parts.next()) {
            (Some(p), None, _) => (None, p, None),
            (Some(t), Some(p), d) => (Some(t), p, d),
            (None, ..) => continue,
        };
        // The path alone, as record_path / items_path are read.
        if let Ok(p) = path.parse::<JsonPath>() {
            let _ = p.to_string();
            if let Some(found) = p.get(&doc) {
                check_convert(&found);
            }
        }
        let spec = match (ty, required, default) {
            (None, false, _) => Value::String(path.to_string()),
            _ => {
                let mut t = json!({ "path": path });
                if let Some(ty) = ty {
                    t["type"] = Value::String(ty.to_string());
                }
                if required {
                    t["required"] = Value::Bool(true);
                }
                if let Some(d) = default {
                    t["default"] = serde_json::from_str(d)
                        .unwrap_or_else(|_| Value::String(d.to_string()));
                }
                t
            }
        };
        let conversion = match ty {
            None => Some(Conversion::Any),
            Some(t) => TYPES.iter().find(|(n, _)| *n == t).map(|(_, c)| *c),
        };
        rules.push((field.clone(), conversion, required, default.is_some()));
        fields.insert(field, spec);
    }

    let Ok(mapping) = Mapping::from_config(&fields) else {
        return;
    };
    // A rule list that parsed has only known types.
    assert!(rules.iter().all(|(_, c, ..)| c.is_some()));
    match mapping.apply("fuzz", &doc) {
        Ok(out) => {
            if rules.is_empty() {
                assert_eq!(Some(&out), doc.as_object(), "no rules: the record as it is");
                return;
            }
            for k in out.keys() {
                assert!(rules.iter().any(|(f, ..)| f == k), "unconfigured field {k}");
            }
            for (field, conversion, required, has_default) in &rules {
                match out.get(field) {
                    Some(v) if !has_default => {
                        check_shape(v, conversion.unwrap_or(Conversion::Any))
                    }
                    Some(_) => {}
                    None => assert!(!required || *has_default, "required {field} missing"),
                }
            }
        }
        Err(e) => {
            assert_eq!(e.source_name, "fuzz");
            assert!(rules.iter().any(|(f, ..)| *f == e.field) || e.field == "*");
            let _ = e.redacted();
        }
    }
});
