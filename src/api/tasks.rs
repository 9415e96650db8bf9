//! `/api/outbound/tasks`: queue customers for a campaign (one, a batch, or
//! a CSV file), list them, change or cancel them while they wait.

use super::auth::Caller;
use super::input::{self, bad, respond, unavailable};
use super::{ApiError, AppState, error};
use crate::campaign::import::{ImportError, import_tasks};
use crate::campaign::intake::{TaskInput, intake};
use crate::store::{Campaign, PatchRefused, Task, TaskPatch, TaskQuery, TaskStatus, now_ms};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub const BATCH_FIELDS: &[&str] = &["campaign", "tasks"];
pub const CALLBACK_FIELDS: &[&str] = &["at", "agent_id"];
pub const PATCH_FIELDS: &[&str] = &["priority", "tags", "not_before", "not_after", "variables"];
pub const TASK_FIELDS: &[&str] = &[
    "campaign",
    "customer_id",
    "phone",
    "priority",
    "tags",
    "not_before",
    "not_after",
    "time_zone",
    "variables",
    "idempotency_key",
];
/// Tasks in one batch request.
pub const MAX_BATCH: usize = 1_000;

fn task_input(m: &Map<String, Value>) -> Result<TaskInput, ApiError> {
    Ok(TaskInput {
        customer_id: input::req_str(m, "customer_id")?,
        phone: input::req_str(m, "phone")?,
        priority: input::opt_i64(m, "priority")?,
        tags: input::str_list(m, "tags")?.unwrap_or_default(),
        not_before: input::opt_str(m, "not_before")?,
        not_after: input::opt_str(m, "not_after")?,
        time_zone: input::opt_str(m, "time_zone")?,
        variables: input::str_map(m, "variables")?.unwrap_or_default(),
        idempotency_key: input::opt_str(m, "idempotency_key")?,
    })
}

pub async fn campaign_for(s: &AppState, id: &str, field: &str) -> Result<Campaign, ApiError> {
    s.store
        .campaign(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| bad(field, format!("no campaign {id:?}")))
}

/// A task as the API shows it: times in RFC 3339.
pub fn task_json(t: &Task) -> Value {
    let time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
    json!({
        "id": t.id,
        "campaign": t.campaign_id,
        "customer_id": t.customer_id,
        "phone": t.phone,
        "priority": t.priority,
        "status": t.status,
        "attempts": t.attempts,
        "tags": t.tags,
        "due": time(t.due_ms),
        "not_before": t.not_before_ms.and_then(time),
        "not_after": t.not_after_ms.and_then(time),
        "time_zone": t.time_zone,
        "variables": t.variables,
        "idempotency_key": t.idempotency_key,
        "last_cause": t.last_cause,
        "submitted_by": t.submitted_by,
        "callback_agent": t.agent_id,
        "callback_agent_until": t.agent_until_ms.and_then(time),
        "created": time(t.created_ms),
    })
}

pub async fn create(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Response {
    respond(create_one(&s, &caller, &body).await)
}

async fn create_one(s: &AppState, caller: &Caller, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, TASK_FIELDS)?;
    let campaign = campaign_for(s, &input::req_str(&m, "campaign")?, "campaign").await?;
    let task = intake(&task_input(&m)?, &campaign, now_ms(), Some(&caller.name))
        .map_err(|e| bad(&e.field, format!("{}: {}", e.field, e.message)))?;
    let added = s.store.add_task(&task).await.map_err(unavailable)?;
    s.dialer.tasks_added().await;
    let code = if added.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(json!({"task_id": added.id, "created": added.created, "status": "pending", "phone": task.phone})),
    )
        .into_response())
}

/// `POST /api/outbound/tasks/batch`: `{"campaign": C, "tasks": [...]}`;
/// each task may name its own campaign. Good tasks are kept; each bad one
/// is reported with its index.
pub async fn create_batch(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Response {
    respond(batch(&s, &caller, &body).await)
}

async fn batch(s: &AppState, caller: &Caller, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, BATCH_FIELDS)?;
    let default = input::opt_str(&m, "campaign")?;
    let items = match m.get("tasks") {
        Some(Value::Array(a)) if a.len() <= MAX_BATCH => a,
        Some(Value::Array(_)) => {
            return Err(bad("tasks", format!("at most {MAX_BATCH} tasks a request")));
        }
        _ => return Err(bad("tasks", "tasks must be a list of task objects")),
    };
    let now = now_ms();
    let mut campaigns: HashMap<String, Campaign> = HashMap::new();
    let mut good = Vec::new();
    let mut results: Vec<Value> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let one = async {
            let Value::Object(t) = item else {
                return Err(bad("tasks", "each task must be an object"));
            };
            input::check_keys(t, TASK_FIELDS)?;
            let id = match (input::opt_str(t, "campaign")?, &default) {
                (Some(c), _) => c,
                (None, Some(c)) => c.clone(),
                (None, None) => return Err(bad("campaign", "campaign is required")),
            };
            if !campaigns.contains_key(&id) {
                let c = campaign_for(s, &id, "campaign").await?;
                campaigns.insert(id.clone(), c);
            }
            let c = &campaigns[&id];
            intake(&task_input(t)?, c, now, Some(&caller.name))
                .map_err(|e| bad(&e.field, format!("{}: {}", e.field, e.message)))
        };
        match one.await {
            Ok(t) => {
                good.push((i, t));
                results.push(Value::Null);
            }
            Err(e) => results.push(json!({"index": i, "error": e.message(), "field": e.field()})),
        }
    }
    let tasks: Vec<_> = good.iter().map(|(_, t)| t.clone()).collect();
    let added = s.store.add_tasks(&tasks).await.map_err(unavailable)?;
    for ((i, _), a) in good.iter().zip(&added) {
        results[*i] = json!({"index": i, "task_id": a.id, "created": a.created});
    }
    if !added.is_empty() {
        s.dialer.tasks_added().await;
    }
    let rejected = results.iter().filter(|r| r.get("error").is_some()).count();
    Ok(Json(json!({
        "added": added.iter().filter(|a| a.created).count(),
        "duplicates": added.iter().filter(|a| !a.created).count(),
        "rejected": rejected,
        "results": results,
    }))
    .into_response())
}

