//! `GET /api/cluster`: the nodes, the switch leases and where each agent
//! is driven, as the shared store has them, so that any node answers the
//! same. A single node answers that it is one.

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What a cluster node's API knows of the cluster.
#[derive(Clone)]
pub struct ClusterView {
    pub node: String,
    pub shards: crate::dialer::Shards,
    pub leases: crate::cluster::lease_store::LeaseStore,
    pub homes: crate::cluster::home::Homes,
    /// How long a silent node still counts as alive.
    pub lease: std::time::Duration,
}

pub async fn status(State(s): State<AppState>) -> Response {
    let Some(c) = &s.cluster else {
        return Json(json!({"cluster": false})).into_response();
    };
    let (nodes, leases, agents) = match (
        c.leases.nodes().await,
        c.leases.leases().await,
        s.store.agents().await,
    ) {
        (Ok(n), Ok(l), Ok(a)) => (n, l, a),
        (Err(e), ..) | (_, Err(e), _) => return unavailable(&e.to_string()),
        (.., Err(e)) => return unavailable(&e.to_string()),
    };
    let lease_ms = c.lease.as_millis() as i64;
    let agents: Vec<serde_json::Value> = agents
        .iter()
        .map(|a| {
            let switch = c.homes.home_of(&a.id);
            let node = switch.and_then(|sw| {
                leases
                    .iter()
                    .find(|l| l.switch_name == sw && l.expires_in_ms > 0)
                    .map(|l| l.node_id.clone())
            });
            json!({"agent_id": a.id, "switch": switch, "node": node})
        })
        .collect();
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            json!({
                "node_id": n.node_id,
                "http_addr": n.http_addr,
                "started_ms": n.started_ms,
                "silent_ms": n.silent_ms,
                "alive": n.silent_ms < lease_ms,
                "switches": leases.iter()
                    .filter(|l| l.node_id == n.node_id && l.expires_in_ms > 0)
                    .map(|l| l.switch_name.clone())
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "cluster": true,
        "node": c.node,
        "driving": c.shards.switches(),
        "nodes": nodes,
        "leases": leases,
        "agents": agents,
    }))
    .into_response()
}

fn unavailable(e: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": format!("the cluster's tables cannot be read: {e}")})),
    )
        .into_response()
}
