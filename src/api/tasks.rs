//! `POST /api/outbound/tasks`: queue a customer for a campaign.

use super::{ApiError, AppState, check_bearer, error};
use crate::dialer::valid_phone;
use crate::store::NewTask;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, message, Some(field))
}

fn text_field(body: &Value, name: &'static str, max: usize) -> Result<String, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) if s.trim().is_empty() => Err(bad(name, format!("{name} is empty"))),
        Some(Value::String(s)) if s.len() > max => {
            Err(bad(name, format!("{name} is longer than {max} characters")))
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            Err(bad(name, format!("{name} contains control characters")))
        }
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(bad(name, format!("{name} must be a string"))),
        None => Err(bad(name, format!("{name} is required"))),
    }
}

pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match create_task(&s, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn create_task(s: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    check_bearer(headers, &s.api_token_sha256)?;
    let body: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "body must be a JSON object",
                None,
            ));
        }
        Err(e) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!("body is not valid JSON: {e}"),
                None,
            ));
        }
    };
    let task = parse(&body)?;
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "store error while adding a task");
        error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable", None)
    };
    if s.store
        .campaign(&task.campaign_id)
        .await
        .map_err(unavailable)?
        .is_none()
    {
        return Err(bad(
            "campaign",
            format!("no campaign {:?}", task.campaign_id),
        ));
    }
    let id = s.store.add_task(&task).await.map_err(unavailable)?.id;
    s.dialer.tasks_added().await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"task_id": id, "status": "pending"})),
    )
        .into_response())
}

fn parse(body: &Value) -> Result<NewTask, ApiError> {
    let campaign_id = text_field(body, "campaign", 128)?;
    let customer_id = text_field(body, "customer_id", 128)?;
    // It travels to the switch as a channel variable: keep it to characters
    // that cannot change the originate's syntax.
    if !customer_id
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
    {
        return Err(bad(
            "customer_id",
            "customer_id may contain only letters, digits and - _ . : @",
        ));
    }
    let phone = text_field(body, "phone", 32)?;
    if !valid_phone(&phone) {
        return Err(bad(
            "phone",
            "phone must be 3 to 20 digits with an optional leading +",
        ));
    }
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (0..=1000).contains(&p) => p,
            _ => {
                return Err(bad(
                    "priority",
                    "priority must be a whole number from 0 to 1000",
                ));
            }
        },
        Some(_) => return Err(bad("priority", "priority must be a number")),
    };
    Ok(NewTask {
        campaign_id,
        customer_id,
        phone,
        priority,
        due_ms: crate::store::now_ms(),
        ..NewTask::default()
    })
}
