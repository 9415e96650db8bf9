//! Every API route, declared once: its method and path, the roles that may
//! call it, what it does and the body fields it takes. The router is built
//! from this table, the auth layer checks callers against it, and
//! `/api/openapi.json` is generated from it, so the three cannot disagree.

use super::auth::Role::{self, Admin, Metrics, Supervisor, Tasks};
use super::{AppState, agents, campaigns, customers, dnc, pops, tasks, templates, test_calls};
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post};
use serde_json::{Map, Value, json};

pub struct Route {
    pub method: Method,
    /// axum's form: `/api/campaigns/{id}` (OpenAPI's too).
    pub path: &'static str,
    /// Empty: no token needed (the OpenAPI document itself).
    pub roles: &'static [Role],
    pub summary: &'static str,
    /// The JSON body's fields, or `csv` for a CSV body.
    pub body: Body,
    pub handler: fn() -> MethodRouter<AppState>,
}

#[derive(Clone, Copy)]
pub enum Body {
    None,
    Json(&'static [&'static str]),
    Csv,
}

const ADMIN: &[Role] = &[Admin];
const SUPERVISING: &[Role] = &[Admin, Supervisor];
const TASKS: &[Role] = &[Admin, Tasks];
const SCRAPING: &[Role] = &[Admin, Metrics];

fn r(
    method: Method,
    path: &'static str,
    roles: &'static [Role],
    summary: &'static str,
    body: Body,
    handler: fn() -> MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        roles,
        summary,
        body,
        handler,
    }
}

