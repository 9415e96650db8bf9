//! The request handler: logs each request, then answers the token endpoint
//! and the `/api/` routes as the mode and the credentials say.

use super::records::{customer_order, customer_record};
use super::wire::{
    basic_credentials, bearer_token, error, form_pairs, json_response, not_found, pair,
};
use super::{
    Data, REQUEST_LOG_CAPACITY, RecordedRequest, Shared, StandinAuth, StandinCustomer, StandinMode,
    phone_key,
};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

pub(super) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let raw_target = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    {
        let mut d = shared.data();
        if d.log.len() >= REQUEST_LOG_CAPACITY {
            d.log.pop_front();
        }
        d.log.push_back(RecordedRequest {
            method: parts.method.to_string(),
            raw_path_and_query: raw_target,
            decoded_segments: segments.clone(),
            body: body_text.clone(),
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            header_names: parts
                .headers
                .keys()
                .map(|k| k.as_str().to_string())
                .collect(),
        });
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["oauth", "token"] => {
            shared.token_requests.fetch_add(1, Ordering::Relaxed);
            if parts.method != Method::POST {
                return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            }
            token(&shared, &parts.headers, &body_text)
        }
        ["api", ..] => {
            shared.api_requests.fetch_add(1, Ordering::Relaxed);
            let query = form_pairs(parts.uri.query().unwrap_or(""));
            api(
                &shared,
                &parts.method,
                &parts.headers,
                &segs,
                &query,
                &body_text,
            )
            .await
        }
        _ => not_found(),
    }
}

fn token(shared: &Shared, headers: &HeaderMap, body: &str) -> Response {
    let form = form_pairs(body);
    if pair(&form, "grant_type") != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let presented = match (pair(&form, "client_id"), pair(&form, "client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string())),
        _ => basic_credentials(headers),
    };
    let mut d = shared.data();
    let ok = match (&d.auth, &presented) {
        (
            StandinAuth::OAuth {
                client_id,
                client_secret,
            },
            Some((id, secret)),
        ) => id == client_id && secret == client_secret,
        _ => false,
    };
    if !ok {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_client");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"crm\""),
        );
        return r;
    }
    let now = Instant::now();
    d.tokens.retain(|_, expires| *expires > now);
    let token = format!("{:032x}", rand::random::<u128>());
    d.tokens.insert(token.clone(), now + shared.token_ttl);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": shared.token_ttl.as_secs(),
        }),
    )
}

/// Waits, unless the stand-in is being stopped. False when stopped.
async fn pause(shared: &Shared, d: Duration) -> bool {
    if d.is_zero() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shared.stop.cancelled() => false,
    }
}

fn unauthorized(auth: &StandinAuth, presented_token: bool) -> Response {
    let challenge = match auth {
        StandinAuth::Basic(..) => "Basic realm=\"crm\"",
        StandinAuth::ApiKeyHeader(..) | StandinAuth::ApiKeyQuery(..) => "ApiKey realm=\"crm\"",
        _ if presented_token => "Bearer realm=\"crm\", error=\"invalid_token\"",
        _ => "Bearer realm=\"crm\"",
    };
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

fn authorized(d: &Data, headers: &HeaderMap, query: &[(String, String)]) -> bool {
    match &d.auth {
        StandinAuth::None => true,
        StandinAuth::Bearer(t) => bearer_token(headers) == Some(t.as_str()),
        StandinAuth::OAuth { .. } => bearer_token(headers)
            .and_then(|t| d.tokens.get(t))
            .is_some_and(|expires| *expires > Instant::now()),
        StandinAuth::ApiKeyHeader(name, value) => headers
            .get(name.as_str())
            .is_some_and(|v| v.as_bytes() == value.as_bytes()),
        StandinAuth::ApiKeyQuery(name, value) => pair(query, name) == Some(value.as_str()),
        StandinAuth::Basic(user, pass) => {
            basic_credentials(headers).is_some_and(|(u, p)| &u == user && &p == pass)
        }
    }
}

async fn api(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    segs: &[&str],
    query: &[(String, String)],
    body: &str,
) -> Response {
    let mode = shared.data().mode;
    let extra = match mode {
        StandinMode::Slow(d) => d,
        _ => Duration::ZERO,
    };
    if !pause(shared, shared.latency + extra).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match mode {
        StandinMode::Hang => {
            shared.stop.cancelled().await;
            return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
        }
        StandinMode::Failing(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, status.canonical_reason().unwrap_or("failing"));
        }
        StandinMode::Throttled {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut r = error(status, "slow down");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return r;
        }
        _ => {}
    }
    let customer = {
        let mut d = shared.data();
        // Read and cleared under one lock, so exactly one request sees it.
        if d.mode == StandinMode::Unauthorized401Once {
            d.mode = StandinMode::Normal;
            d.tokens.clear();
            let auth = d.auth.clone();
            drop(d);
            return unauthorized(&auth, bearer_token(headers).is_some());
        }
        if !authorized(&d, headers, query) {
            let auth = d.auth.clone();
            drop(d);
            return unauthorized(&auth, bearer_token(headers).is_some());
        }
        find(&d, method, segs, body)
    };
    match mode {
        StandinMode::Malformed => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"data\":{\"Account\":{\"Id\":\"C-1\",\"Na",
            )
                .into_response();
        }
        StandinMode::Oversized(n) => {
            let pad = "x".repeat(n);
            return json_response(StatusCode::OK, &json!({ "pad": pad }));
        }
        _ => {}
    }
    match customer {
        Answer::Record(c) => json_response(StatusCode::OK, &customer_record(&c)),
        Answer::Orders(c, paging) => orders(&c, paging, query),
        Answer::Missing => not_found(),
        Answer::Refused(r) => r,
    }
}

