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

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use base64::Engine;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The most requests `request_log` keeps (the oldest are dropped), so that a
/// long benchmark does not grow without bound.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

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

/// The record a customer is served as.
pub fn customer_record(c: &StandinCustomer) -> Value {
    json!({
        "data": {
            "Account": {
                "Id": c.id,
                "Name": c.name,
                "Tier": c.tier,
                "Vip": c.vip,
                "Balance": c.balance,
                "Since": c.since,
            },
            "Contacts": [
                {"Type": "work", "Phone": c.phone, "Email": c.email}
            ],
            "Flags": {"OpenTickets": open_tickets(&c.id)}
        }
    })
}

fn open_tickets(id: &str) -> u64 {
    id.bytes().map(u64::from).sum::<u64>() % 4
}

const ORDER_STATUSES: [&str; 4] = ["delivered", "shipped", "processing", "cancelled"];

/// Order `i` of a customer, newest (0) first.
pub fn customer_order(c: &StandinCustomer, i: usize) -> Value {
    let seed = open_tickets(&c.id) * 1009 + c.id.len() as u64;
    let cents = (i as u64 * 7919 + seed * 31) % 99_900 + 100;
    // 2025-06-30T12:00:00Z, one order every 7 hours before it.
    let placed = chrono::DateTime::from_timestamp(1_751_284_800 - i as i64 * 7 * 3600, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json!({
        "OrderId": format!("O-{:07}", c.orders.saturating_sub(i)),
        "Total": format!("{}.{:02}", cents / 100, cents % 100),
        "Placed": placed,
        "Status": ORDER_STATUSES[i % ORDER_STATUSES.len()],
    })
}

fn phone_key(p: &str) -> String {
    super::keys::normalize_phone(p, "US").unwrap_or_else(|| p.trim().to_string())
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, &json!({"error": "not found"}))
}

fn error(status: StatusCode, msg: &str) -> Response {
    json_response(status, &json!({"error": msg}))
}

/// `a=1&b=x%20y` → pairs, `+` read as a space (form and query encoding).
fn form_pairs(s: &str) -> Vec<(String, String)> {
    let decode = |t: &str| {
        percent_decode_str(&t.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The credentials of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, t) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| t.trim())
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let raw_target = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    {
        let mut d = shared.data();
        if d.log.len() >= REQUEST_LOG_CAPACITY {
            d.log.pop_front();
        }
        d.log.push_back(RecordedRequest {
            method: parts.method.to_string(),
            raw_path_and_query: raw_target,
            decoded_segments: segments.clone(),
            body: body_text.clone(),
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            header_names: parts
                .headers
                .keys()
                .map(|k| k.as_str().to_string())
                .collect(),
        });
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["oauth", "token"] => {
            shared.token_requests.fetch_add(1, Ordering::Relaxed);
            if parts.method != Method::POST {
                return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            }
            token(&shared, &parts.headers, &body_text)
        }
        ["api", ..] => {
            shared.api_requests.fetch_add(1, Ordering::Relaxed);
            let query = form_pairs(parts.uri.query().unwrap_or(""));
            api(
                &shared,
                &parts.method,
                &parts.headers,
                &segs,
                &query,
                &body_text,
            )
            .await
        }
        _ => not_found(),
    }
}

fn token(shared: &Shared, headers: &HeaderMap, body: &str) -> Response {
    let form = form_pairs(body);
    if pair(&form, "grant_type") != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let presented = match (pair(&form, "client_id"), pair(&form, "client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_string(), secret.to_string())),
        _ => basic_credentials(headers),
    };
    let mut d = shared.data();
    let ok = match (&d.auth, &presented) {
        (
            StandinAuth::OAuth {
                client_id,
                client_secret,
            },
            Some((id, secret)),
        ) => id == client_id && secret == client_secret,
        _ => false,
    };
    if !ok {
        let mut r = error(StatusCode::UNAUTHORIZED, "invalid_client");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"crm\""),
        );
        return r;
    }
    let now = Instant::now();
    d.tokens.retain(|_, expires| *expires > now);
    let token = format!("{:032x}", rand::random::<u128>());
    d.tokens.insert(token.clone(), now + shared.token_ttl);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": shared.token_ttl.as_secs(),
        }),
    )
}

