//! `/api/campaigns`: create, change, start, pause, resume, stop; the state
//! is the store's, so it survives restarts.

use super::input::{self, bad, respond, unavailable};
use super::{ApiError, AppState, error};
use crate::campaign::{CampaignSettings, CampaignState, Transition, valid_name};
use crate::store::{Campaign, now_ms};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

pub const CREATE_FIELDS: &[&str] = &["id", "name", "settings"];
pub const PATCH_FIELDS: &[&str] = &["name", "settings"];

fn not_found(id: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("no campaign {id:?}"), None)
}

/// The campaign, or a 404 that names it.
async fn load(s: &AppState, id: &str) -> Result<Campaign, ApiError> {
    s.store
        .campaign(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| not_found(id))
}

/// Settings from JSON, checked; the errors name `settings.<field>`.
fn settings_from(v: Value) -> Result<CampaignSettings, ApiError> {
    let s: CampaignSettings =
        serde_json::from_value(v).map_err(|e| bad("settings", format!("settings: {e}")))?;
    s.validate().map_err(|e| {
        bad(
            &format!("settings.{}", e.field),
            format!("settings.{}: {}", e.field, e.message),
        )
    })?;
    Ok(s)
}

/// RFC 7386: what the patch names replaces, `null` removes, objects merge.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub async fn create(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    respond(create_campaign(&s, &body).await)
}

async fn create_campaign(s: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, CREATE_FIELDS)?;
    let id = input::req_str(&m, "id")?;
    if !valid_name(&id, 64) {
        return Err(bad("id", "id must be 1 to 64 letters, digits, - _ or ."));
    }
    let name = input::req_str(&m, "name")?;
    if name.len() > 200 || name.chars().any(char::is_control) {
        return Err(bad(
            "name",
            "name must be at most 200 characters, none of them control characters",
        ));
    }
    let settings = settings_from(m.get("settings").cloned().unwrap_or_else(|| json!({})))?;
    let now = now_ms();
    let c = Campaign {
        id: id.clone(),
        name,
        state: CampaignState::Created,
        settings,
        created_ms: now,
        updated_ms: now,
    };
    if !s.store.insert_campaign(&c).await.map_err(unavailable)? {
        return Err(error(
            StatusCode::CONFLICT,
            format!("campaign {id:?} exists"),
            Some("id"),
        ));
    }
    s.dialer.campaign_changed(&id).await;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

pub async fn list(State(s): State<AppState>) -> Response {
    respond(
        async {
            let all = s.store.campaigns().await.map_err(unavailable)?;
            Ok(Json(json!({"campaigns": all})).into_response())
        }
        .await,
    )
}

pub async fn get_one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let c = load(&s, &id).await?;
            Ok(Json(c).into_response())
        }
        .await,
    )
}

/// `PATCH /api/campaigns/{id}`: `name`, and `settings` as a merge patch
/// over the current settings.
pub async fn patch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond(patch_campaign(&s, &id, &body).await)
}

async fn patch_campaign(s: &AppState, id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, PATCH_FIELDS)?;
    let c = load(s, id).await?;
    let name = input::opt_str(&m, "name")?.unwrap_or(c.name.clone());
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(bad(
            "name",
            "name must be 1 to 200 characters, none of them control characters",
        ));
    }
    let mut settings =
        serde_json::to_value(&c.settings).map_err(|e| bad("settings", e.to_string()))?;
    if let Some(p) = m.get("settings") {
        if !p.is_object() {
            return Err(bad("settings", "settings must be an object"));
        }
        merge(&mut settings, p);
    }
    let settings = settings_from(settings)?;
    if !s
        .store
        .update_campaign(id, &name, &settings)
        .await
        .map_err(unavailable)?
    {
        return Err(not_found(id));
    }
    s.dialer.campaign_changed(id).await;
    let c = load(s, id).await?;
    Ok(Json(c).into_response())
}

/// `POST /api/campaigns/{id}/{start|pause|resume|stop}`.
pub async fn transition(
    State(s): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    respond(move_campaign(&s, &id, &action).await)
}

async fn move_campaign(s: &AppState, id: &str, action: &str) -> Result<Response, ApiError> {
    let t = Transition::parse(action).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            format!("no action {action:?} (start, pause, resume, stop)"),
            None,
        )
    })?;
    // Compare-and-set: two supervisors at once cannot both move it.
    for _ in 0..3 {
        let c = load(s, id).await?;
        let to = c
            .state
            .apply(t)
            .map_err(|m| error(StatusCode::CONFLICT, m, Some("state")))?;
        if s.store
            .set_campaign_state(id, c.state, to)
            .await
            .map_err(unavailable)?
        {
            tracing::info!(campaign = %id, from = c.state.as_str(), to = to.as_str(), "campaign state changed");
            s.dialer.campaign_changed(id).await;
            return Ok(Json(json!({"id": id, "state": to, "previous": c.state})).into_response());
        }
    }
    Err(error(
        StatusCode::CONFLICT,
        "the campaign changed meanwhile; try again",
        Some("state"),
    ))
}

