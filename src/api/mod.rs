//! HTTP: the agent page and its WebSocket, the REST API, health.

pub mod agents;
pub mod auth;
pub mod campaigns;
pub mod cluster;
pub mod customers;
pub mod dnc;
pub mod guard;
pub mod history_page;
pub mod input;
pub mod metrics;
pub mod pops;
pub mod routes;
pub mod tasks;
pub mod templates;
pub mod test_calls;
pub mod tls;
pub mod tokens;
pub mod ws;
pub mod ws_relay;

use crate::dialer::DialerHandle;
use crate::popup::hub::AgentHub;
use crate::store::Store;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub dialer: DialerHandle,
    pub hub: AgentHub,
    pub customers: crate::customer::CustomerService,
    pub writer: crate::store::writer::StoreWriter,
    pub monitor: crate::monitor::Monitor,
    pub guard: guard::Guard,
    /// SHA-256 (hex) of the API bearer token.
    pub api_token_sha256: String,
    /// A cluster node's view of the cluster (None: a single node).
    pub cluster: Option<cluster::ClusterView>,
    /// A cluster node with a broker: pages whose switch another node
    /// drives are relayed to it.
    pub relay: Option<crate::cluster::relay::Relay>,
}

async fn monitor_view(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> axum::Json<crate::monitor::MonitorView> {
    axum::Json(s.monitor.view())
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/agent", get(agent_page))
        .route("/admin", get(admin_page))
        .route("/ws/agent", get(ws::agent_socket))
        .merge(routes::api_router())
        // Every /api/ route passes the caller's role check of its entry.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(axum::middleware::from_fn(guard::peer))
        .with_state(state)
}

/// A request body as a blocking reader, for a parser on its own thread:
/// the body is read as the parser asks for it, never held whole.
pub fn body_reader(body: axum::body::Body) -> impl std::io::Read + Send + 'static {
    use futures::TryStreamExt;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and at least one switch takes calls. The
/// status code is for probes; the details (each switch's link and health,
/// the store, each source's counters) need the API token.
async fn readyz(
    axum::extract::State(s): axum::extract::State<AppState>,
    headers: HeaderMap,
) -> Response {
    let store_ok = s.store.task_counts("").await.is_ok();
    let snap = s.dialer.snapshot().await;
    let switch_ok = snap.as_ref().is_some_and(|d| {
        d.switches
            .iter()
            .any(|w| w.link == crate::dialer::switches::Link::Up && w.healthy)
    });
    // A cluster node that drives no switch still serves pages and the
    // API: the balancer in front of the pages must keep sending to it.
    let ready = store_ok && (switch_ok || s.cluster.is_some());
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if check_bearer(&headers, &s.api_token_sha256).is_err() {
        return (code, Json(json!({"ready": ready}))).into_response();
    }
    let sources: Vec<serde_json::Value> = s
        .customers
        .sources()
        .into_iter()
        .map(|st| serde_json::to_value(st).unwrap_or_default())
        .collect();
    let body = json!({
        "ready": ready,
        "store": {"ok": store_ok, "writer": snap.as_ref().map(|d| d.writer)},
        "switches": snap.as_ref().map(|d| d.switches.clone()).unwrap_or_default(),
        "draining": snap.as_ref().is_some_and(|d| d.draining),
        "sources": sources,
        "cluster": s.cluster.as_ref().map(|c| json!({
            "node": c.node,
            "driving": c.shards.switches(),
            "broker": s.relay.as_ref().map(|r| if r.connected() { "connected" } else { "down" }),
        })),
    });
    (code, Json(body)).into_response()
}

async fn agent_page() -> impl IntoResponse {
    (
        // The page carries its own strict Content-Security-Policy (its one
        // script allowed by hash), kept next to the script it describes. Who
        // may frame it is a header: browsers ignore frame-ancestors in a
        // meta tag. Only dialpop's own admin page frames it (the preview),
        // so no other site can put an agent's screen under its own.
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'self'"),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        Html(crate::web::agent_page()),
    )
}

/// The admin page: static, like the agent page; everything it shows comes
/// from the API with an admin token.
async fn admin_page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // Nobody frames the admin page (clickjacking its buttons).
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        Html(crate::web::admin_page()),
    )
}

/// A JSON error, `{"error": .., "field": ..}`, with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message});
        if let Some(f) = self.field {
            body["field"] = json!(f);
        }
        (self.status, Json(body)).into_response()
    }
}

/// An error about `field` (when given) of the request.
pub fn error(status: StatusCode, message: impl Into<String>, field: Option<&str>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
        field: field.map(str::to_string),
    }
}

/// Checks `Authorization: Bearer <token>` against the configured hash.
pub fn check_bearer(headers: &HeaderMap, expected_sha256: &str) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t)
            if !t.is_empty()
                && constant_time_eq(
                    crate::store::token_hash(t).as_bytes(),
                    expected_sha256.to_ascii_lowercase().as_bytes(),
                ) =>
        {
            Ok(())
        }
        Some(_) => Err(error(
            StatusCode::UNAUTHORIZED,
            "invalid bearer token",
            None,
        )),
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "missing bearer token (Authorization: Bearer ...)",
            None,
        )),
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn status(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    match s.dialer.snapshot().await {
        Some(snap) => Json(snap).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "dialer not running", None).into_response(),
    }
}
