//! Conversions: the type a field's value is converted to, and the
//! conversion itself, dates and amounts included.

use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// How a value is converted into dialpop's field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// As the source has it.
    Any,
    String,
    Number,
    Integer,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 in UTC.
    DateTime,
    /// An exact decimal string with two places (`"1234.50"`): never a
    /// float, so cents are never lost.
    Money,
}

impl FromStr for Conversion {
    type Err = String;
    fn from_str(s: &str) -> Result<Conversion, String> {
        Ok(match s {
            "any" => Conversion::Any,
            "string" => Conversion::String,
            "number" => Conversion::Number,
            "integer" => Conversion::Integer,
            "bool" => Conversion::Bool,
            "date" => Conversion::Date,
            "datetime" => Conversion::DateTime,
            "money" => Conversion::Money,
            other => {
                return Err(format!(
                    "unknown type {other:?} (string, number, integer, bool, date, datetime, money, any)"
                ));
            }
        })
    }
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Converts one value; the error says what was expected.
pub fn convert(v: &Value, to: Conversion) -> Result<Value, String> {
    let bad = |want: &str| format!("expected {want}, found {}", kind_of(v));
    match to {
        Conversion::Any => Ok(v.clone()),
        Conversion::String => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(bad("a string")),
        },
        Conversion::Number => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(i) = s.parse::<i64>() {
                    return Ok(i.into());
                }
                s.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| "expected a number".to_string())
            }
            _ => Err(bad("a number")),
        },
        Conversion::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok((f as i64).into()),
                _ => Err("expected a whole number".into()),
            },
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "expected a whole number".into()),
            _ => Err(bad("a whole number")),
        },
        Conversion::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Ok(false.into()),
                Some(1) => Ok(true.into()),
                _ => Err("expected 0 or 1".into()),
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "t" | "on" => Ok(true.into()),
                "false" | "no" | "n" | "0" | "f" | "off" | "" => Ok(false.into()),
                _ => Err("expected true/false, yes/no or 1/0".into()),
            },
            _ => Err(bad("a bool")),
        },
        // YYYY-MM-DD and RFC 3339 have four-digit years; chrono writes the
        // others with a sign (`+33656-03-15`), which neither is.
        Conversion::Date => parse_time(v)
            .and_then(|t| {
                let four_digits =
                    t.date_text.len() == 10 && t.date_text.as_bytes()[0].is_ascii_digit();
                four_digits.then_some(t.date_text).ok_or(YEARS)
            })
            .map(Value::String)
            .map_err(|e| e.to_string()),
        Conversion::DateTime => parse_time(v)
            .and_then(|t| t.utc.ok_or("expected a date with a time"))
            .and_then(|u| {
                use chrono::Datelike;
                (0..=9999).contains(&u.year()).then_some(u).ok_or(YEARS)
            })
            .map(|u| Value::String(u.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
            .map_err(|e| e.to_string()),
        Conversion::Money => {
            let d = match v {
                Value::Number(n) => Decimal::from_str(&n.to_string())
                    .or_else(|_| Decimal::from_scientific(&n.to_string()))
                    .map_err(|_| "expected an amount".to_string())?,
                Value::String(s) => {
                    let t = s.trim();
                    Decimal::from_str(t).map_err(|_| {
                        "expected an amount like 1234.50 (digits, optional sign and decimal point)"
                            .to_string()
                    })?
                }
                _ => return Err(bad("an amount")),
            };
            let d =
                d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            Ok(Value::String(format!("{d:.2}")))
        }
    }
}

const YEARS: &str = "expected a date in the years 0000 to 9999";

struct Parsed {
    /// The calendar date as written (in the value's own offset).
    date_text: String,
    utc: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_time(v: &Value) -> Result<Parsed, &'static str> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
    let from_utc = |u: DateTime<Utc>| Parsed {
        date_text: u.format("%Y-%m-%d").to_string(),
        utc: Some(u),
    };
    match v {
        // Unix time: seconds, or milliseconds when it is too large to be
        // seconds (after the year 5138).
        Value::Number(n) => {
            let f = n.as_f64().ok_or("expected a date")?;
            let ms = if f.abs() >= 1.0e11 { f } else { f * 1000.0 };
            Utc.timestamp_millis_opt(ms as i64)
                .single()
                .map(from_utc)
                .ok_or("expected a date (unix time out of range)")
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Ok(Parsed {
                    date_text: t.format("%Y-%m-%d").to_string(),
                    utc: Some(t.with_timezone(&Utc)),
                });
            }
            for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return Ok(from_utc(t.and_utc()));
                }
            }
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                return Ok(Parsed {
                    date_text: d.format("%Y-%m-%d").to_string(),
                    utc: d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
                });
            }
            Err("expected a date (RFC 3339, YYYY-MM-DD, or unix time)")
        }
        _ => Err("expected a date"),
    }
}