/// `GET /api/campaigns/{id}/stats`: tasks by state, the dial decisions of
/// the last 24 hours by reason, the dialer's agents by state.
/// `GET /api/campaigns/{id}/stats[?window_minutes=N]`: tasks by state,
/// decisions by verdict and reason, dispositions by code, agents by state,
/// and over the window (default 60 minutes): dials per minute, answer rate,
/// average handle time (talk + wrap-up) and occupancy, for the campaign and
/// for each of its agents.
pub async fn stats(
    State(s): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    respond(
        async {
            let window = input::query_i64(&q, "window_minutes")?.unwrap_or(60);
            if !(1..=10_080).contains(&window) {
                return Err(bad("window_minutes", "window_minutes: 1 to 10080 (a week)"));
            }
            let c = load(&s, &id).await?;
            Ok(Json(stats_json(&s, &c, window).await?).into_response())
        }
        .await,
    )
}

async fn stats_json(s: &AppState, c: &Campaign, window: i64) -> Result<Value, ApiError> {
    use crate::campaign::stats::{mean_seconds, occupancy, working_ms};
    let now = now_ms();
    let since = now - window * 60_000;
    let day = now - 86_400_000;
    let counts = s.store.task_counts(&c.id).await.map_err(unavailable)?;
    let decisions: Vec<Value> = s
        .store
        .decision_counts(&c.id, day)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|(v, r, n)| json!({"verdict": v, "reason": r, "count": n}))
        .collect();
    let dispositions: serde_json::Map<String, Value> = s
        .store
        .disposition_counts(&c.id, since)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|(code, n)| (code, json!(n)))
        .collect();
    let calls = s
        .store
        .agent_calls(&c.id, since)
        .await
        .map_err(unavailable)?;
    let (before, during) = s.store.presence_changes(since).await.map_err(unavailable)?;
    let working = working_ms(&before, &during, since, now);
    // The campaign's occupancy is over the time its agents were in (an
    // agent of several campaigns counts in each).
    let in_ms: i64 = s
        .store
        .agents()
        .await
        .map_err(unavailable)?
        .iter()
        .filter(|a| a.serves(&c.id))
        .filter_map(|a| working.get(&a.id))
        .sum();
    let mut agents = Vec::new();
    let (mut dials, mut answered, mut handled, mut talk, mut wrap) = (0, 0, 0, 0, 0);
    let mut unbound = json!({"dials": 0, "answered": 0});
    for a in &calls {
        dials += a.dials;
        answered += a.answered;
        // Power and predictive calls that never reached an agent (rang
        // out, machines, abandoned) belong to nobody's row.
        if a.agent_id.is_empty() {
            unbound = json!({"dials": a.dials, "answered": a.answered});
            continue;
        }
        let w = working.get(&a.agent_id).copied().unwrap_or(0);
        agents.push(json!({
            "agent": a.agent_id,
            "dials": a.dials,
            "answered": a.answered,
            "handled": a.handled,
            "aht_seconds": mean_seconds(a.talk_ms + a.wrap_ms, a.handled),
            "talk_seconds": mean_seconds(a.talk_ms, a.handled),
            "wrap_up_seconds": mean_seconds(a.wrap_ms, a.handled),
            "occupancy": occupancy(a.talk_ms + a.wrap_ms, w),
        }));
        handled += a.handled;
        talk += a.talk_ms;
        wrap += a.wrap_ms;
    }
    let snap = s.dialer.snapshot().await;
    Ok(json!({
        "campaign": c.id,
        "state": c.state,
        "window_minutes": window,
        "tasks": counts,
        "decisions_24h": decisions,
        "dispositions": dispositions,
        "dials": dials,
        "dials_per_minute": dials as f64 / window as f64,
        "answered": answered,
        "answer_rate": (dials > 0).then(|| answered as f64 / dials as f64),
        "handled": handled,
        "aht_seconds": mean_seconds(talk + wrap, handled),
        "talk_seconds": mean_seconds(talk, handled),
        "wrap_up_seconds": mean_seconds(wrap, handled),
        "occupancy": occupancy(talk + wrap, in_ms),
        "by_agent": agents,
        "without_agent": unbound,
        "agents": snap.map(|d| d.agent_counts),
    }))
}
