//! Field mapping: where each of dialpop's customer fields is inside a
//! source's answer, and how its value is converted. Pure functions over
//! JSON: the drivers turn rows and bodies into JSON first.

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// A path into a JSON document: `Account.Name`, `Contacts[0].Email`,
/// `items[*].id` (every element), `['odd.key']`. Empty or `$`: the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Every,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.text.is_empty() {
            "$"
        } else {
            &self.text
        })
    }
}

impl FromStr for JsonPath {
    type Err = String;

    fn from_str(text: &str) -> Result<JsonPath, String> {
        let t = text.trim();
        let body = t.strip_prefix('$').unwrap_or(t);
        let body = body.strip_prefix('.').unwrap_or(body);
        let mut steps = Vec::new();
        let mut rest = body;
        let mut expect_key = true;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let close = r
                    .find(']')
                    .ok_or_else(|| format!("path {text:?}: `[` without `]`"))?;
                let inner = &r[..close];
                rest = &r[close + 1..];
                if inner == "*" {
                    steps.push(Step::Every);
                } else if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    steps.push(Step::Key(q.to_string()));
                } else {
                    let n = inner.parse::<usize>().map_err(|_| {
                        format!("path {text:?}: `[{inner}]` is not an index, * or a quoted key")
                    })?;
                    steps.push(Step::Index(n));
                }
                expect_key = false;
            } else if let Some(r) = rest.strip_prefix('.') {
                if expect_key {
                    return Err(format!("path {text:?}: empty key"));
                }
                rest = r;
                expect_key = true;
                if rest.is_empty() {
                    return Err(format!("path {text:?}: ends with `.`"));
                }
            } else {
                if !expect_key {
                    return Err(format!("path {text:?}: `.` expected before {rest:?}"));
                }
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                steps.push(Step::Key(rest[..end].to_string()));
                rest = &rest[end..];
                expect_key = false;
            }
        }
        Ok(JsonPath {
            text: body.to_string(),
            steps,
        })
    }
}

impl JsonPath {
    /// The value at the path; `None` when some step is missing. With `[*]`
    /// the values found under each element are collected into an array.
    pub fn get(&self, doc: &Value) -> Option<Value> {
        fn walk(v: &Value, steps: &[Step]) -> Option<Value> {
            let Some((first, rest)) = steps.split_first() else {
                return Some(v.clone());
            };
            match first {
                Step::Key(k) => walk(v.as_object()?.get(k)?, rest),
                Step::Index(i) => walk(v.as_array()?.get(*i)?, rest),
                Step::Every => Some(Value::Array(
                    v.as_array()?.iter().filter_map(|e| walk(e, rest)).collect(),
                )),
            }
        }
        walk(doc, &self.steps)
    }
}

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

/// A mapping failure: the source, the field, the path and the value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("source {source_name}: field {field}: path {path}: {problem} (value {value})")]
pub struct MappingError {
    pub source_name: String,
    pub field: String,
    pub path: String,
    /// The offending value, as JSON (shown to whoever runs a connection
    /// test; `redacted` leaves it out, for logs and pops).
    pub value: String,
    pub problem: String,
}

impl MappingError {
    /// The error without the value, which may be personal data.
    pub fn redacted(&self) -> String {
        format!(
            "source {}: field {}: path {}: {}",
            self.source_name, self.field, self.path, self.problem
        )
    }
}

#[derive(Clone, Debug)]
struct FieldRule {
    field: String,
    path: JsonPath,
    conversion: Conversion,
    default: Option<Value>,
    required: bool,
}

/// One source's fields. With no rule at all, every top-level key of the
/// record is taken as it is (a SQL query's columns are usually named for
/// their fields already).
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    rules: Vec<FieldRule>,
}

