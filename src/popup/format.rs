//! Values as an agent reads them: money, numbers, dates and phone numbers
//! by locale. Pure; a value that does not fit its format is shown as it
//! came, never dropped.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;

/// The locales the screens are written for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// A BCP 47 tag as a browser gives it (`zh`, `zh-Hans-CN`, `en-GB`):
    /// the closest locale, English when none is close.
    pub fn from_tag(tag: &str) -> Locale {
        let t = tag.trim().to_ascii_lowercase();
        if t == "zh" || t.starts_with("zh-cn") || t.starts_with("zh-hans") || t.starts_with("zh-sg")
        {
            Locale::ZhCn
        } else {
            Locale::En
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// As it came.
    Text,
    /// Grouped digits.
    Number,
    /// A sum in the column's currency, two decimals.
    Money,
    /// A day.
    Date,
    /// A day and a time of day (UTC unless the template says).
    DateTime,
    /// An E.164 number, grouped the way its country writes it.
    Phone,
    /// Yes or no.
    Boolean,
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Decimal::from(i))
            } else {
                Decimal::from_str(&n.to_string())
                    .ok()
                    .or_else(|| n.as_f64().and_then(|f| Decimal::try_from(f).ok()))
            }
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// `1234567.5` → `1,234,567.50` (both locales group by thousands).
fn grouped(d: Decimal, decimals: Option<u32>) -> String {
    let d = match decimals {
        Some(n) => {
            d.round_dp_with_strategy(n, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        }
        None => d.normalize(),
    };
    let text = match decimals {
        Some(n) => format!("{:.*}", n as usize, d),
        None => d.to_string(),
    };
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn currency_symbol(code: &str, locale: Locale) -> Option<&'static str> {
    Some(match (code, locale) {
        ("CNY", Locale::ZhCn) => "¥",
        ("CNY", Locale::En) => "CN¥",
        ("USD", Locale::En) => "$",
        ("USD", Locale::ZhCn) => "US$",
        ("EUR", _) => "€",
        ("GBP", _) => "£",
        ("JPY", Locale::En) => "¥",
        ("JPY", Locale::ZhCn) => "JP¥",
        ("HKD", _) => "HK$",
        _ => return None,
    })
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        // Milliseconds since the epoch (dialpop's own times), or seconds
        // when the number is too small to be milliseconds of this era.
        Value::Number(n) => {
            let x = n.as_i64()?;
            if x.abs() < 100_000_000_000 {
                Utc.timestamp_opt(x, 0).single()
            } else {
                Utc.timestamp_millis_opt(x).single()
            }
        }
        Value::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                        .ok()
                        .map(|n| n.and_utc())
                })
                .or_else(|| {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|n| n.and_utc())
                })
        }
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn day(d: &DateTime<chrono_tz::Tz>, locale: Locale) -> String {
    use chrono::Datelike;
    match locale {
        Locale::En => format!("{} {}, {}", MONTHS[d.month0() as usize], d.day(), d.year()),
        Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// Options a template may give a column or field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormatOptions {
    /// ISO 4217, for money (without one, no symbol).
    pub currency: Option<String>,
    /// For dates and times.
    pub time_zone: Option<chrono_tz::Tz>,
}

/// The value as text. Null is empty; a value its format cannot read is
/// shown as it came.
pub fn show(v: &Value, format: Format, opts: &FormatOptions, locale: Locale) -> String {
    if v.is_null() {
        return String::new();
    }
    let raw = || match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match format {
        Format::Text => raw(),
        Format::Number => decimal(v).map_or_else(raw, |d| grouped(d, None)),
        Format::Money => match decimal(v) {
            None => raw(),
            Some(d) => {
                let digits = grouped(d.abs(), Some(2));
                let sign = if d.is_sign_negative() && !d.is_zero() {
                    "-"
                } else {
                    ""
                };
                match opts.currency.as_deref() {
                    None => format!("{sign}{digits}"),
                    Some(code) => match currency_symbol(code, locale) {
                        Some(sym) => format!("{sign}{sym}{digits}"),
                        None => format!("{sign}{code} {digits}"),
                    },
                }
            }
        },
        Format::Date | Format::DateTime => match instant(v) {
            None => raw(),
            Some(t) => {
                let tz = opts.time_zone.unwrap_or(chrono_tz::UTC);
                let t = t.with_timezone(&tz);
                let d = day(&t, locale);
                if format == Format::Date {
                    d
                } else {
                    format!("{d} {}", t.format("%H:%M"))
                }
            }
        },
        Format::Phone => match v {
            Value::String(s) => phonenumber::parse(None, s)
                .ok()
                .filter(phonenumber::is_valid)
                .map_or_else(raw, |n| {
                    n.format()
                        .mode(phonenumber::Mode::International)
                        .to_string()
                }),
            _ => raw(),
        },
        Format::Boolean => {
            let yes = match v {
                Value::Bool(b) => Some(*b),
                Value::Number(n) => n.as_i64().map(|i| i != 0),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "y" => Some(true),
                    "false" | "no" | "0" | "n" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match (yes, locale) {
                (None, _) => raw(),
                (Some(true), Locale::En) => "Yes".into(),
                (Some(false), Locale::En) => "No".into(),
                (Some(true), Locale::ZhCn) => "是".into(),
                (Some(false), Locale::ZhCn) => "否".into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn money(v: Value, cur: &str, l: Locale) -> String {
        let o = FormatOptions {
            currency: Some(cur.into()),
            ..Default::default()
        };
        show(&v, Format::Money, &o, l)
    }

    #[test]
    fn money_keeps_exact_decimals_and_the_locale_symbol() {
        assert_eq!(
            money(json!("1234567.005"), "CNY", Locale::ZhCn),
            "¥1,234,567.01"
        );
        assert_eq!(money(json!(12.5), "USD", Locale::En), "$12.50");
        assert_eq!(money(json!(-999), "USD", Locale::ZhCn), "-US$999.00");
        assert_eq!(money(json!("0.10"), "CHF", Locale::En), "CHF 0.10");
        // Not a sum: shown as it came.
        assert_eq!(money(json!("n/a"), "USD", Locale::En), "n/a");
    }

    #[test]
    fn numbers_group_and_keep_their_decimals() {
        let o = FormatOptions::default();
        assert_eq!(show(&json!(1234), Format::Number, &o, Locale::En), "1,234");
        assert_eq!(
            show(&json!("-12345.678"), Format::Number, &o, Locale::ZhCn),
            "-12,345.678"
        );
        assert_eq!(show(&json!(100), Format::Number, &o, Locale::En), "100");
        assert_eq!(show(&Value::Null, Format::Number, &o, Locale::En), "");
    }

    #[test]
    fn dates_by_locale_and_time_zone() {
        let mut o = FormatOptions::default();
        let v = json!("2026-03-05T23:30:00Z");
        assert_eq!(show(&v, Format::Date, &o, Locale::En), "Mar 5, 2026");
        assert_eq!(show(&v, Format::Date, &o, Locale::ZhCn), "2026年3月5日");
        o.time_zone = Some(chrono_tz::Asia::Shanghai);
        assert_eq!(
            show(&v, Format::DateTime, &o, Locale::ZhCn),
            "2026年3月6日 07:30"
        );
        // dialpop's own milliseconds, and plain days.
        assert_eq!(
            show(&json!(1_772_755_200_000_i64), Format::Date, &o, Locale::En),
            "Mar 6, 2026"
        );
        assert_eq!(
            show(
                &json!("2025-12-31"),
                Format::Date,
                &FormatOptions::default(),
                Locale::En
            ),
            "Dec 31, 2025"
        );
        assert_eq!(show(&json!("soon"), Format::Date, &o, Locale::En), "soon");
    }

    #[test]
    fn phones_are_grouped_by_their_country() {
        let o = FormatOptions::default();
        assert_eq!(
            show(&json!("+8613800138000"), Format::Phone, &o, Locale::ZhCn),
            "+86 138 0013 8000"
        );
        assert_eq!(
            show(&json!("+12127363100"), Format::Phone, &o, Locale::En),
            "+1 212-736-3100"
        );
        assert_eq!(show(&json!("12"), Format::Phone, &o, Locale::En), "12");
    }

    #[test]
    fn browser_tags_find_the_closest_locale() {
        assert_eq!(Locale::from_tag("zh-CN"), Locale::ZhCn);
        assert_eq!(Locale::from_tag("zh-Hans-CN"), Locale::ZhCn);
        assert_eq!(Locale::from_tag("zh"), Locale::ZhCn);
        assert_eq!(Locale::from_tag("en-GB"), Locale::En);
        assert_eq!(Locale::from_tag("fr"), Locale::En);
    }
}
