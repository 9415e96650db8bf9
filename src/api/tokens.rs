//! `/api/tokens` (admin): API tokens with a role, shown once when made and
//! kept only as hashes.

use super::auth::Role;
use super::input::{self, bad, respond, unavailable};
use super::{ApiError, AppState, error};
use crate::campaign::valid_name;
use crate::store::token_hash;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

pub const CREATE_FIELDS: &[&str] = &["name", "role"];

pub async fn create(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    respond(create_token(&s, &body).await)
}

async fn create_token(s: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let m = input::object(body, CREATE_FIELDS)?;
    let name = input::req_str(&m, "name")?;
    // "admin" names the config file's token.
    if !valid_name(&name, 64) || name == "admin" {
        return Err(bad(
            "name",
            format!(
                "name: {name:?} is not a token name (1 to 64 of A-Z a-z 0-9 _ . -, not \"admin\")"
            ),
        ));
    }
    let role = input::req_str(&m, "role")?;
    let role = Role::parse(&role).ok_or_else(|| {
        bad(
            "role",
            format!("role: {role:?} is not admin, supervisor, tasks or metrics"),
        )
    })?;
    let token = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    if !s
        .store
        .insert_api_token(&name, role.as_str(), &token_hash(&token))
        .await
        .map_err(unavailable)?
    {
        return Err(error(
            StatusCode::CONFLICT,
            format!("token {name:?} exists"),
            Some("name"),
        ));
    }
    tracing::info!(token = %name, role = role.as_str(), "API token created");
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "role": role, "token": token})),
    )
        .into_response())
}

pub async fn list(State(s): State<AppState>) -> Response {
    respond(
        async {
            let tokens = s.store.api_tokens().await.map_err(unavailable)?;
            let out: Vec<_> = tokens
                .into_iter()
                .map(|(name, role, created)| {
                    json!({"name": name, "role": role,
                           "created": chrono::DateTime::from_timestamp_millis(created).map(|t| t.to_rfc3339())})
                })
                .collect();
            Ok(Json(json!({"tokens": out})).into_response())
        }
        .await,
    )
}

pub async fn remove(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    respond(
        async {
            if !s.store.delete_api_token(&name).await.map_err(unavailable)? {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!("no token {name:?}"),
                    None,
                ));
            }
            tracing::info!(token = %name, "API token revoked");
            Ok(Json(json!({"name": name, "revoked": true})).into_response())
        }
        .await,
    )
}
