//! Who is calling the API, and whether their role may: every `/api/` route
//! is declared with the roles it allows (`routes`), and this layer checks
//! the bearer token against them before the handler runs. A route that is
//! not declared is refused, so a new one cannot be left open by mistake.

use super::{AppState, error};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Campaigns, agents, do-not-call lists, stats; no customer records and
    /// no tasks (which carry customers' numbers and variables).
    Supervisor,
    /// Submits tasks and reads its own, nothing else.
    Tasks,
    /// Reads `/metrics` (a Prometheus scraper), nothing else.
    Metrics,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Tasks => "tasks",
            Role::Metrics => "metrics",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "tasks" => Some(Role::Tasks),
            "metrics" => Some(Role::Metrics),
            _ => None,
        }
    }
}

/// The token's owner, for the handlers (a `tasks` caller sees only the
/// tasks it submitted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// The submitter a task list is limited to: a `tasks` token's own.
    pub fn own_tasks_only(&self) -> Option<&str> {
        (self.role == Role::Tasks).then_some(self.name.as_str())
    }
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Too many failed sign-ins from the caller's address.
pub fn too_many() -> impl IntoResponse {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed sign-ins from this address; try again in a minute",
        None,
    )
}

/// The caller, or the answer to give (and whether a token was given and
/// was wrong: a failed sign-in).
async fn caller(s: &AppState, token: Option<&str>) -> Result<Caller, (Response, bool)> {
    let unauthorized = |m: &str| {
        (
            error(StatusCode::UNAUTHORIZED, m, None).into_response(),
            true,
        )
    };
    let token = match token {
        Some(t) if !t.is_empty() => t,
        _ => {
            return Err((
                error(
                    StatusCode::UNAUTHORIZED,
                    "missing bearer token (Authorization: Bearer ...)",
                    None,
                )
                .into_response(),
                false,
            ));
        }
    };
    let hash = crate::store::token_hash(token);
    if super::constant_time_eq(
        hash.as_bytes(),
        s.api_token_sha256.to_ascii_lowercase().as_bytes(),
    ) {
        return Ok(Caller {
            name: "admin".into(),
            role: Role::Admin,
        });
    }
    match s.store.api_token_by_hash(&hash).await {
        Ok(Some((name, role))) => match Role::parse(&role) {
            Some(role) => Ok(Caller { name, role }),
            None => Err(unauthorized("invalid bearer token")),
        },
        Ok(None) => Err(unauthorized("invalid bearer token")),
        Err(e) => Err((super::input::unavailable(e).into_response(), false)),
    }
}

/// The route layer: declared routes get their caller checked; the pages,
/// health checks and the agent socket (which signs in with its own first
/// frame) are not under `/api/`.
pub async fn authorize(
    State(s): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = matched.as_ref().map(|m| m.as_str()).unwrap_or("");
    if !path.starts_with("/api/") && path != "/metrics" {
        return next.run(req).await;
    }
    let Some(route) = super::routes::find(req.method(), path) else {
        tracing::error!(%path, "an API route is not declared in api::routes; refused");
        return error(StatusCode::FORBIDDEN, "this route is not declared", None).into_response();
    };
    if route.roles.is_empty() {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<super::guard::Peer>()
        .map(|p| p.0)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let now = std::time::Instant::now();
    if s.guard.locked(peer, now) {
        return too_many().into_response();
    }
    let c = match caller(&s, bearer(&req)).await {
        Ok(c) => c,
        Err((r, bad_token)) => {
            if bad_token {
                s.guard.failed(peer, now);
            }
            return r;
        }
    };
    if !route.roles.contains(&c.role) {
        let allowed: Vec<&str> = route.roles.iter().map(|r| r.as_str()).collect();
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "a {} token may not do this (allowed: {})",
                c.role.as_str(),
                allowed.join(", ")
            ),
            None,
        )
        .into_response();
    }
    req.extensions_mut().insert(c);
    next.run(req).await
}
