//! What every source driver does: one request for one lookup, answered with
//! a JSON document (or "not found"), or a failure that says precisely why.
//!
//! Drivers know their wire (SQL, HTTP) and nothing else: mapping, caching,
//! the circuit breaker and aggregation live above them, the same for all.

use super::keys::Lookup;
use async_trait::async_trait;
use serde::Serialize;
use std::borrow::Cow;

/// Which page of a history source is wanted. Record sources ignore it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
    /// The cursor a previous page returned (cursor paging).
    pub cursor: Option<String>,
}

/// One request's inputs: the customer's keys and the page.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub lookup: &'a Lookup,
    pub page: &'a PageRequest,
}

impl Query<'_> {
    /// The value of a named parameter, as SQL binds and URL templates see
    /// it: `customer_id`, `phone` (E.164), `phone_raw`, `email`,
    /// `campaign_id`, `task_id`, `var.NAME` (a task variable), `limit`,
    /// `offset`, `cursor`. `None` when the lookup does not have it.
    pub fn param(&self, name: &str) -> Option<Cow<'_, str>> {
        match name {
            "limit" => Some(Cow::Owned(self.page.limit.to_string())),
            "offset" => Some(Cow::Owned(self.page.offset.to_string())),
            "cursor" => self.page.cursor.as_deref().map(Cow::Borrowed),
            _ => self.lookup.param(name).map(Cow::Borrowed),
        }
    }
}

/// The names `Query::param` knows (a config naming another is refused at
/// load time).
pub fn known_param(name: &str) -> bool {
    matches!(
        name,
        "customer_id"
            | "phone"
            | "phone_raw"
            | "email"
            | "campaign_id"
            | "task_id"
            | "limit"
            | "offset"
            | "cursor"
    ) || name
        .strip_prefix("var.")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// What a source answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    /// A REST body parsed as JSON; for SQL, the first row as an object
    /// (record sources) or all rows as an array (history sources).
    Found {
        doc: serde_json::Value,
        /// The response as received (body text, or the rows as JSON), for
        /// `dialpop source test`. Never logged: it holds personal data.
        raw: String,
    },
    /// HTTP 404, or no row.
    NotFound { raw: String },
}

/// Why a request failed, by kind (counted per source and kind) and with a
/// detail that names no customer data (no URL with a phone in it, no
/// bound values).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct SourceError {
    pub kind: FailureKind,
    pub detail: String,
}

impl SourceError {
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> SourceError {
        SourceError {
            kind,
            detail: detail.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The host name did not resolve.
    Dns,
    /// TCP connect refused or unreachable.
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// Credentials refused (HTTP 401/403, OAuth token refused, database
    /// login refused).
    Auth,
    /// Any other HTTP status that is not a success (404 is "not found").
    HttpStatus(u16),
    Timeout,
    /// The body is not JSON (or not the JSON the source expects).
    Json,
    /// A field could not be mapped (names the field, path and value kind).
    Mapping,
    /// The circuit breaker is open: the source failed repeatedly and is
    /// left alone for a while.
    CircuitOpen,
    /// The database refused the query or failed during it.
    Database,
    /// The response exceeded the size dialpop accepts.
    TooLarge,
    /// The lookup lacks the key the source is asked by (no e-mail address
    /// known for an e-mail-keyed source).
    MissingKey,
}

impl FailureKind {
    /// A short label, for counters and the `reason` of a degraded pop.
    pub fn label(&self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::Connect => "connect",
            FailureKind::Tls => "tls",
            FailureKind::Auth => "auth",
            FailureKind::HttpStatus(_) => "http_status",
            FailureKind::Timeout => "timeout",
            FailureKind::Json => "json",
            FailureKind::Mapping => "mapping",
            FailureKind::CircuitOpen => "circuit_open",
            FailureKind::Database => "database",
            FailureKind::TooLarge => "too_large",
            FailureKind::MissingKey => "missing_key",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureKind::HttpStatus(s) => write!(f, "HTTP status {s}"),
            k => f.write_str(k.label()),
        }
    }
}

/// One source's wire.
#[async_trait]
pub trait SourceDriver: Send + Sync + 'static {
    /// One request (with the driver's own retries, if any), bounded by the
    /// source's timeout.
    async fn fetch(&self, q: &Query<'_>) -> Result<Raw, SourceError>;
    /// Where it points, for listings and logs: no secret, no password.
    fn describe(&self) -> String;
}
