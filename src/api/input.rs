//! Reading request bodies and queries: every error names the field.

use super::{ApiError, error};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// A handler's result as its response: the error's JSON when it failed.
pub fn respond(r: Result<axum::response::Response, ApiError>) -> axum::response::Response {
    use axum::response::IntoResponse;
    r.unwrap_or_else(IntoResponse::into_response)
}

pub fn bad(field: &str, message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, message, Some(field))
}

/// The body as a JSON object whose keys are all in `allowed`.
pub fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => {
            check_keys(&m, allowed)?;
            Ok(m)
        }
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "body must be a JSON object",
            None,
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("body is not valid JSON: {e}"),
            None,
        )),
    }
}

pub fn check_keys(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(
            k,
            format!("unknown field {k:?} (known: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

pub fn opt_str(m: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(name, format!("{name} must be a string"))),
    }
}

pub fn req_str(m: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match opt_str(m, name)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(bad(name, format!("{name} is empty"))),
        None => Err(bad(name, format!("{name} is required"))),
    }
}

pub fn opt_i64(m: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(name, format!("{name} must be a whole number"))),
        Some(_) => Err(bad(name, format!("{name} must be a number"))),
    }
}

pub fn str_list(m: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(name, format!("{name} must be a list of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(name, format!("{name} must be a list of strings"))),
    }
}

/// `{"name": "value", ...}` with string values.
pub fn str_map(
    m: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<(String, String)>>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                _ => Err(bad(name, format!("{name}.{k} must be a string"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(name, format!("{name} must be an object of strings"))),
    }
}

/// An RFC 3339 time in a query, as ms.
pub fn query_time(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.timestamp_millis())
                .map_err(|e| bad(name, format!("{v:?} is not an RFC 3339 time ({e})")))
        })
        .transpose()
}

pub fn query_i64(
    q: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    q.get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad(name, format!("{v:?} is not a whole number")))
        })
        .transpose()
}

pub fn unavailable(e: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "store error");
    error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable", None)
}

/// An id, phone or e-mail as a key: short, and of characters that can
/// never start SQL, markup or a switch command.
pub fn is_key(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@+".contains(c))
}
