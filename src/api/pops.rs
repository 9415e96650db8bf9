//! `GET /api/pops`: the pop log. Who was shown which customer's record,
//! when, whether it was delivered and acknowledged, degraded or not, with
//! which template and fields, for the roles that supervise.

use super::AppState;
use super::input::{self, bad, respond, unavailable};
use crate::store::{PopQuery, now_ms};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use std::collections::HashMap;

const DEFAULT_DAYS: i64 = 7;
const MAX_LIMIT: i64 = 500;

fn id_param(q: &HashMap<String, String>, name: &str) -> Result<Option<String>, super::ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if input::is_key(v) => Ok(Some(v.clone())),
        Some(v) => Err(bad(name, format!("{name}: {v:?} is not an id"))),
    }
}

fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<Option<bool>, super::ApiError> {
    match q.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(v) => Err(bad(name, format!("{name}: {v:?} is not true or false"))),
    }
}

/// A page's cursor: the last pop's time and id.
fn cursor(q: &HashMap<String, String>) -> Result<Option<(i64, String)>, super::ApiError> {
    let Some(c) = q.get("cursor") else {
        return Ok(None);
    };
    let parsed = c.split_once('.').and_then(|(ms, id)| {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        (ok).then_some(())?;
        ms.parse::<i64>().ok().map(|ms| (ms, id.to_string()))
    });
    parsed.map(Some).ok_or_else(|| {
        bad(
            "cursor",
            format!("cursor: {c:?} is not a cursor this API gave"),
        )
    })
}

fn iso(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

pub const PARAMS: &[&str] = &[
    "call", "agent", "customer", "campaign", "since", "until", "degraded", "acked", "limit",
    "cursor",
];

pub async fn list(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    respond(
        async {
            if let Some(k) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
                return Err(bad(
                    k,
                    format!("{k}: not a parameter (use {})", PARAMS.join(", ")),
                ));
            }
            let now = now_ms();
            let until = input::query_time(&q, "until")?.unwrap_or(now + 1);
            let since =
                input::query_time(&q, "since")?.unwrap_or(until - DEFAULT_DAYS * 86_400_000);
            if since >= until {
                return Err(bad("since", "since must be before until"));
            }
            let limit = input::query_i64(&q, "limit")?.unwrap_or(100);
            if !(1..=MAX_LIMIT).contains(&limit) {
                return Err(bad("limit", format!("limit: 1 to {MAX_LIMIT}")));
            }
            let query = PopQuery {
                since_ms: since,
                until_ms: until,
                call_id: id_param(&q, "call")?,
                agent_id: id_param(&q, "agent")?,
                customer_id: id_param(&q, "customer")?,
                campaign_id: id_param(&q, "campaign")?,
                degraded: bool_param(&q, "degraded")?,
                acked: bool_param(&q, "acked")?,
                before: cursor(&q)?,
                limit: limit as u32,
            };
            let pops = s.store.pops(&query).await.map_err(unavailable)?;
            let next = (pops.len() == limit as usize)
                .then(|| pops.last().map(|p| format!("{}.{}", p.sent_ms, p.pop_id)))
                .flatten();
            let out: Vec<serde_json::Value> = pops
                .iter()
                .map(|p| {
                    json!({
                        "pop_id": p.pop_id,
                        "call_id": p.call_id,
                        "agent": p.agent_id,
                        "customer": p.customer_id,
                        "campaign": p.campaign_id,
                        "task_id": p.task_id,
                        "sent_at": iso(p.sent_ms),
                        "acked_at": p.acked_ms.and_then(iso),
                        "acknowledged": p.acked_ms.is_some(),
                        "ack_ms": p.acked_ms.map(|a| a - p.sent_ms),
                        "answered": p.answered,
                        "degraded": p.degraded,
                        "template": p.template,
                        "fields_shown": p.shown,
                        "trigger": p.trigger,
                    })
                })
                .collect();
            Ok(Json(json!({"pops": out, "next_cursor": next})).into_response())
        }
        .await,
    )
}
