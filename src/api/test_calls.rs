//! `POST /api/test-calls` places one call to a number, put through to a
//! named agent, on a campaign's pop rules and templates; `GET
//! /api/test-calls/{id}` reports it: each step timed, from the originate
//! to the agent's acknowledgement, and the record shown compared field by
//! field with its source's fresh answer. Admin only: the report holds a
//! customer's record and the sources' raw answers.

use super::auth::Caller;
use super::input::{self, bad, respond, unavailable};
use super::{AppState, error};
use crate::campaign::phone;
use crate::dialer::test_call::{TestCallOrder, TestCallRefused};
use crate::dialer::test_report;
use crate::store::PopQuery;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};

pub const FIELDS: &[&str] = &["number", "agent", "campaign", "customer"];

pub async fn create(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Response {
    respond(place(&s, &caller, &body).await)
}

fn key(
    m: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<String>, super::ApiError> {
    match input::opt_str(m, name)? {
        None => Ok(None),
        Some(v) if input::is_key(&v) => Ok(Some(v)),
        Some(v) => Err(bad(name, format!("{name}: {v:?} is not an id"))),
    }
}

async fn place(s: &AppState, caller: &Caller, body: &[u8]) -> Result<Response, super::ApiError> {
    let m = input::object(body, FIELDS)?;
    let number = input::req_str(&m, "number")?;
    let agent_id = key(&m, "agent")?.ok_or_else(|| bad("agent", "agent: the agent's id"))?;
    let agent = s
        .store
        .agent(&agent_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("agent {agent_id:?} does not exist"),
                Some("agent"),
            )
        })?;
    let campaign_id = key(&m, "campaign")?.unwrap_or_else(|| agent.home().to_string());
    let campaign = s
        .store
        .campaign(&campaign_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("campaign {campaign_id:?} does not exist"),
                Some("campaign"),
            )
        })?;
    let region = phone::region(&campaign.settings.region).unwrap_or(phonenumber::country::Id::US);
    let number = phone::normalise(&number, region)
        .map_err(|e| bad("number", format!("number: {number:?} {e}")))?
        .e164;
    let order = TestCallOrder {
        phone: number,
        agent_id,
        campaign_id: Some(campaign_id),
        customer_id: key(&m, "customer")?,
        requested_by: Some(caller.name.clone()),
    };
    match s.dialer.test_call(order).await {
        Ok(trace) => {
            tracing::info!(call = %trace.call_id, agent = %trace.agent_id, campaign = %trace.campaign_id, "test call placed");
            let r = test_report::report(&trace, None, None, &mappings(s));
            Ok((StatusCode::CREATED, Json(r)).into_response())
        }
        Err(why) => {
            let (status, field) = match &why {
                TestCallRefused::UnknownAgent(_) => (StatusCode::NOT_FOUND, Some("agent")),
                TestCallRefused::UnknownCampaign(_) => (StatusCode::NOT_FOUND, Some("campaign")),
                TestCallRefused::AgentNotFree(..) => (StatusCode::CONFLICT, Some("agent")),
                TestCallRefused::DoNotCall { .. } => (StatusCode::CONFLICT, Some("number")),
                TestCallRefused::NoSwitch
                | TestCallRefused::Draining
                | TestCallRefused::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            };
            Err(error(status, why.to_string(), field))
        }
    }
}

/// Each source's mapping, by source name.
fn mappings(s: &AppState) -> serde_json::Map<String, serde_json::Value> {
    s.customers
        .sources()
        .into_iter()
        .map(|i| (i.name, serde_json::Value::Object(i.fields)))
        .collect()
}

pub async fn get_one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let not_found = || {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no test call {id:?} (the daemon keeps the last 200 since it started)"),
                    None,
                )
            };
            if !input::is_key(&id) {
                return Err(not_found());
            }
            let trace = s.dialer.test_call_trace(&id).await.ok_or_else(not_found)?;
            let attempt = s.store.attempt(&id).await.map_err(unavailable)?;
            let pops = s
                .store
                .pops(&PopQuery {
                    since_ms: 0,
                    until_ms: i64::MAX,
                    call_id: Some(id.clone()),
                    limit: 1,
                    ..PopQuery::default()
                })
                .await
                .map_err(unavailable)?;
            let r = test_report::report(&trace, attempt.as_ref(), pops.first(), &mappings(&s));
            Ok(Json(r).into_response())
        }
        .await,
    )
}
