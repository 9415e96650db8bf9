//! JSON paths: how a path is read, and the value it reaches in a document.

use serde_json::Value;
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