impl Mapping {
    /// From a source's `fields` table; errors name the field.
    pub fn from_config(fields: &Map<String, Value>) -> Result<Mapping, String> {
        let mut rules = Vec::new();
        for (field, spec) in fields {
            if field.is_empty()
                || !field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(format!(
                    "fields.{field}: a field name is letters, digits and _"
                ));
            }
            let rule = match spec {
                Value::String(p) => FieldRule {
                    field: field.clone(),
                    path: p.parse().map_err(|e| format!("fields.{field}: {e}"))?,
                    conversion: Conversion::Any,
                    default: None,
                    required: false,
                },
                Value::Object(t) => {
                    for k in t.keys() {
                        if !["path", "type", "default", "required"].contains(&k.as_str()) {
                            return Err(format!(
                                "fields.{field}: unknown key {k:?} (path, type, default, required)"
                            ));
                        }
                    }
                    let path = t
                        .get("path")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("fields.{field}: `path` (a string) is needed"))?;
                    let conversion = match t.get("type") {
                        None => Conversion::Any,
                        Some(Value::String(s)) => {
                            s.parse().map_err(|e| format!("fields.{field}.type: {e}"))?
                        }
                        Some(_) => return Err(format!("fields.{field}.type: must be a string")),
                    };
                    let required = match t.get("required") {
                        None => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => return Err(format!("fields.{field}.required: must be a bool")),
                    };
                    FieldRule {
                        field: field.clone(),
                        path: path.parse().map_err(|e| format!("fields.{field}: {e}"))?,
                        conversion,
                        default: t.get("default").cloned(),
                        required,
                    }
                }
                _ => {
                    return Err(format!(
                        "fields.{field}: a path string or a table with `path`"
                    ));
                }
            };
            rules.push(rule);
        }
        Ok(Mapping { rules })
    }

    /// Maps one record (a JSON object, or whatever `record_path` led to).
    pub fn apply(&self, source: &str, doc: &Value) -> Result<Map<String, Value>, MappingError> {
        if self.rules.is_empty() {
            return match doc {
                Value::Object(m) => Ok(m.clone()),
                other => Err(MappingError {
                    source_name: source.into(),
                    field: "*".into(),
                    path: "$".into(),
                    value: kind_of(other).into(),
                    problem: "the record is not an object".into(),
                }),
            };
        }
        let mut out = Map::new();
        for rule in &self.rules {
            let found = rule.path.get(doc).filter(|v| !v.is_null());
            let value = match found {
                Some(v) => convert(&v, rule.conversion).map_err(|problem| MappingError {
                    source_name: source.into(),
                    field: rule.field.clone(),
                    path: rule.path.to_string(),
                    value: truncate(&v.to_string(), 120),
                    problem,
                })?,
                None => match &rule.default {
                    Some(d) => d.clone(),
                    None if rule.required => {
                        return Err(MappingError {
                            source_name: source.into(),
                            field: rule.field.clone(),
                            path: rule.path.to_string(),
                            value: "missing".into(),
                            problem: "required field is missing or null".into(),
                        });
                    }
                    None => continue,
                },
            };
            out.insert(rule.field.clone(), value);
        }
        Ok(out)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn char_prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn truncate(s: &str, max: usize) -> String {
    let shown = char_prefix(s, max);
    if shown.len() == s.len() {
        s.to_string()
    } else {
        format!("{shown}…")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(t: Value) -> Mapping {
        match t {
            Value::Object(m) => Mapping::from_config(&m).expect("valid mapping"),
            _ => panic!("not a table"),
        }
    }

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        let doc = json!({"data": {"Account": {"Name": "Ana", "odd.key": 1},
                         "Contacts": [{"Email": "a@x"}, {"Email": "b@x"}, {"Phone": "1"}]}});
        let get = |p: &str| p.parse::<JsonPath>().expect("path").get(&doc);
        assert_eq!(get("data.Account.Name"), Some(json!("Ana")));
        assert_eq!(get("$.data.Contacts[1].Email"), Some(json!("b@x")));
        assert_eq!(get("data.Contacts[*].Email"), Some(json!(["a@x", "b@x"])));
        assert_eq!(get("data.Account['odd.key']"), Some(json!(1)));
        assert_eq!(get("data.Contacts[9].Email"), None);
        assert_eq!(get("data.Account.Name.First"), None);
        assert_eq!(get(""), Some(doc.clone()));
        for bad in ["a..b", "a[", "a[x]", "a.", "a[0]b"] {
            assert!(bad.parse::<JsonPath>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn conversions() {
        use Conversion::*;
        assert_eq!(convert(&json!(42), String), Ok(json!("42")));
        assert_eq!(convert(&json!(" 42 "), Integer), Ok(json!(42)));
        assert_eq!(convert(&json!("4.5"), Number), Ok(json!(4.5)));
        assert_eq!(convert(&json!("Yes"), Bool), Ok(json!(true)));
        assert_eq!(convert(&json!(0), Bool), Ok(json!(false)));
        assert!(convert(&json!("maybe"), Bool).is_err());
        assert_eq!(
            convert(&json!("2019-03-01T23:30:00-05:00"), Date),
            Ok(json!("2019-03-01"))
        );
        assert_eq!(
            convert(&json!("2019-03-01T23:30:00-05:00"), DateTime),
            Ok(json!("2019-03-02T04:30:00Z"))
        );
        assert_eq!(convert(&json!(1551398400), Date), Ok(json!("2019-03-01")));
        assert_eq!(
            convert(&json!(1551398400000i64), Date),
            Ok(json!("2019-03-01"))
        );
        assert_eq!(convert(&json!("2019-03-01"), Date), Ok(json!("2019-03-01")));
        assert!(convert(&json!("01/03/2019"), Date).is_err());
        assert_eq!(convert(&json!("1234.5"), Money), Ok(json!("1234.50")));
        assert_eq!(convert(&json!(0.1), Money), Ok(json!("0.10")));
        assert_eq!(convert(&json!("19.999"), Money), Ok(json!("20.00")));
        assert_eq!(convert(&json!("-0.005"), Money), Ok(json!("-0.01")));
        assert!(convert(&json!("12 EUR"), Money).is_err());
        assert!(convert(&json!({"a": 1}), String).is_err());
    }

    /// Found by fuzzing (fuzz/fuzz_targets/mapping_path.rs): a unix time
    /// past the year 9999 (999919999991999.9, read as milliseconds: a
    /// microsecond timestamp is that large) became "+33656-03-15T03:33:12Z",
    /// which is not RFC 3339, and the date "+33656-03-15".
    #[test]
    fn dates_outside_four_digit_years_are_refused() {
        use Conversion::*;
        let far = json!(999_919_999_991_999.9_f64);
        assert!(convert(&far, DateTime).is_err());
        assert!(convert(&far, Date).is_err());
        let micros = json!(1_551_398_400_000_000i64);
        assert!(convert(&micros, DateTime).is_err());
        // Year 0000 at +01:00 is year -1 in UTC.
        let zero = json!("0000-01-01T00:00:00+01:00");
        assert!(convert(&zero, DateTime).is_err());
        assert_eq!(convert(&zero, Date), Ok(json!("0000-01-01")));
        let last = json!(253_402_300_799_000i64);
        assert_eq!(convert(&last, DateTime), Ok(json!("9999-12-31T23:59:59Z")));
        assert_eq!(convert(&last, Date), Ok(json!("9999-12-31")));
        assert!(convert(&json!(253_402_300_800_000i64), DateTime).is_err());
        assert!(convert(&json!(-62_167_219_200_001i64), DateTime).is_err());
    }

    #[test]
    fn a_mapping_takes_defaults_and_names_its_failures() {
        let m = mapping(json!({
            "name": "Account.Name",
            "tier": {"path": "Account.Tier", "type": "string", "default": "standard"},
            "balance": {"path": "Account.Balance", "type": "money"},
            "vip": {"path": "Account.Vip", "type": "bool"},
        }));
        let ok = m
            .apply(
                "crm",
                &json!({"Account": {"Name": "Ana", "Balance": 10, "Vip": "no"}}),
            )
            .expect("maps");
        assert_eq!(
            Value::Object(ok),
            json!({"name": "Ana", "tier": "standard", "balance": "10.00", "vip": false})
        );
        let err = m
            .apply(
                "crm",
                &json!({"Account": {"Name": "Ana", "Vip": "perhaps"}}),
            )
            .expect_err("bad bool");
        assert_eq!(err.source_name, "crm");
        assert_eq!(err.field, "vip");
        assert_eq!(err.path, "Account.Vip");
        assert_eq!(err.value, "\"perhaps\"");
        let text = err.to_string();
        assert!(text.contains("crm") && text.contains("vip") && text.contains("Account.Vip"));
        assert!(!err.redacted().contains("perhaps"));
    }

    #[test]
    fn required_fields_and_bad_configs() {
        let m = mapping(json!({"id": {"path": "Id", "required": true}}));
        let e = m.apply("erp", &json!({"Other": 1})).expect_err("missing");
        assert_eq!(e.field, "id");
        let bad = |t: Value| match t {
            Value::Object(m) => Mapping::from_config(&m).expect_err("refused"),
            _ => panic!(),
        };
        assert!(bad(json!({"x": {"path": "a", "type": "float"}})).contains("fields.x.type"));
        assert!(bad(json!({"x": {"paht": "a"}})).contains("unknown key"));
        assert!(bad(json!({"bad name": "a"})).contains("fields.bad name"));
        assert!(bad(json!({"x": 3})).contains("fields.x"));
    }

    #[test]
    fn no_rules_takes_the_record_as_it_is() {
        let m = Mapping::default();
        let r = m
            .apply("db", &json!({"name": "Ana", "n": 1}))
            .expect("object");
        assert_eq!(Value::Object(r), json!({"name": "Ana", "n": 1}));
        assert!(m.apply("db", &json!([1])).is_err());
    }
}