/// Waits, unless the stand-in is being stopped. False when stopped.
async fn pause(shared: &Shared, d: Duration) -> bool {
    if d.is_zero() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shared.stop.cancelled() => false,
    }
}

fn unauthorized(auth: &StandinAuth, presented_token: bool) -> Response {
    let challenge = match auth {
        StandinAuth::Basic(..) => "Basic realm=\"crm\"",
        StandinAuth::ApiKeyHeader(..) | StandinAuth::ApiKeyQuery(..) => "ApiKey realm=\"crm\"",
        _ if presented_token => "Bearer realm=\"crm\", error=\"invalid_token\"",
        _ => "Bearer realm=\"crm\"",
    };
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

fn authorized(d: &Data, headers: &HeaderMap, query: &[(String, String)]) -> bool {
    match &d.auth {
        StandinAuth::None => true,
        StandinAuth::Bearer(t) => bearer_token(headers) == Some(t.as_str()),
        StandinAuth::OAuth { .. } => bearer_token(headers)
            .and_then(|t| d.tokens.get(t))
            .is_some_and(|expires| *expires > Instant::now()),
        StandinAuth::ApiKeyHeader(name, value) => headers
            .get(name.as_str())
            .is_some_and(|v| v.as_bytes() == value.as_bytes()),
        StandinAuth::ApiKeyQuery(name, value) => pair(query, name) == Some(value.as_str()),
        StandinAuth::Basic(user, pass) => {
            basic_credentials(headers).is_some_and(|(u, p)| &u == user && &p == pass)
        }
    }
}

async fn api(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    segs: &[&str],
    query: &[(String, String)],
    body: &str,
) -> Response {
    let mode = shared.data().mode;
    let extra = match mode {
        StandinMode::Slow(d) => d,
        _ => Duration::ZERO,
    };
    if !pause(shared, shared.latency + extra).await {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match mode {
        StandinMode::Hang => {
            shared.stop.cancelled().await;
            return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
        }
        StandinMode::Failing(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, status.canonical_reason().unwrap_or("failing"));
        }
        StandinMode::Throttled {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut r = error(status, "slow down");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return r;
        }
        _ => {}
    }
    let customer = {
        let mut d = shared.data();
        // Read and cleared under one lock, so exactly one request sees it.
        if d.mode == StandinMode::Unauthorized401Once {
            d.mode = StandinMode::Normal;
            d.tokens.clear();
            let auth = d.auth.clone();
            drop(d);
            return unauthorized(&auth, bearer_token(headers).is_some());
        }
        if !authorized(&d, headers, query) {
            let auth = d.auth.clone();
            drop(d);
            return unauthorized(&auth, bearer_token(headers).is_some());
        }
        find(&d, method, segs, body)
    };
    match mode {
        StandinMode::Malformed => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"data\":{\"Account\":{\"Id\":\"C-1\",\"Na",
            )
                .into_response();
        }
        StandinMode::Oversized(n) => {
            let pad = "x".repeat(n);
            return json_response(StatusCode::OK, &json!({ "pad": pad }));
        }
        _ => {}
    }
    match customer {
        Answer::Record(c) => json_response(StatusCode::OK, &customer_record(&c)),
        Answer::Orders(c, paging) => orders(&c, paging, query),
        Answer::Missing => not_found(),
        Answer::Refused(r) => r,
    }
}

enum Paging {
    Offset,
    Cursor,
}

enum Answer {
    Record(StandinCustomer),
    Orders(StandinCustomer, Paging),
    Missing,
    Refused(Response),
}