/// `POST /api/outbound/tasks/import?campaign=C`: a CSV body, streamed.
pub async fn import(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Body,
) -> Response {
    respond(import_csv(&s, &caller, &q, body).await)
}

async fn import_csv(
    s: &AppState,
    caller: &Caller,
    q: &HashMap<String, String>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let id = q
        .get("campaign")
        .ok_or_else(|| bad("campaign", "campaign is required (?campaign=ID)"))?;
    let campaign = campaign_for(s, id, "campaign").await?;
    let report = import_tasks(
        &s.store,
        &campaign,
        super::body_reader(body),
        Some(caller.name.clone()),
        |_| {},
    )
    .await
    .map_err(|e| match e {
        ImportError::File(m) => bad("file", m),
        ImportError::Store(e) => unavailable(e),
    })?;
    if report.added > 0 {
        s.dialer.tasks_added().await;
    }
    Ok(Json(report).into_response())
}

pub async fn list(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    respond(list_tasks(&s, &caller, &q).await)
}

async fn list_tasks(
    s: &AppState,
    caller: &Caller,
    q: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    const KNOWN: &[&str] = &[
        "campaign",
        "status",
        "tag",
        "min_priority",
        "max_priority",
        "due_from",
        "due_until",
        "created_from",
        "created_until",
        "cursor",
        "limit",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(
            k,
            format!("unknown parameter {k:?} (known: {})", KNOWN.join(", ")),
        ));
    }
    let status = q
        .get("status")
        .map(|v| {
            TaskStatus::parse(v).ok_or_else(|| bad("status", format!("{v:?} is not a task status")))
        })
        .transpose()?;
    let limit = input::query_i64(q, "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit", "must be 1 to 1000"));
    }
    let query = TaskQuery {
        campaign_id: q.get("campaign").cloned(),
        status,
        tag: q.get("tag").cloned(),
        min_priority: input::query_i64(q, "min_priority")?,
        max_priority: input::query_i64(q, "max_priority")?,
        due_from_ms: input::query_time(q, "due_from")?,
        due_until_ms: input::query_time(q, "due_until")?,
        created_from_ms: input::query_time(q, "created_from")?,
        created_until_ms: input::query_time(q, "created_until")?,
        submitted_by: caller.own_tasks_only().map(String::from),
        after_id: input::query_i64(q, "cursor")?.unwrap_or(0),
        limit: limit as u32,
    };
    let tasks = s.store.tasks(&query).await.map_err(unavailable)?;
    // A full page may have more after it; the cursor is the last id seen.
    let next = (tasks.len() == query.limit as usize)
        .then(|| tasks.last().map(|t| t.id.to_string()))
        .flatten();
    Ok(Json(json!({
        "tasks": tasks.iter().map(task_json).collect::<Vec<_>>(),
        "next_cursor": next,
    }))
    .into_response())
}

pub async fn get_one(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    respond(get_task(&s, &caller, id).await)
}

/// The task, if the caller may see it: a `tasks` token's own only (another's
/// is "not found", not "forbidden": its existence is not told either).
async fn visible_task(s: &AppState, caller: &Caller, id: i64) -> Result<Task, ApiError> {
    s.store
        .task(id)
        .await
        .map_err(unavailable)?
        .filter(|t| {
            caller
                .own_tasks_only()
                .is_none_or(|me| t.submitted_by.as_deref() == Some(me))
        })
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no task {id}"), None))
}

async fn get_task(s: &AppState, caller: &Caller, id: i64) -> Result<Response, ApiError> {
    let t = visible_task(s, caller, id).await?;
    let attempts = s.store.attempts_for_task(id).await.map_err(unavailable)?;
    let decisions = s.store.decisions_for_task(id).await.map_err(unavailable)?;
    let mut v = task_json(&t);
    v["attempts_made"] = json!(attempts);
    v["decisions"] = json!(decisions);
    Ok(Json(v).into_response())
}

