//! `POST /api/outbound/tasks`: queue a customer for a campaign.

use super::{AppState, check_bearer, error};
use crate::dialer::valid_phone;
use crate::store::NewTask;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

fn text_field(body: &Value, name: &str, max: usize) -> Result<String, Response> {
    match body.get(name) {
        Some(Value::String(s)) if s.trim().is_empty() => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} is empty"),
            Some(name),
        )),
        Some(Value::String(s)) if s.len() > max => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} is longer than {max} characters"),
            Some(name),
        )),
        Some(Value::String(s)) if s.chars().any(char::is_control) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} contains control characters"),
            Some(name),
        )),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} must be a string"),
            Some(name),
        )),
        None => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} is required"),
            Some(name),
        )),
    }
}

pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = check_bearer(&headers, &s.api_token_sha256) {
        return r;
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "body must be a JSON object", None),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body is not valid JSON: {e}"),
                None,
            );
        }
    };
    let task = match parse(&body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match s.store.campaign(&task.campaign_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("no campaign {:?}", task.campaign_id),
                Some("campaign"),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "store error looking up a campaign");
            return error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable", None);
        }
    }
    match s.store.add_task(&task).await {
        Ok(id) => {
            s.dialer.tasks_added().await;
            (
                StatusCode::CREATED,
                Json(json!({"task_id": id, "status": "pending"})),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "store error adding a task");
            error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable", None)
        }
    }
}

fn parse(body: &Value) -> Result<NewTask, Response> {
    let campaign_id = text_field(body, "campaign", 128)?;
    let customer_id = text_field(body, "customer_id", 128)?;
    // It travels to the switch as a channel variable: keep it to characters
    // that cannot change the originate's syntax.
    if !customer_id
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "customer_id may contain only letters, digits and - _ . : @",
            Some("customer_id"),
        ));
    }
    let phone = text_field(body, "phone", 32)?;
    if !valid_phone(&phone) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "phone must be 3 to 20 digits with an optional leading +",
            Some("phone"),
        ));
    }
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (0..=1000).contains(&p) => p,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "priority must be a whole number from 0 to 1000",
                    Some("priority"),
                ));
            }
        },
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "priority must be a number",
                Some("priority"),
            ));
        }
    };
    Ok(NewTask {
        campaign_id,
        customer_id,
        phone,
        priority,
    })
}