fn find(d: &Data, method: &Method, segs: &[&str], body: &str) -> Answer {
    let by_id = |id: &str| d.customers.get(id).cloned();
    let by_phone = |p: &str| d.by_phone.get(&phone_key(p)).and_then(|id| by_id(id));
    let by_email = |e: &str| d.by_email.get(&e.to_lowercase()).and_then(|id| by_id(id));
    let get = *method == Method::GET;
    let found = match segs {
        ["api", "v1", "customers", "search"] => {
            if *method != Method::POST {
                return Answer::Refused(error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed",
                ));
            }
            let Ok(q) = serde_json::from_str::<Value>(body) else {
                return Answer::Refused(error(StatusCode::BAD_REQUEST, "body is not JSON"));
            };
            let field = |k: &str| q.get(k).and_then(Value::as_str);
            if let Some(id) = field("customer_id") {
                by_id(id)
            } else if let Some(p) = field("phone") {
                by_phone(p)
            } else if let Some(e) = field("email") {
                by_email(e)
            } else {
                return Answer::Refused(error(
                    StatusCode::BAD_REQUEST,
                    "search needs phone, email or customer_id",
                ));
            }
        }
        ["api", "v1", "customers", "by-phone", p] if get => by_phone(p),
        ["api", "v1", "customers", "by-email", e] if get => by_email(e),
        ["api", "v1", "customers", id] if get => by_id(id),
        ["api", "v1", "customers", id, "orders"] if get => {
            return by_id(id).map_or(Answer::Missing, |c| Answer::Orders(c, Paging::Offset));
        }
        ["api", "v1", "customers", id, "orders-cursor"] if get => {
            return by_id(id).map_or(Answer::Missing, |c| Answer::Orders(c, Paging::Cursor));
        }
        ["api", "v1", "customers", ..] => {
            return Answer::Refused(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
        }
        _ => None,
    };
    found.map_or(Answer::Missing, Answer::Record)
}

fn encode_cursor(offset: usize) -> String {
    hex::encode(format!("o:{offset}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = hex::decode(c).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

fn orders(c: &StandinCustomer, paging: Paging, query: &[(String, String)]) -> Response {
    let limit = match pair(query, "limit").filter(|s| !s.is_empty()) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n.min(MAX_PAGE),
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid limit"),
        },
    };
    let start = match paging {
        Paging::Offset => match pair(query, "offset").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => match s.parse::<usize>() {
                Ok(n) => n,
                Err(_) => return error(StatusCode::BAD_REQUEST, "invalid offset"),
            },
        },
        Paging::Cursor => match pair(query, "cursor").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => match decode_cursor(s) {
                Some(n) => n,
                None => return error(StatusCode::BAD_REQUEST, "invalid cursor"),
            },
        },
    };
    let start = start.min(c.orders);
    let end = start.saturating_add(limit).min(c.orders);
    let items: Vec<Value> = (start..end).map(|i| customer_order(c, i)).collect();
    let doc = match paging {
        Paging::Offset => json!({"items": items, "total": c.orders}),
        Paging::Cursor => json!({
            "items": items,
            "next_cursor": (end < c.orders).then(|| encode_cursor(end)),
        }),
    };
    json_response(StatusCode::OK, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("zz"), None);
    }

    #[test]
    fn forms_decode_plus_and_percent() {
        assert_eq!(
            form_pairs("a=x+y&b=%26%3D&c"),
            vec![
                ("a".into(), "x y".into()),
                ("b".into(), "&=".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn orders_are_deterministic() {
        let c = StandinCustomer {
            id: "C-1".into(),
            orders: 3,
            ..Default::default()
        };
        assert_eq!(customer_order(&c, 1), customer_order(&c, 1));
        assert_eq!(customer_order(&c, 0)["OrderId"], "O-0000003");
        assert_eq!(customer_order(&c, 0)["Placed"], "2025-06-30T12:00:00Z");
    }
}
