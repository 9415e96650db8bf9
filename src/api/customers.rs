//! The data layer over HTTP: sources listed and tested, a customer's cache
//! invalidated, further pages of a history.

use super::{ApiError, AppState, error};
use crate::customer::{Lookup, PageRequest};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Value, json};

fn reply(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// A key or value from a request: bounded, printable.
fn checked<'a>(value: &'a str, field: &'static str) -> Result<&'a str, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{field} is empty"),
            Some(field),
        ));
    }
    if v.len() > 256 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{field} is longer than 256 bytes"),
            Some(field),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{field} contains control characters"),
            Some(field),
        ));
    }
    Ok(v)
}

/// `GET /api/sources`
pub async fn list(State(s): State<AppState>) -> Response {
    reply(
        async {
            Ok(Json(json!({
                "sources": s.customers.sources(),
                "cache": {"entries": s.customers.cached_entries().await},
            }))
            .into_response())
        }
        .await,
    )
}

/// `POST /api/sources/{name}/test` with `{"customer_id"|"phone"|"email": ..}`:
/// one real request, past the cache.
pub async fn test(
    State(s): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    reply(
        async {
            let body: Value = if body.is_empty() {
                json!({})
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    error(
                        StatusCode::BAD_REQUEST,
                        format!("body is not valid JSON: {e}"),
                        None,
                    )
                })?
            };
            let field = |k: &'static str| -> Result<Option<&str>, ApiError> {
                match body.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(v)) => checked(v, k).map(Some),
                    Some(_) => Err(error(
                        StatusCode::BAD_REQUEST,
                        format!("{k} must be a string"),
                        Some(k),
                    )),
                }
            };
            let (id, phone, email) = (field("customer_id")?, field("phone")?, field("email")?);
            if id.is_none() && phone.is_none() && email.is_none() {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "give customer_id, phone or email",
                    None,
                ));
            }
            let lookup = Lookup::new(id, phone, email, s.customers.region());
            match s.customers.test_source(&name, &lookup).await {
                Some(report) => Ok(Json(report).into_response()),
                None => Err(error(
                    StatusCode::NOT_FOUND,
                    format!("no source named {name:?}"),
                    None,
                )),
            }
        }
        .await,
    )
}

/// `DELETE /api/customers/{key}/cache`: the key is a customer id, a phone
/// number or an e-mail address; every cached answer under it goes.
pub async fn invalidate(State(s): State<AppState>, Path(key): Path<String>) -> Response {
    reply(
        async {
            let key = checked(&key, "key")?;
            let n = s.customers.invalidate(key).await;
            Ok(Json(json!({"invalidated": n})).into_response())
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct PageParams {
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/customers/{key}/history/{source}?offset=|cursor=&limit=`
pub async fn history(
    State(s): State<AppState>,
    Path((key, source)): Path<(String, String)>,
    Query(p): Query<PageParams>,
) -> Response {
    reply(
        async {
            let key = checked(&key, "key")?;
            if let Some(c) = &p.cursor {
                checked(c, "cursor")?;
            }
            let region = s.customers.region();
            let lookup = Lookup::new(Some(key), Some(key), Some(key), region);
            let page = PageRequest {
                limit: p.limit.unwrap_or(0),
                offset: p.offset.unwrap_or(0),
                cursor: p.cursor.clone(),
            };
            match s.customers.history_page(&source, &lookup, page).await {
                None => Err(error(
                    StatusCode::NOT_FOUND,
                    format!("no history source named {source:?}"),
                    None,
                )),
                Some(Ok(page)) => Ok(Json(page).into_response()),
                Some(Err(f)) => Err(error(StatusCode::BAD_GATEWAY, f.to_string(), None)),
            }
        }
        .await,
    )
}