pub async fn patch(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    respond(patch_task(&s, &caller, id, &body, false).await)
}

pub async fn cancel(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    respond(patch_task(&s, &caller, id, b"{}", true).await)
}

/// `POST /api/outbound/tasks/{id}/callback` `{"at": RFC 3339, "agent_id":
/// optional}`: the waiting task is called back then, by that agent (the
/// campaign's pool after its grace) or by the pool.
pub async fn callback(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    respond(set_callback(&s, &caller, id, &body).await)
}

async fn set_callback(
    s: &AppState,
    caller: &Caller,
    id: i64,
    body: &[u8],
) -> Result<Response, ApiError> {
    let m = input::object(body, CALLBACK_FIELDS)?;
    let at = input::req_str(&m, "at")?;
    let at_ms = chrono::DateTime::parse_from_rfc3339(&at)
        .map_err(|e| bad("at", format!("at: {at:?} is not an RFC 3339 time: {e}")))?
        .timestamp_millis();
    let now = now_ms();
    if at_ms > now + crate::campaign::disposition::MAX_CALLBACK_AHEAD_MS {
        return Err(bad("at", "at: at most 90 days ahead"));
    }
    let current = visible_task(s, caller, id).await?;
    let campaign = campaign_for(s, &current.campaign_id, "campaign").await?;
    let agent = match input::opt_str(&m, "agent_id")? {
        None => None,
        Some(a) => {
            let agent = s
                .store
                .agent(&a)
                .await
                .map_err(unavailable)?
                .filter(|g| g.serves(&campaign.id))
                .ok_or_else(|| {
                    bad(
                        "agent_id",
                        format!("agent_id: no agent {a:?} serves campaign {}", campaign.id),
                    )
                })?;
            let grace = (campaign.settings.callback_grace_seconds * 1000.0) as i64;
            Some((agent.id, at_ms.max(now) + grace))
        }
    };
    let patch = TaskPatch {
        due_ms: Some(at_ms.max(now)),
        agent: Some(agent),
        ..TaskPatch::default()
    };
    match s.store.patch_task(id, &patch).await.map_err(unavailable)? {
        Ok(t) => {
            s.dialer.tasks_added().await;
            Ok(Json(task_json(&t)).into_response())
        }
        Err(PatchRefused::NotFound) => {
            Err(error(StatusCode::NOT_FOUND, format!("no task {id}"), None))
        }
        Err(PatchRefused::NotChangeable(st)) => Err(error(
            StatusCode::CONFLICT,
            format!("task {id} is {} and can no longer be changed", st.as_str()),
            Some("status"),
        )),
    }
}

async fn patch_task(
    s: &AppState,
    caller: &Caller,
    id: i64,
    body: &[u8],
    cancel: bool,
) -> Result<Response, ApiError> {
    let m = input::object(body, PATCH_FIELDS)?;
    let current = visible_task(s, caller, id).await?;
    let campaign = campaign_for(s, &current.campaign_id, "campaign").await?;
    // The change is checked as a whole task would be: the same rules.
    let time = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339())
    };
    let mut input = TaskInput {
        customer_id: current.customer_id.clone(),
        phone: current.phone.clone(),
        priority: Some(current.priority),
        tags: current.tags.clone(),
        not_before: time(current.not_before_ms),
        not_after: time(current.not_after_ms),
        time_zone: current.time_zone.clone(),
        variables: current
            .variables
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect(),
        idempotency_key: None,
    };
    if let Some(p) = input::opt_i64(&m, "priority")? {
        input.priority = Some(p);
    }
    if let Some(t) = input::str_list(&m, "tags")? {
        input.tags = t;
    }
    if m.contains_key("not_before") {
        input.not_before = input::opt_str(&m, "not_before")?;
    }
    if m.contains_key("not_after") {
        input.not_after = input::opt_str(&m, "not_after")?;
    }
    if let Some(v) = input::str_map(&m, "variables")? {
        input.variables = v;
    }
    let checked = intake(&input, &campaign, now_ms(), None)
        .map_err(|e| bad(&e.field, format!("{}: {}", e.field, e.message)))?;
    let patch = TaskPatch {
        priority: Some(checked.priority),
        tags: Some(checked.tags),
        due_ms: (m.contains_key("not_before")).then_some(checked.due_ms),
        not_before_ms: Some(checked.not_before_ms),
        not_after_ms: Some(checked.not_after_ms),
        variables: Some(checked.variables),
        agent: None,
        cancel,
    };
    match s.store.patch_task(id, &patch).await.map_err(unavailable)? {
        Ok(t) => Ok(Json(task_json(&t)).into_response()),
        Err(PatchRefused::NotFound) => {
            Err(error(StatusCode::NOT_FOUND, format!("no task {id}"), None))
        }
        Err(PatchRefused::NotChangeable(st)) => Err(error(
            StatusCode::CONFLICT,
            format!("task {id} is {} and can no longer be changed", st.as_str()),
            Some("status"),
        )),
    }
}