enum Paging {
    Offset,
    Cursor,
}

enum Answer {
    Record(StandinCustomer),
    Orders(StandinCustomer, Paging),
    Missing,
    Refused(Response),
}

fn find(d: &Data, method: &Method, segs: &[&str], body: &str) -> Answer {
    let by_id = |id: &str| d.customers.get(id).cloned();
    let by_phone = |p: &str| d.by_phone.get(&phone_key(p)).and_then(|id| by_id(id));
    let by_email = |e: &str| d.by_email.get(&e.to_lowercase()).and_then(|id| by_id(id));
    let get = *method == Method::GET;
    let found = match segs {
        ["api", "v1", "customers", "search"] => {
            if *method != Method::POST {
                return Answer::Refused(error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed",
                ));
            }
            let Ok(q) = serde_json::from_str::<Value>(body) else {
                return Answer::Refused(error(StatusCode::BAD_REQUEST, "body is not JSON"));
            };
            let field = |k: &str| q.get(k).and_then(Value::as_str);
            if let Some(id) = field("customer_id") {
                by_id(id)
            } else if let Some(p) = field("phone") {
                by_phone(p)
            } else if let Some(e) = field("email") {
                by_email(e)
            } else {
                return Answer::Refused(error(
                    StatusCode::BAD_REQUEST,
                    "search needs phone, email or customer_id",
                ));
            }
        }
        ["api", "v1", "customers", "by-phone", p] if get => by_phone(p),
        ["api", "v1", "customers", "by-email", e] if get => by_email(e),
        ["api", "v1", "customers", id] if get => by_id(id),
        ["api", "v1", "customers", id, "orders"] if get => {
            return by_id(id).map_or(Answer::Missing, |c| Answer::Orders(c, Paging::Offset));
        }
        ["api", "v1", "customers", id, "orders-cursor"] if get => {
            return by_id(id).map_or(Answer::Missing, |c| Answer::Orders(c, Paging::Cursor));
        }
        ["api", "v1", "customers", ..] => {
            return Answer::Refused(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
        }
        _ => None,
    };
    found.map_or(Answer::Missing, Answer::Record)
}

pub(super) fn encode_cursor(offset: usize) -> String {
    hex::encode(format!("o:{offset}"))
}

pub(super) fn decode_cursor(c: &str) -> Option<usize> {
    let raw = hex::decode(c).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

fn orders(c: &StandinCustomer, paging: Paging, query: &[(String, String)]) -> Response {
    let limit = match pair(query, "limit").filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n.min(MAX_PAGE),
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid limit"),
        },
    };
    let start = match paging {
        Paging::Offset => match pair(query, "offset").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => match s.parse::<usize>() {
                Ok(n) => n,
                Err(_) => return error(StatusCode::BAD_REQUEST, "invalid offset"),
            },
        },
        Paging::Cursor => match pair(query, "cursor").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => match decode_cursor(s) {
                Some(n) => n,
                None => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
            },
        },
    };
    let start = start.min(c.orders);
    let end = start.saturating_add(limit).min(c.orders);
    let items: Vec<Value> = (start..end).map(|i| customer_order(c, i)).collect();
    let doc = match paging {
        Paging::Offset => json!({"items": items, "total": c.orders}),
        Paging::Cursor => json!({
            "items": items,
            "next_cursor": (end < c.orders).then(|| encode_cursor(end)),
        }),
    };
    json_response(StatusCode::OK, &doc)
}
