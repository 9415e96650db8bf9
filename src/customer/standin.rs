//! A CRM stand-in: a real HTTP server on 127.0.0.1 answering like a
//! CRM's JSON API, for the tests, `dialpop demo` and the benchmarks.
//!
//! Endpoints (JSON in and out, `Content-Type: application/json`):
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /oauth/token` (form: `grant_type=client_credentials`, `client_id`, `client_secret`, optional `scope`; or the client as HTTP Basic) | `{"access_token","token_type":"Bearer","expires_in"}`; wrong client: 401 `{"error":"invalid_client"}` |
//! | `GET /api/v1/customers/{id}` | the customer's record, or 404 `{"error":"not found"}` |
//! | `GET /api/v1/customers/by-phone/{phone}` | the same, by phone (compared as E.164) |
//! | `GET /api/v1/customers/by-email/{email}` | the same, by e-mail (without case) |
//! | `POST /api/v1/customers/search` with `{"phone":..}`, `{"email":..}` or `{"customer_id":..}` | the same |
//! | `GET /api/v1/customers/{id}/orders?limit=&offset=` | `{"items":[{"OrderId","Total","Placed","Status"}],"total":N}`, newest first |
//! | `GET /api/v1/customers/{id}/orders-cursor?limit=&cursor=` | `{"items":[..],"next_cursor":"…" or null}` |
//!
//! A record is nested the way CRMs nest them:
//! `{"data":{"Account":{"Id","Name","Tier","Vip","Balance","Since"},
//! "Contacts":[{"Type":"work","Phone","Email"}],"Flags":{"OpenTickets":N}}}`.
//!
//! Pages hold at most `limit` items (20 when not given, never more than
//! 100). Orders are generated from the customer's id and order count, so
//! every run sees the same ones.
//!
//! Requests under `/api/` must carry the configured credentials
//! ([`StandinAuth`]), else 401 with `WWW-Authenticate`. The [`StandinMode`]
//! makes the server slow, failing, hanging or malformed at runtime; a
//! constant latency applies to every `/api/` request.

mod handler;
mod records;
#[cfg(test)]
mod tests;
mod wire;

use axum::Router;
use axum::serve::ListenerExt;
use handler::handle;
pub use records::{customer_order, customer_record};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The most requests `request_log` keeps (the oldest are dropped), so that a
/// long benchmark does not grow without bound.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// What `/api/` requests must present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StandinAuth {
    #[default]
    None,
    /// `Authorization: Bearer <token>`, a fixed token.
    Bearer(String),
    /// Tokens issued by `POST /oauth/token` to this client, valid for the
    /// configured `token_ttl`.
    OAuth {
        client_id: String,
        client_secret: String,
    },
    /// A header (name, value).
    ApiKeyHeader(String, String),
    /// A query parameter (name, value).
    ApiKeyQuery(String, String),
    /// HTTP Basic (user, password).
    Basic(String, String),
}

/// How the stand-in behaves, switchable while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StandinMode {
    #[default]
    Normal,
    /// Every `/api/` request waits this long more before it is answered.
    Slow(Duration),
    /// Every `/api/` request is answered with this status.
    Failing(u16),
    /// Every `/api/` request is answered with this status and a
    /// `Retry-After` of so many seconds.
    Throttled { status: u16, retry_after_secs: u64 },
    /// The next `/api/` request is answered 401 whatever its token, and
    /// every issued token is revoked (as after a key rotation); then the
    /// mode is back to `Normal`.
    Unauthorized401Once,
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 with a JSON body of (about) this many bytes.
    Oversized(usize),
    /// The connection is accepted and the request read, but never answered.
    Hang,
}

#[derive(Clone, Debug)]
pub struct StandinConfig {
    pub auth: StandinAuth,
    /// Added to every `/api/` request (the demo uses 20 ms).
    pub latency: Duration,
    /// How long an OAuth token is valid (announced as `expires_in`, in
    /// whole seconds).
    pub token_ttl: Duration,
    pub mode: StandinMode,
}

impl Default for StandinConfig {
    fn default() -> Self {
        StandinConfig {
            auth: StandinAuth::None,
            latency: Duration::ZERO,
            token_ttl: Duration::from_secs(3600),
            mode: StandinMode::Normal,
        }
    }
}

/// One customer of the stand-in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandinCustomer {
    pub id: String,
    pub name: String,
    /// E.164.
    pub phone: String,
    pub email: String,
    pub tier: String,
    pub vip: bool,
    /// A decimal string (`"1234.50"`), as CRMs send money.
    pub balance: String,
    /// RFC 3339.
    pub since: String,
    /// How many orders the customer has (generated on demand).
    pub orders: usize,
}

/// A request as the stand-in received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target exactly as it came over the wire (not decoded).
    pub raw_path_and_query: String,
    /// The path's segments, each percent-decoded (lossy UTF-8).
    pub decoded_segments: Vec<String>,
    pub body: String,
    pub authorization: Option<String>,
    /// Every header name received, lower case, in order.
    pub header_names: Vec<String>,
}

struct Data {
    auth: StandinAuth,
    mode: StandinMode,
    customers: HashMap<String, StandinCustomer>,
    by_phone: HashMap<String, String>,
    by_email: HashMap<String, String>,
    /// Issued OAuth tokens and when they expire.
    tokens: HashMap<String, Instant>,
    log: VecDeque<RecordedRequest>,
}

