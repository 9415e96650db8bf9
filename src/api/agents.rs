//! `/api/agents`: agents and the campaigns they serve, their login tokens
//! (shown once, kept only as a hash), and a supervisor's pause and resume.

use super::input::{self, bad, respond, unavailable};
use super::{ApiError, AppState, error};
use crate::campaign::valid_name;
use crate::popup::messages::AgentRequest;
use crate::store::{Agent, Serves, token_hash};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

pub const CREATE_FIELDS: &[&str] = &["id", "name", "extension", "campaigns", "level", "locale"];
pub const PATCH_FIELDS: &[&str] = &["name", "extension", "campaigns", "level", "locale"];
pub const PAUSE_FIELDS: &[&str] = &["reason"];

/// Campaigns one agent may serve.
const MAX_CAMPAIGNS: usize = 32;

fn not_found(id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("no agent {id:?}"), None)
}

/// A fresh login token: 128 bits from the OS's generator, as hex.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// An extension reaches the switch inside a dial string: letters, digits
/// and `_ . -` only.
fn valid_extension(e: &str) -> bool {
    valid_name(e, 32)
}

async fn agent_json(s: &AppState, a: &Agent) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "extension": a.extension,
        "campaigns": a.campaigns.iter().map(|c| json!({"campaign": c.campaign_id, "priority": c.priority})).collect::<Vec<_>>(),
        "level": a.level,
        "locale": a.locale,
        "state": s.dialer.agent_state(&a.id).await,
    })
}

/// `level` or `locale` as given: absent (`None`), cleared with null
/// (`Some(None)`), or set.
fn profile_field(m: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, ApiError> {
    let Some(v) = m.get(key) else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(Some(None));
    }
    let text = v
        .as_str()
        .ok_or_else(|| bad(key, format!("{key}: text or null")))?;
    let ok = match key {
        "locale" => crate::popup::format::Locale::ALL
            .iter()
            .any(|l| l.tag() == text),
        _ => valid_name(text, 32),
    };
    if !ok {
        let want = match key {
            "locale" => "one of en, zh-CN",
            _ => "1 to 32 of A-Z a-z 0-9 _ . -",
        };
        return Err(bad(key, format!("{key}: {text:?} is not {want}")));
    }
    Ok(Some(Some(text.to_string())))
}

/// `[{"campaign": "c", "priority": 5}, ...]`, each campaign known.
async fn campaigns_from(s: &AppState, v: &Value) -> Result<Vec<Serves>, ApiError> {
    let items = v
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= MAX_CAMPAIGNS)
        .ok_or_else(|| {
            bad(
                "campaigns",
                format!("campaigns: a list of 1 to {MAX_CAMPAIGNS} {{\"campaign\", \"priority\"}}"),
            )
        })?;
    let mut out: Vec<Serves> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("campaigns[{i}]");
        let m = item
            .as_object()
            .ok_or_else(|| bad(&field, format!("{field}: an object")))?;
        input::check_keys(m, &["campaign", "priority"])?;
        let id = input::req_str(m, "campaign")?;
        let priority = input::opt_i64(m, "priority")?.unwrap_or(0);
        if s.store.campaign(&id).await.map_err(unavailable)?.is_none() {
            return Err(bad(
                &format!("{field}.campaign"),
                format!("{field}.campaign: no campaign {id:?}"),
            ));
        }
        if out.iter().any(|c| c.campaign_id == id) {
            return Err(bad(
                &format!("{field}.campaign"),
                format!("{field}.campaign: {id:?} is given twice"),
            ));
        }
        out.push(Serves {
            campaign_id: id,
            priority,
        });
    }
    Ok(out)
}

fn name_from(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match input::opt_str(m, "name")? {
        Some(n) if n.trim().is_empty() || n.chars().count() > 100 => {
            Err(bad("name", "name: 1 to 100 characters"))
        }
        n => Ok(n),
    }
}

fn extension_from(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match input::opt_str(m, "extension")? {
        Some(e) if !valid_extension(&e) => Err(bad(
            "extension",
            format!("extension: {e:?} is not an extension (1 to 32 of A-Z a-z 0-9 _ . -)"),
        )),
        e => Ok(e),
    }
}

pub async fn create(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    respond(create_agent(&s, &body).await)
}

