//! `/api/dnc`: the do-not-call lists (global, or a campaign's), by number
//! in E.164, one at a time or as a CSV file.

use super::input::{self, bad, respond, unavailable};
use super::{ApiError, AppState, error};
use crate::campaign::import::{ImportError, import_dnc};
use crate::campaign::phone;
use crate::store::{DncEntry, now_ms};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use std::collections::HashMap;

pub const ADD_FIELDS: &[&str] = &["phone", "campaign", "reason"];

/// The region numbers are read in: the campaign's, else `?region=`, else US.
async fn region_for(
    s: &AppState,
    campaign: Option<&str>,
    q: &HashMap<String, String>,
) -> Result<phonenumber::country::Id, ApiError> {
    if let Some(r) = q.get("region") {
        return phone::region(r)
            .ok_or_else(|| bad("region", format!("{r:?} is not an ISO 3166 region")));
    }
    match campaign {
        Some(c) => {
            let c = super::tasks::campaign_for(s, c, "campaign").await?;
            Ok(phone::region(&c.settings.region).unwrap_or(phonenumber::country::Id::US))
        }
        None => Ok(phonenumber::country::Id::US),
    }
}

/// `POST /api/dnc`: `{"phone": .., "campaign": .. (none: global), "reason": ..}`.
pub async fn add(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    respond(
        async {
            let m = input::object(&body, ADD_FIELDS)?;
            let campaign = input::opt_str(&m, "campaign")?;
            let region = region_for(&s, campaign.as_deref(), &q).await?;
            let number = phone::normalise(&input::req_str(&m, "phone")?, region)
                .map_err(|e| bad("phone", format!("phone {e}")))?;
            let reason = input::opt_str(&m, "reason")?;
            if reason
                .as_ref()
                .is_some_and(|r| r.len() > 200 || r.chars().any(char::is_control))
            {
                return Err(bad(
                    "reason",
                    "reason must be at most 200 characters, none of them control characters",
                ));
            }
            let e = DncEntry {
                phone: number.e164,
                campaign_id: campaign,
                reason,
                added_ms: now_ms(),
            };
            let added = s
                .store
                .add_dnc(std::slice::from_ref(&e))
                .await
                .map_err(unavailable)?;
            let code = if added == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((code, Json(json!({"entry": e, "created": added == 1}))).into_response())
        }
        .await,
    )
}

pub async fn list(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    respond(
        async {
            let limit = input::query_i64(&q, "limit")?.unwrap_or(100);
            if !(1..=1000).contains(&limit) {
                return Err(bad("limit", "must be 1 to 1000"));
            }
            let after = q.get("cursor").map(String::as_str).unwrap_or("");
            let entries = s
                .store
                .dnc_list(q.get("campaign").map(String::as_str), after, limit as u32)
                .await
                .map_err(unavailable)?;
            let next = (entries.len() == limit as usize)
                .then(|| entries.last().map(|e| e.phone.clone()))
                .flatten();
            Ok(Json(json!({"entries": entries, "next_cursor": next})).into_response())
        }
        .await,
    )
}

/// `DELETE /api/dnc/{phone}?campaign=C`.
pub async fn remove(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    respond(
        async {
            let campaign = q.get("campaign").map(String::as_str);
            let region = region_for(&s, campaign, &q).await?;
            let number =
                phone::normalise(&raw, region).map_err(|e| bad("phone", format!("phone {e}")))?;
            if s.store
                .remove_dnc(&number.e164, campaign)
                .await
                .map_err(unavailable)?
            {
                Ok(Json(json!({"removed": number.e164})).into_response())
            } else {
                Err(error(
                    StatusCode::NOT_FOUND,
                    format!("{} is not on that list", number.e164),
                    None,
                ))
            }
        }
        .await,
    )
}

/// `POST /api/dnc/import?campaign=C`: a CSV body with a `phone` column.
pub async fn import(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Body,
) -> Response {
    respond(
        async {
            let campaign = q.get("campaign").cloned();
            let region = region_for(&s, campaign.as_deref(), &q).await?;
            let report = import_dnc(&s.store, campaign, region, super::body_reader(body), |_| {})
                .await
                .map_err(|e| match e {
                    ImportError::File(m) => bad("file", m),
                    ImportError::Store(e) => unavailable(e),
                })?;
            Ok(Json(report).into_response())
        }
        .await,
    )
}
