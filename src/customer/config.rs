//! The `[customer]` table and the `[[source]]` tables of the config file.
//! `config/dialpop.toml` documents every key; `validate` names the key that
//! is wrong.

use super::keys::KeyKind;
use serde::Deserialize;

/// How customer records are found, cached and merged.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerConfig {
    /// The region (ISO 3166 alpha-2) in which a phone number written
    /// without `+` is read, for E.164 normalisation.
    pub default_region: String,
    /// The most entries the in-process cache holds, over all sources.
    pub cache_max_entries: u64,
    /// A Redis shared by several daemons as the second cache level
    /// (`redis://127.0.0.1:6379`); none by default.
    pub redis_url: Option<String>,
    /// Needed with `redis_url`: 64 hex digits (`openssl rand -hex 32`),
    /// the same on every daemon sharing the Redis. Records and
    /// invalidations are encrypted with it and Redis keys are keyed
    /// hashes, so the shared cache holds no customer data in clear. Or
    /// `{ env = "DIALPOP_REDIS_KEY" }`.
    pub redis_key: Option<Secret>,
    /// Per customer field, the sources it is taken from, first choice
    /// first; other fields follow the order of the `[[source]]` tables.
    pub precedence: std::collections::BTreeMap<String, Vec<String>>,
    /// Fetch the record when the call is placed, so that it is cached when
    /// the customer answers.
    pub preload: bool,
}

impl Default for CustomerConfig {
    fn default() -> Self {
        CustomerConfig {
            default_region: "US".into(),
            cache_max_entries: 100_000,
            redis_url: None,
            redis_key: None,
            precedence: Default::default(),
            preload: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// dialpop's own store: its customers table (record) or its own call
    /// attempts (history).
    Internal,
    /// Any PostgreSQL, MySQL/MariaDB or SQLite database, by URL.
    Sql,
    /// An HTTP API answering JSON.
    Rest,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceRole {
    /// One record per customer, merged into the customer view.
    #[default]
    Record,
    /// A list of interactions (calls, tickets, orders), a page at a time.
    History,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Paging {
    /// `{limit}` and `{offset}` parameters.
    #[default]
    Offset,
    /// `{limit}` and `{cursor}`; the next cursor is read at `cursor_path`.
    Cursor,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

pub use crate::redact::SecretSource as Secret;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyPlace {
    #[default]
    Header,
    Query,
}

/// How a REST source authenticates.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Bearer <token>`.
    Bearer {
        token: Secret,
    },
    /// A key in a header (`X-Api-Key` by default) or a query parameter.
    ApiKey {
        #[serde(default = "default_api_key_name")]
        name: String,
        #[serde(default, rename = "in")]
        place: ApiKeyPlace,
        value: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    /// OAuth 2.0 client credentials: the token is fetched, cached, renewed
    /// before it expires, and fetched again once on a 401.
    Oauth2 {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        #[serde(default)]
        scope: Option<String>,
    },
}

fn default_api_key_name() -> String {
    "X-Api-Key".into()
}

/// After `failures` consecutive failures the source is not asked for
/// `open_seconds`; then one request tries it again.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub failures: u32,
    pub open_seconds: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 3,
            open_seconds: 30.0,
        }
    }
}

/// One `[[source]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    #[serde(default)]
    pub role: SourceRole,
    /// The key the source is asked by.
    #[serde(default = "default_key")]
    pub key: KeyKind,
    /// How long an answer stays cached (0: not cached).
    #[serde(default = "default_ttl")]
    pub ttl_seconds: f64,
    /// The most one request may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub breaker: BreakerConfig,

    /// sql: the database URL (`postgres://`, `mysql://`, `sqlite://`).
    /// rest: the URL template, `{param}` filled in percent-encoded.
    #[serde(default)]
    pub url: Option<String>,
    /// sql: the query, with the database's own placeholders (`$1` for
    /// PostgreSQL, `?` for MySQL and SQLite) bound to `params` in order.
    #[serde(default)]
    pub query: Option<String>,
    /// sql: the parameters bound to the query's placeholders, in order.
    #[serde(default)]
    pub params: Vec<String>,
    /// sql: most connections to keep open.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,

    /// rest: GET (default) or POST.
    #[serde(default)]
    pub method: HttpMethod,
    /// rest, POST: the JSON body; a string that is exactly `{param}`
    /// becomes that parameter's value.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// rest: extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// rest: further tries of an idempotent request after a connect error,
    /// a timeout or a 5xx/429 (GET is idempotent; a POST is when
    /// `idempotent = true`).
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// rest: where the record is inside the response (default: the whole
    /// body).
    #[serde(default)]
    pub record_path: Option<String>,

    /// history: the heading the agent sees.
    #[serde(default)]
    pub title: Option<String>,
    /// history: items per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default)]
    pub paging: Paging,
    /// history: where the list is inside the response (default: the whole
    /// body, which must be an array).
    #[serde(default)]
    pub items_path: Option<String>,
    /// history, cursor paging: where the next page's cursor is.
    #[serde(default)]
    pub cursor_path: Option<String>,

    /// dialpop field ← where it is in the source's answer: a path
    /// (`Account.Name`, `emails[0].address`), or a table with `path`,
    /// `type` (string, number, integer, bool, date, datetime, money, any),
    /// `default` and `required`.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

fn default_key() -> KeyKind {
    KeyKind::CustomerId
}
fn default_ttl() -> f64 {
    300.0
}
fn default_timeout_ms() -> u64 {
    2000
}
fn default_max_connections() -> u32 {
    8
}
fn default_retries() -> u32 {
    1
}
fn default_page_size() -> u32 {
    10
}

/// `[[source]]` tables from TOML text (a config file's, or a fragment).
pub fn parse_sources(text: &str) -> Result<Vec<SourceConfig>, String> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        source: Vec<SourceConfig>,
    }
    toml::from_str::<Doc>(text)
        .map(|d| d.source)
        .map_err(|e| e.to_string().trim().replace('\n', " "))
}

impl SourceConfig {
    /// Whether a failed request may be sent again.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or(self.method == HttpMethod::Get)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}