async fn create_agent(s: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, CREATE_FIELDS)?;
    let id = input::req_str(&m, "id")?;
    if !valid_name(&id, 64) {
        return Err(bad(
            "id",
            format!("id: {id:?} is not an id (1 to 64 of A-Z a-z 0-9 _ . -)"),
        ));
    }
    let name = name_from(&m)?.ok_or_else(|| bad("name", "name: required"))?;
    let extension = extension_from(&m)?.ok_or_else(|| bad("extension", "extension: required"))?;
    let campaigns = campaigns_from(
        s,
        m.get("campaigns")
            .ok_or_else(|| bad("campaigns", "campaigns: required"))?,
    )
    .await?;
    let mut agent = Agent {
        id: id.clone(),
        name,
        extension,
        campaigns,
        level: profile_field(&m, "level")?.flatten(),
        locale: profile_field(&m, "locale")?.flatten(),
    };
    agent.sort_campaigns();
    let token = new_token();
    if !s
        .store
        .insert_agent(&agent, &token_hash(&token))
        .await
        .map_err(unavailable)?
    {
        return Err(error(
            StatusCode::CONFLICT,
            format!("agent {id:?} exists"),
            Some("id"),
        ));
    }
    s.dialer.agent_changed(&id).await;
    tracing::info!(agent = %id, "agent created");
    let mut v = agent_json(s, &agent).await;
    // The only time the token is shown: the store keeps its hash.
    v["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn list(State(s): State<AppState>) -> Response {
    respond(
        async {
            let agents = s.store.agents().await.map_err(unavailable)?;
            let mut out = Vec::with_capacity(agents.len());
            for a in &agents {
                out.push(agent_json(&s, a).await);
            }
            Ok(Json(json!({ "agents": out })).into_response())
        }
        .await,
    )
}

async fn load(s: &AppState, id: &str) -> Result<Agent, ApiError> {
    s.store
        .agent(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| not_found(id))
}

pub async fn get_one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let a = load(&s, &id).await?;
            Ok(Json(agent_json(&s, &a).await).into_response())
        }
        .await,
    )
}

pub async fn patch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond(
        async {
            let m = input::object(&body, PATCH_FIELDS)?;
            let mut a = load(&s, &id).await?;
            if let Some(n) = name_from(&m)? {
                a.name = n;
            }
            if let Some(e) = extension_from(&m)? {
                a.extension = e;
            }
            if let Some(c) = m.get("campaigns") {
                a.campaigns = campaigns_from(&s, c).await?;
                a.sort_campaigns();
            }
            if let Some(l) = profile_field(&m, "level")? {
                a.level = l;
            }
            if let Some(l) = profile_field(&m, "locale")? {
                a.locale = l;
            }
            if !s.store.update_agent(&a).await.map_err(unavailable)? {
                return Err(not_found(&id));
            }
            s.dialer.agent_changed(&id).await;
            Ok(Json(agent_json(&s, &a).await).into_response())
        }
        .await,
    )
}

/// A new token; the old one no longer signs in (pages open with it stay
/// open until they reconnect).
pub async fn new_token_for(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let token = new_token();
            if !s
                .store
                .set_agent_token(&id, &token_hash(&token))
                .await
                .map_err(unavailable)?
            {
                return Err(not_found(&id));
            }
            tracing::info!(agent = %id, "agent token replaced");
            Ok(Json(json!({ "id": id, "token": token })).into_response())
        }
        .await,
    )
}

/// `POST /api/agents/{id}/pause` `{"reason": "lunch"}` and `/resume`.
pub async fn pause_or_resume(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    respond(
        async {
            let request = match action.as_str() {
                "pause" => {
                    let m = input::object(&body, PAUSE_FIELDS)?;
                    AgentRequest::Pause(input::req_str(&m, "reason")?)
                }
                "resume" => AgentRequest::Resume,
                _ => {
                    return Err(error(
                        StatusCode::NOT_FOUND,
                        format!("no action {action:?} (pause, resume)"),
                        None,
                    ));
                }
            };
            load(&s, &id).await?;
            match s.dialer.agent_request(&id, request).await {
                Ok(state) => Ok(Json(json!({ "id": id, "state": state })).into_response()),
                Err(e) if e.starts_with("reason:") => Err(bad("reason", e)),
                Err(e) => Err(error(StatusCode::CONFLICT, e, Some("state"))),
            }
        }
        .await,
    )
}