/// The table.
pub fn routes() -> Vec<Route> {
    use Body::{Csv, Json, None};
    vec![
        r(
            Method::GET,
            "/api/openapi.json",
            &[],
            "This document",
            None,
            || get(openapi),
        ),
        r(
            Method::GET,
            "/metrics",
            SCRAPING,
            "Prometheus metrics (OpenMetrics text): calls, pops and their latency, agents, switches, the store writer, the sources",
            None,
            || get(super::metrics::scrape),
        ),
        r(
            Method::GET,
            "/api/cluster",
            SUPERVISING,
            "The cluster: its nodes, the switch leases and the node that drives each agent's switch (a single node: cluster false)",
            None,
            || get(super::cluster::status),
        ),
        r(
            Method::POST,
            "/api/outbound/tasks",
            TASKS,
            "Queue a task",
            Json(tasks::TASK_FIELDS),
            || post(tasks::create),
        ),
        r(
            Method::GET,
            "/api/outbound/tasks",
            TASKS,
            "List tasks (a tasks token: its own) by campaign, status, tag, priority and time, with cursor paging",
            None,
            || get(tasks::list),
        ),
        r(
            Method::POST,
            "/api/outbound/tasks/batch",
            TASKS,
            "Queue up to 1,000 tasks; each bad one is reported by index",
            Json(tasks::BATCH_FIELDS),
            || post(tasks::create_batch),
        ),
        r(
            Method::POST,
            "/api/outbound/tasks/import",
            TASKS,
            "Import tasks from a CSV body (?campaign=), streamed; bad rows reported by line",
            Csv,
            || post(tasks::import),
        ),
        r(
            Method::GET,
            "/api/outbound/tasks/{id}",
            TASKS,
            "A task with its attempts and dial decisions",
            None,
            || get(tasks::get_one),
        ),
        r(
            Method::PATCH,
            "/api/outbound/tasks/{id}",
            TASKS,
            "Change a waiting task",
            Json(tasks::PATCH_FIELDS),
            || patch(tasks::patch),
        ),
        r(
            Method::POST,
            "/api/outbound/tasks/{id}/cancel",
            TASKS,
            "Cancel a waiting task",
            None,
            || post(tasks::cancel),
        ),
        r(
            Method::POST,
            "/api/outbound/tasks/{id}/callback",
            TASKS,
            "Call a waiting task back at a time, by an agent or the pool",
            Json(tasks::CALLBACK_FIELDS),
            || post(tasks::callback),
        ),
        r(
            Method::POST,
            "/api/campaigns",
            SUPERVISING,
            "Create a campaign",
            Json(campaigns::CREATE_FIELDS),
            || post(campaigns::create),
        ),
        r(
            Method::GET,
            "/api/campaigns",
            SUPERVISING,
            "List campaigns",
            None,
            || get(campaigns::list),
        ),
        r(
            Method::GET,
            "/api/campaigns/{id}",
            SUPERVISING,
            "A campaign and its settings",
            None,
            || get(campaigns::get_one),
        ),
        r(
            Method::PATCH,
            "/api/campaigns/{id}",
            SUPERVISING,
            "Change a campaign (settings as a JSON merge patch)",
            Json(campaigns::PATCH_FIELDS),
            || patch(campaigns::patch),
        ),
        r(
            Method::POST,
            "/api/templates/preview",
            ADMIN,
            "A template filled with a customer's record from the sources: the pop an agent would get, or the template's errors with their lines (422)",
            Json(templates::PREVIEW_FIELDS),
            || post(templates::preview),
        ),
        r(
            Method::POST,
            "/api/test-calls",
            ADMIN,
            "Place a test call to a number, put through to an agent who is signed in and available, on a campaign's pop rules (default: the agent's home campaign); answers its first report (201)",
            Json(test_calls::FIELDS),
            || post(test_calls::create),
        ),
        r(
            Method::GET,
            "/api/test-calls/{id}",
            ADMIN,
            "A test call's report: each step timed (originate, ringing, answer, record ready, pop sent, acknowledged, hangup) and the record shown compared field by field with its source's fresh answer",
            None,
            || get(test_calls::get_one),
        ),
        r(
            Method::GET,
            "/api/pops",
            SUPERVISING,
            "The pop log: who was shown which customer's record, when, acknowledged or not, degraded or not, with which template and fields; filters agent, customer, campaign, since, until, degraded, acked; cursor paging",
            None,
            || get(pops::list),
        ),
        r(
            Method::GET,
            "/api/campaigns/{id}/stats",
            SUPERVISING,
            "Tasks, decisions, dispositions, dials a minute, answer rate, handle time and occupancy",
            None,
            || get(campaigns::stats),
        ),
        r(
            Method::POST,
            "/api/campaigns/{id}/{action}",
            SUPERVISING,
            "start, pause, resume or stop (compare and set)",
            None,
            || post(campaigns::transition),
        ),
        r(
            Method::POST,
            "/api/agents",
            SUPERVISING,
            "Create an agent; its token is in the answer, once",
            Json(agents::CREATE_FIELDS),
            || post(agents::create),
        ),
        r(
            Method::GET,
            "/api/agents",
            SUPERVISING,
            "List agents and their states",
            None,
            || get(agents::list),
        ),
        r(
            Method::GET,
            "/api/agents/{id}",
            SUPERVISING,
            "An agent",
            None,
            || get(agents::get_one),
        ),
        r(
            Method::PATCH,
            "/api/agents/{id}",
            SUPERVISING,
            "Change an agent's name, extension or campaigns",
            Json(agents::PATCH_FIELDS),
            || patch(agents::patch),
        ),
        r(
            Method::POST,
            "/api/agents/{id}/token",
            SUPERVISING,
            "A new login token for the agent, shown once",
            None,
            || post(agents::new_token_for),
        ),
        r(
            Method::POST,
            "/api/agents/{id}/{action}",
            SUPERVISING,
            "pause (with a reason) or resume an agent",
            Json(agents::PAUSE_FIELDS),
            || post(agents::pause_or_resume),
        ),
        r(
            Method::POST,
            "/api/dnc",
            SUPERVISING,
            "Add numbers to a do-not-call list",
            Json(dnc::ADD_FIELDS),
            || post(dnc::add),
        ),
        r(
            Method::GET,
            "/api/dnc",
            SUPERVISING,
            "List a do-not-call list",
            None,
            || get(dnc::list),
        ),
        r(
            Method::POST,
            "/api/dnc/import",
            SUPERVISING,
            "Import do-not-call numbers from a CSV body",
            Csv,
            || post(dnc::import),
        ),
        r(
            Method::DELETE,
            "/api/dnc/{phone}",
            SUPERVISING,
            "Remove a number from a do-not-call list",
            None,
            || delete(dnc::remove),
        ),
        r(
            Method::GET,
            "/api/status",
            SUPERVISING,
            "Switches, store writer, pops and sources",
            None,
            || get(super::status),
        ),
        r(
            Method::GET,
            "/api/monitor",
            SUPERVISING,
            "The pop-success monitor: failure rates over its window, overall and per campaign, alerts and the webhook",
            None,
            || get(super::monitor_view),
        ),
        r(
            Method::POST,
            "/api/tokens",
            ADMIN,
            "Create an API token with a role; the token is in the answer, once",
            Json(super::tokens::CREATE_FIELDS),
            || post(super::tokens::create),
        ),
        r(
            Method::GET,
            "/api/tokens",
            ADMIN,
            "List API tokens (names and roles)",
            None,
            || get(super::tokens::list),
        ),
        r(
            Method::DELETE,
            "/api/tokens/{name}",
            ADMIN,
            "Revoke an API token",
            None,
            || delete(super::tokens::remove),
        ),
        r(
            Method::GET,
            "/api/sources",
            ADMIN,
            "Customer data sources and their counters",
            None,
            || get(customers::list),
        ),
        r(
            Method::POST,
            "/api/sources/{name}/test",
            ADMIN,
            "Look a customer up in one source",
            Json(&["key"]),
            || post(customers::test),
        ),
        r(
            Method::DELETE,
            "/api/customers/{key}/cache",
            ADMIN,
            "Drop a customer's cached record",
            None,
            || delete(customers::invalidate),
        ),
        r(
            Method::GET,
            "/api/customers/{key}/history/{source}",
            ADMIN,
            "A page of a customer's history",
            None,
            || get(customers::history),
        ),
    ]
}

