//! `POST /api/templates/preview`: a template filled with a chosen
//! customer's record, looked up through the sources as a call's would be,
//! for the admin page's editor. The answer is the very pop message an agent
//! would get, so the editor draws it with the agent page itself.

use super::input::{self, bad};
use super::{ApiError, AppState};
use crate::campaign::settings::PopTrigger;
use crate::customer::Lookup;
use crate::popup::format::Locale;
use crate::popup::messages::PopCallState;
use crate::popup::template::{self, Templates};
use crate::popup::{Look, build_pop};
use crate::store::Task;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

pub const PREVIEW_FIELDS: &[&str] = &["template", "customer", "level", "locale", "campaign"];

pub async fn preview(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    match preview_pop(&s, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn key(v: &str) -> Result<&str, ApiError> {
    if input::is_key(v) {
        Ok(v)
    } else {
        Err(bad(
            "customer",
            format!("customer: {v:?} is not a customer id, phone or e-mail"),
        ))
    }
}

async fn preview_pop(s: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, PREVIEW_FIELDS)?;
    // The editor sends its text as it stands, so errors can name its lines.
    let text = match m.get("template") {
        Some(Value::String(t)) => t.clone(),
        Some(v @ Value::Object(_)) => v.to_string(),
        _ => return Err(bad("template", "template: the template's JSON text")),
    };
    let parsed = match template::parse(&text) {
        Ok(t) => t,
        Err(errors) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "the template does not hold", "errors": errors})),
            )
                .into_response());
        }
    };
    let customer = input::req_str(&m, "customer")?;
    let customer = key(&customer)?;
    let level = input::opt_str(&m, "level")?.filter(|l| !l.is_empty());
    let locale = input::opt_str(&m, "locale")?
        .map(|l| {
            Locale::ALL
                .into_iter()
                .find(|x| x.tag() == l)
                .ok_or_else(|| bad("locale", format!("locale: {l:?} is not one of en, zh-CN")))
        })
        .transpose()?
        .unwrap_or_default();
    let campaign = input::opt_str(&m, "campaign")?.unwrap_or_default();
    let lookup = Lookup::new(
        Some(customer),
        Some(customer),
        Some(customer),
        s.customers.region(),
    );
    let started = std::time::Instant::now();
    let view = s.customers.resolve(&lookup).await;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    let task = Task {
        campaign_id: campaign,
        customer_id: view
            .fields
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(customer)
            .to_string(),
        phone: view
            .fields
            .get("phone")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        ..Task::default()
    };
    let templates = Templates::single(parsed.clone());
    let look = Look {
        templates: &templates,
        level: level.as_deref(),
        locale,
        trigger: PopTrigger::Answer,
    };
    let found = view.found;
    let pop = build_pop(
        "preview",
        "preview",
        &task,
        Some(view),
        false,
        look,
        PopCallState::Answered,
    );
    Ok(Json(json!({
        "pop": pop,
        "found": found,
        "lookup_ms": took_ms,
        // The template as dialpop reads it, every key written out: what the
        // editor saves.
        "template": parsed,
    }))
    .into_response())
}
