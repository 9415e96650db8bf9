//! Field mapping: where each of dialpop's customer fields is inside a
//! source's answer, and how its value is converted. Pure functions over
//! JSON: the drivers turn rows and bodies into JSON first.

mod conversion;
mod path;
#[cfg(test)]
mod tests;

use conversion::kind_of;
pub use conversion::{Conversion, convert};
pub use path::JsonPath;
use serde_json::{Map, Value};

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