struct Shared {
    data: Mutex<Data>,
    api_requests: AtomicU64,
    token_requests: AtomicU64,
    latency: Duration,
    token_ttl: Duration,
    stop: CancellationToken,
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        // A panicking handler leaves the data as consistent as it was; the
        // next requests may as well be answered.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running stand-in. Dropping it stops the server.
pub struct CrmStandin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CrmStandin {
    /// Listens on an ephemeral port of 127.0.0.1 and serves until shut
    /// down or dropped.
    pub async fn start(cfg: StandinConfig) -> std::io::Result<CrmStandin> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            data: Mutex::new(Data {
                auth: cfg.auth,
                mode: cfg.mode,
                customers: HashMap::new(),
                by_phone: HashMap::new(),
                by_email: HashMap::new(),
                tokens: HashMap::new(),
                log: VecDeque::new(),
            }),
            api_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            latency: cfg.latency,
            token_ttl: cfg.token_ttl,
            stop: stop.clone(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        // Small answers after a deliberate delay: Nagle must not add its own.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!("CRM stand-in stopped: {e}");
            }
        });
        Ok(CrmStandin {
            addr,
            shared,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `[[source]]` tables that read this CRM the way an operator would
    /// declare them: `crm`, the record by customer id with its nested
    /// fields mapped, and `orders`, the history, three a page. Credentials
    /// follow the stand-in's current auth.
    pub fn sources_toml(&self) -> String {
        let base = self.base_url();
        let auth = match &self.shared.data().auth {
            StandinAuth::None => String::new(),
            StandinAuth::Bearer(t) => format!("auth = {{ type = \"bearer\", token = {t:?} }}"),
            StandinAuth::OAuth {
                client_id,
                client_secret,
            } => format!(
                "auth = {{ type = \"oauth2\", token_url = \"{base}/oauth/token\", client_id = {client_id:?}, client_secret = {client_secret:?} }}"
            ),
            StandinAuth::ApiKeyHeader(n, v) => {
                format!("auth = {{ type = \"api_key\", name = {n:?}, value = {v:?} }}")
            }
            StandinAuth::ApiKeyQuery(n, v) => format!(
                "auth = {{ type = \"api_key\", in = \"query\", name = {n:?}, value = {v:?} }}"
            ),
            StandinAuth::Basic(u, p) => {
                format!("auth = {{ type = \"basic\", username = {u:?}, password = {p:?} }}")
            }
        };
        format!(
            r#"
[[source]]
name = "crm"
kind = "rest"
url = "{base}/api/v1/customers/{{customer_id}}"
record_path = "data"
timeout_ms = 1000
{auth}
[source.fields]
name = "Account.Name"
tier = {{ path = "Account.Tier", type = "string" }}
vip = {{ path = "Account.Vip", type = "bool" }}
email = "Contacts[0].Email"
balance = {{ path = "Account.Balance", type = "money" }}
customer_since = {{ path = "Account.Since", type = "date" }}
open_tickets = {{ path = "Flags.OpenTickets", type = "integer", default = 0 }}

[[source]]
name = "orders"
kind = "rest"
role = "history"
title = "Orders"
url = "{base}/api/v1/customers/{{customer_id}}/orders?limit={{limit}}&offset={{offset}}"
items_path = "items"
page_size = 3
timeout_ms = 1000
{auth}
[source.fields]
order = "OrderId"
total = {{ path = "Total", type = "money" }}
placed = {{ path = "Placed", type = "date" }}
status = "Status"
"#
        )
    }

    /// Adds a customer, or replaces the one with the same id.
    pub fn put_customer(&self, c: StandinCustomer) {
        let mut d = self.shared.data();
        if let Some(old) = d.customers.remove(&c.id) {
            d.by_phone.remove(&phone_key(&old.phone));
            d.by_email.remove(&old.email.to_lowercase());
        }
        if !c.phone.is_empty() {
            d.by_phone.insert(phone_key(&c.phone), c.id.clone());
        }
        if !c.email.is_empty() {
            d.by_email.insert(c.email.to_lowercase(), c.id.clone());
        }
        d.customers.insert(c.id.clone(), c);
    }

    pub fn remove_customer(&self, id: &str) -> Option<StandinCustomer> {
        let mut d = self.shared.data();
        let old = d.customers.remove(id)?;
        d.by_phone.remove(&phone_key(&old.phone));
        d.by_email.remove(&old.email.to_lowercase());
        Some(old)
    }

    pub fn set_mode(&self, mode: StandinMode) {
        self.shared.data().mode = mode;
    }

    pub fn mode(&self) -> StandinMode {
        self.shared.data().mode
    }

    /// Changes the credentials `/api/` requires (issued tokens stay valid).
    pub fn set_auth(&self, auth: StandinAuth) {
        self.shared.data().auth = auth;
    }

    /// Requests under `/api/` received, answered or not.
    pub fn api_requests(&self) -> u64 {
        self.shared.api_requests.load(Ordering::Relaxed)
    }

    /// Requests to `/oauth/token` received.
    pub fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::Relaxed)
    }

    /// Every request received (the last [`REQUEST_LOG_CAPACITY`]), oldest
    /// first.
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        self.shared.data().log.iter().cloned().collect()
    }

    /// Zeroes the counters and empties the request log.
    pub fn reset_counters(&self) {
        self.shared.api_requests.store(0, Ordering::Relaxed);
        self.shared.token_requests.store(0, Ordering::Relaxed);
        self.shared.data().log.clear();
    }

    /// Stops accepting, ends hanging and slow requests, and waits for the
    /// server to finish.
    pub async fn shutdown(mut self) {
        self.shared.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CrmStandin {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

fn phone_key(p: &str) -> String {
    super::keys::normalize_phone(p, "US").unwrap_or_else(|| p.trim().to_string())
}