/// The route a request matched (by axum's matched path).
pub fn find(method: &Method, path: &str) -> Option<Route> {
    routes()
        .into_iter()
        .find(|r| r.path == path && r.method == method)
}

/// The router's API part, from the table.
pub fn api_router() -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for route in routes() {
        router = router.route(route.path, (route.handler)());
    }
    router
}

/// The OpenAPI 3.1 document of the table.
pub fn openapi_doc() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes() {
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": route.summary,
            "operationId": format!("{} {}", route.method, route.path),
            "parameters": params,
            "x-dialpop-roles": route.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "responses": {
                "200": {"description": "done"},
                "400": {"description": "bad input: {\"error\", \"field\"} names the field"},
                "401": {"description": "no token, or not a valid one"},
                "403": {"description": "the token's role may not do this"},
                "404": {"description": "no such object"},
                "409": {"description": "the object's state does not allow it"}
            }
        });
        if route.roles.is_empty() {
            op["security"] = json!([]);
        }
        match route.body {
            Body::None => {}
            Body::Csv => {
                op["requestBody"] = json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}});
            }
            Body::Json(fields) => {
                let props: Map<String, Value> =
                    fields.iter().map(|f| (f.to_string(), json!({}))).collect();
                op["requestBody"] = json!({"content": {"application/json": {"schema": {
                    "type": "object", "properties": props, "additionalProperties": false}}}});
            }
        }
        let method = route.method.as_str().to_ascii_lowercase();
        paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(method, op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dialpop",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Campaigns, tasks, agents and do-not-call lists of a dialpop daemon. Every operation but this document needs `Authorization: Bearer <token>`; `x-dialpop-roles` lists the roles that may call it."
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    })
}

async fn openapi() -> axum::Json<Value> {
    axum::Json(openapi_doc())
}
