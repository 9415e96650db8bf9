//! The REST source driver: one HTTP request per lookup to a CRM's JSON API.
//!
//! The URL is a template whose `{param}` placeholders are filled with the
//! lookup's values, each percent-encoded as one path segment or query
//! component, so that no customer value can add a segment, a query
//! parameter, a header or a request line. A POST body is a JSON template
//! filled the same way, with serde doing the escaping.
//!
//! A value that would fill a whole path segment with nothing, `.` or `..`
//! (no customer id, say) is not sent at all: URL parsers fold such
//! segments, so the request would name another resource (`/customers/..`
//! is `/`). The lookup is answered `NotFound` without a request.
//!
//! Finding the record inside the answer (`record_path`, `items_path`) is the
//! mapping layer's job: this driver hands back the whole body.
//!
//! Failures are told apart by kind (DNS, connect, TLS, auth, status,
//! timeout, JSON, size) with details that name no customer data: no URL (it
//! may hold a phone number), no body (it holds the record).

use super::config::{ApiKeyPlace, AuthConfig, HttpMethod, SourceConfig, SourceKind};
use super::source::{FailureKind, Query, Raw, SourceDriver, SourceError, known_param};
use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Everything except RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _
/// ~`): what is left cannot end a segment or a query component, start a
/// fragment, or break a request line, whatever the server's parser.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The most body dialpop reads from one response.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The first retry waits between half of this and all of it.
const FIRST_BACKOFF_CEILING: Duration = Duration::from_millis(100);

/// Later retries wait at most this long.
const MAX_BACKOFF_CEILING: Duration = Duration::from_secs(2);

/// A server asking to be left alone longer than this is not waited for: the
/// agent would be looking at an empty pop by then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Lifetime assumed when the token endpoint does not say (RFC 6749 allows
/// omitting `expires_in`).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// One piece of a template: text as written, or a `{param}` placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Param(&'a str),
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// Splits a template at its placeholders. A brace that does not open a
/// `{name}` is text, so JSON-ish literals in a body template survive.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut text_from = 0;
    let mut i = 0;
    while let Some(off) = template[i..].find('{') {
        let open = i + off;
        let after = &template[open + 1..];
        match after.find('}') {
            Some(len) if len > 0 && after[..len].bytes().all(is_name_byte) => {
                if open > text_from {
                    out.push(Piece::Text(&template[text_from..open]));
                }
                out.push(Piece::Param(&after[..len]));
                i = open + len + 2;
                text_from = i;
            }
            _ => i = open + 1,
        }
    }
    if text_from < template.len() {
        out.push(Piece::Text(&template[text_from..]));
    }
    out
}

/// The placeholder names of a template, in order.
pub fn template_params(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Param(n) => Some(n),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Fills a URL template: each `{name}` becomes `value(name)` percent-encoded
/// as a single path segment / query component (see [`COMPONENT`]); a
/// missing value becomes empty. The text around placeholders is kept as
/// written.
pub fn fill_url_template<S: AsRef<str>>(
    template: &str,
    mut value: impl FnMut(&str) -> Option<S>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for p in pieces(template) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Param(name) => {
                if let Some(v) = value(name) {
                    out.extend(utf8_percent_encode(v.as_ref(), COMPONENT));
                }
            }
        }
    }
    out
}

/// Fills a JSON body template: a string that is exactly `{name}` becomes the
/// value as a JSON string (`limit` and `offset` as numbers; a missing value
/// is `null`); placeholders inside longer strings are replaced textually (a
/// missing value is empty). Object keys are kept as written.
pub fn fill_json_template<S: AsRef<str>>(
    template: &Value,
    value: &mut impl FnMut(&str) -> Option<S>,
) -> Value {
    match template {
        Value::String(s) => {
            let ps = pieces(s);
            match ps.as_slice() {
                [Piece::Param(name)] => match value(name) {
                    None => Value::Null,
                    Some(v) if matches!(*name, "limit" | "offset") => v
                        .as_ref()
                        .parse::<u64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(v.as_ref().to_string())),
                    Some(v) => Value::String(v.as_ref().to_string()),
                },
                _ if ps.iter().all(|p| matches!(p, Piece::Text(_))) => template.clone(),
                _ => {
                    let mut out = String::with_capacity(s.len() + 16);
                    for p in ps {
                        match p {
                            Piece::Text(t) => out.push_str(t),
                            Piece::Param(name) => {
                                if let Some(v) = value(name) {
                                    out.push_str(v.as_ref());
                                }
                            }
                        }
                    }
                    Value::String(out)
                }
            }
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_json_template(v, value)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), fill_json_template(v, value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn json_template_params(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(template_params(s).into_iter().map(str::to_string)),
        Value::Array(items) => items.iter().for_each(|i| json_template_params(i, out)),
        Value::Object(fields) => fields.values().for_each(|i| json_template_params(i, out)),
        _ => {}
    }
}

/// The part of a URL before its query and fragment.
fn before_query(url: &str) -> &str {
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
}

/// Whether a placeholder filled a whole path segment with nothing, `.` or
/// `..`. Such a URL cannot name the customer: WHATWG URL parsing (and every
/// server) folds dot segments, so `/customers/..` would ask for `/`, and an
/// empty id would ask for the whole collection.
fn fills_a_dot_or_empty_segment(template: &str, filled: &str) -> bool {
    // Filled values never contain `/`, `?` or `#` (they are encoded), so
    // the template's segments and the filled URL's correspond one to one.
    before_query(template)
        .split('/')
        .zip(before_query(filled).split('/'))
        .any(|(t, f)| !template_params(t).is_empty() && matches!(f, "" | "." | ".."))
}

/// Query parameter names whose values `describe` hides.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key", "token", "secret", "password", "passwd", "auth", "sig",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The template for listings and logs: no userinfo, no secret-looking query
/// value.
fn describe_template(template: &str) -> String {
    let (scheme, rest) = match template.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, template),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = String::with_capacity(template.len());
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(q) = query {
        let (q, fragment) = match q.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (q, None),
        };
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if looks_secret(k) && template_params(v).is_empty() => {
                    format!("{k}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}

/// `application/x-www-form-urlencoded`, with every byte outside the
/// unreserved set escaped (decoders accept `%20` for a space).
fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, COMPONENT),
                utf8_percent_encode(v, COMPONENT)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// When a token should be replaced: when less than a tenth of its lifetime
/// or 30 s is left, whichever is more, but never later than halfway (a
/// token living under a minute would otherwise be renewed before every
/// request).
fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10)
        .max(Duration::from_secs(30))
        .min(lifetime / 2)
}

/// `Retry-After` as a delay: seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.signed_duration_since(chrono::Utc::now());
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// A failure's whole cause chain, for the detail (the URL is stripped
/// first: it may hold a phone number).
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    let mut text = parts.join(": ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn any_in_chain(
    e: &(dyn std::error::Error + 'static),
    mut pred: impl FnMut(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if pred(err) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The kind of a transport failure, from the error's cause chain.
fn classify(e: &reqwest::Error) -> FailureKind {
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    let dns = e.is_dns()
        || any_in_chain(e, |err| {
            let s = err.to_string().to_ascii_lowercase();
            s.starts_with("dns error")
                || s.contains("failed to lookup address")
                || err
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
        });
    if dns {
        return FailureKind::Dns;
    }
    // rustls is not a direct dependency, so its errors are recognised by
    // what they say; they reach us wrapped in `io::Error`s, whose Display
    // is the rustls error's.
    let tls = any_in_chain(e, |err| {
        let s = err.to_string().to_ascii_lowercase();
        [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "peer misbehaved",
            "peer is incompatible",
            "received fatal alert",
        ]
        .iter()
        .any(|m| s.contains(m))
    });
    if tls {
        return FailureKind::Tls;
    }
    if e.is_decode() {
        return FailureKind::Json;
    }
    // A connect failure, or the connection lost mid-exchange.
    FailureKind::Connect
}

fn transport_error(what: &str, e: reqwest::Error) -> SourceError {
    let e = e.without_url();
    SourceError::new(classify(&e), format!("{what}: {}", chain_text(&e)))
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("HTTP {} {r}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Reads a body up to [`MAX_BODY_BYTES`], chunk by chunk, so that a huge
/// answer is refused without being held.
async fn read_body(what: &str, mut resp: reqwest::Response) -> Result<Vec<u8>, SourceError> {
    let too_large = || {
        SourceError::new(
            FailureKind::TooLarge,
            format!("{what}: body exceeds {MAX_BODY_BYTES} bytes"),
        )
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(what, e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn json_error(what: &str, e: &serde_json::Error) -> SourceError {
    // Only the position: serde's message may quote the body.
    SourceError::new(
        FailureKind::Json,
        format!(
            "{what} is not JSON ({} error at line {}, column {})",
            format!("{:?}", e.classify()).to_lowercase(),
            e.line(),
            e.column()
        ),
    )
}

/// A cached OAuth access token.
struct Token {
    header: HeaderValue,
    renew_at: Instant,
}

/// OAuth 2.0 client credentials: one token shared by all requests of the
/// source.
struct OAuth {
    token_url: Url,
    /// The form body, client secret included.
    form: String,
    /// Held for the whole fetch, so that requests finding no valid token
    /// wait for one fetch instead of each making their own.
    token: tokio::sync::Mutex<Option<Token>>,
}

impl OAuth {
    async fn token(
        &self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<HeaderValue, SourceError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.header.clone());
        }
        *cached = None;
        let fresh = self.fetch(client, timeout).await?;
        let header = fresh.header.clone();
        *cached = Some(fresh);
        Ok(header)
    }

    /// Forgets the token a request was refused with, unless another
    /// request already replaced it.
    async fn invalidate(&self, refused: &HeaderValue) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.header == *refused) {
            *cached = None;
        }
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Token, SourceError> {
        const WHAT: &str = "token endpoint";
        let started = Instant::now();
        let resp = client
            .post(self.token_url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(self.form.clone())
            .send()
            .await
            .map_err(|e| transport_error(WHAT, e))?;
        let status = resp.status();
        if status.is_client_error() {
            return Err(SourceError::new(
                FailureKind::Auth,
                format!(
                    "{WHAT} refused the client credentials ({})",
                    status_text(status)
                ),
            ));
        }
        if !status.is_success() {
            return Err(SourceError::new(
                FailureKind::HttpStatus(status.as_u16()),
                format!("{WHAT}: {}", status_text(status)),
            ));
        }
        let body = read_body(WHAT, resp).await?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| json_error("token response", &e))?;
        let access = doc
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SourceError::new(FailureKind::Auth, format!("{WHAT}: no access_token"))
            })?;
        let lifetime = match doc.get("expires_in") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_TOKEN_LIFETIME, |s| {
            Duration::from_secs_f64(s.min(10.0 * 365.0 * 86_400.0))
        });
        let mut header = HeaderValue::from_str(&format!("Bearer {access}")).map_err(|_| {
            SourceError::new(
                FailureKind::Auth,
                format!("{WHAT}: the access_token is not a valid header value"),
            )
        })?;
        header.set_sensitive(true);
        Ok(Token {
            header,
            renew_at: started + lifetime - renewal_margin(lifetime),
        })
    }
}

enum Auth {
    None,
    /// Bearer token or API key header, ready to send.
    Header(HeaderName, HeaderValue),
    /// An API key appended to every URL's query.
    Query {
        name: String,
        value: String,
    },
    Basic {
        username: String,
        password: String,
    },
    OAuth(OAuth),
}

/// A failed attempt, with what the server said about retrying.
struct Failure {
    err: SourceError,
    retry_after: Option<Duration>,
}

impl From<SourceError> for Failure {
    fn from(err: SourceError) -> Failure {
        Failure {
            err,
            retry_after: None,
        }
    }
}

fn is_retryable(kind: FailureKind) -> bool {
    match kind {
        FailureKind::Connect | FailureKind::Timeout => true,
        FailureKind::HttpStatus(s) => s == 429 || (500..600).contains(&s),
        _ => false,
    }
}

/// A `kind = "rest"` source.
pub struct RestSource {
    name: String,
    client: reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    headers: HeaderMap,
    auth: Auth,
    timeout: Duration,
    /// Further tries after the first (0 for a request that is not
    /// idempotent).
    retries: u32,
}

impl std::fmt::Debug for RestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSource")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("url", &describe_template(&self.url))
            .finish_non_exhaustive()
    }
}

fn check_http_url(key: &str, url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{key}: the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{key}: no host"));
    }
    Ok(())
}

impl RestSource {
    /// Checks the source's table and builds its HTTP client. The error
    /// names the key at fault.
    pub fn new(cfg: &SourceConfig) -> Result<RestSource, String> {
        if cfg.kind != SourceKind::Rest {
            return Err("kind: a REST source must have kind = \"rest\"".into());
        }
        let url = cfg.url.clone().ok_or("url: missing")?;
        for p in template_params(&url) {
            if !known_param(p) {
                return Err(format!("url: unknown parameter {{{p}}}"));
            }
        }
        let authority_end = url
            .split_once("://")
            .map(|(s, rest)| s.len() + 3 + rest.find(['/', '?', '#']).unwrap_or(rest.len()))
            .unwrap_or(0);
        if url[..authority_end].contains('{') {
            return Err("url: parameters may only appear in the path and the query".into());
        }
        let sample = Url::parse(&fill_url_template(&url, |_| Some("x")))
            .map_err(|e| format!("url: not a URL ({e})"))?;
        check_http_url("url", &sample)?;

        let method = match cfg.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        if let Some(body) = &cfg.body {
            if cfg.method != HttpMethod::Post {
                return Err("body: only a POST sends a body (method = \"POST\")".into());
            }
            let mut names = Vec::new();
            json_template_params(body, &mut names);
            if let Some(p) = names.iter().find(|p| !known_param(p)) {
                return Err(format!("body: unknown parameter {{{p}}}"));
            }
        }

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers.{k}: not a valid header name"))?;
            let mut value = HeaderValue::from_str(v)
                .map_err(|_| format!("headers.{k}: not a valid header value"))?;
            // Configured headers often carry keys; keep them out of Debug.
            value.set_sensitive(true);
            headers.insert(name, value);
        }

        let auth = match &cfg.auth {
            None => Auth::None,
            Some(AuthConfig::Bearer { token }) => {
                let token = token.resolve().map_err(|e| format!("auth.token: {e}"))?;
                let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| "auth.token: not a valid header value".to_string())?;
                v.set_sensitive(true);
                Auth::Header(AUTHORIZATION, v)
            }
            Some(AuthConfig::ApiKey { name, place, value }) => {
                let value = value.resolve().map_err(|e| format!("auth.value: {e}"))?;
                match place {
                    ApiKeyPlace::Header => {
                        let n = HeaderName::from_bytes(name.as_bytes())
                            .map_err(|_| "auth.name: not a valid header name".to_string())?;
                        let mut v = HeaderValue::from_str(&value)
                            .map_err(|_| "auth.value: not a valid header value".to_string())?;
                        v.set_sensitive(true);
                        Auth::Header(n, v)
                    }
                    ApiKeyPlace::Query => {
                        if name.is_empty() {
                            return Err("auth.name: empty".into());
                        }
                        Auth::Query {
                            name: name.clone(),
                            value,
                        }
                    }
                }
            }
            Some(AuthConfig::Basic { username, password }) => Auth::Basic {
                username: username.clone(),
                password: password
                    .resolve()
                    .map_err(|e| format!("auth.password: {e}"))?,
            },
            Some(AuthConfig::Oauth2 {
                token_url,
                client_id,
                client_secret,
                scope,
            }) => {
                let token_url = Url::parse(token_url)
                    .map_err(|e| format!("auth.token_url: not a URL ({e})"))?;
                check_http_url("auth.token_url", &token_url)?;
                let secret = client_secret
                    .resolve()
                    .map_err(|e| format!("auth.client_secret: {e}"))?;
                let mut form = vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                ];
                if let Some(s) = scope.as_deref().filter(|s| !s.is_empty()) {
                    form.push(("scope", s));
                }
                Auth::OAuth(OAuth {
                    token_url,
                    form: form_encode(&form),
                    token: tokio::sync::Mutex::new(None),
                })
            }
        };

        let timeout = cfg.timeout();
        if timeout.is_zero() {
            return Err("timeout_ms: must be more than 0".into());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("dialpop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("url: the HTTP client cannot be built ({e})"))?;

        Ok(RestSource {
            name: cfg.name.clone(),
            client,
            method,
            url,
            body: cfg.body.clone(),
            headers,
            auth,
            timeout,
            retries: if cfg.is_idempotent() { cfg.retries } else { 0 },
        })
    }

    async fn send(
        &self,
        url: &Url,
        body: Option<&[u8]>,
        token: Option<&HeaderValue>,
    ) -> Result<reqwest::Response, SourceError> {
        let mut req = self
            .client
            .request(self.method.clone(), url.clone())
            .timeout(self.timeout)
            .headers(self.headers.clone());
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        req = match (&self.auth, token) {
            (Auth::Header(n, v), _) => req.header(n, v),
            (Auth::Basic { username, password }, _) => req.basic_auth(username, Some(password)),
            (Auth::OAuth(_), Some(t)) => req.header(AUTHORIZATION, t),
            _ => req,
        };
        req.send().await.map_err(|e| transport_error("request", e))
    }

    /// One try: the request, and for OAuth one more with a fresh token if
    /// the API refuses the cached one.
    async fn attempt(&self, url: &Url, body: Option<&[u8]>) -> Result<Raw, Failure> {
        let token = match &self.auth {
            Auth::OAuth(o) => Some(o.token(&self.client, self.timeout).await?),
            _ => None,
        };
        let resp = self.send(url, body, token.as_ref()).await?;
        if resp.status() == StatusCode::UNAUTHORIZED
            && let (Auth::OAuth(o), Some(refused)) = (&self.auth, &token)
        {
            drop(resp);
            o.invalidate(refused).await;
            let fresh = o.token(&self.client, self.timeout).await?;
            let resp = self.send(url, body, Some(&fresh)).await?;
            return self.answer(resp).await;
        }
        self.answer(resp).await
    }

    async fn answer(&self, resp: reqwest::Response) -> Result<Raw, Failure> {
        let status = resp.status();
        if status.is_success() {
            let body = read_body("response", resp).await?;
            let doc: Value =
                serde_json::from_slice(&body).map_err(|e| json_error("response", &e))?;
            return Ok(Raw::Found {
                doc,
                raw: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        if status == StatusCode::NOT_FOUND {
            // The body of a 404 is only shown by `dialpop source test`; a
            // failure to read it does not make the answer less clear.
            let raw = read_body("response", resp)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Ok(Raw::NotFound { raw });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(SourceError::new(FailureKind::Auth, status_text(status)).into());
        }
        let retry_after = if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::SERVICE_UNAVAILABLE
        {
            resp.headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after)
        } else {
            None
        };
        Err(Failure {
            err: SourceError::new(
                FailureKind::HttpStatus(status.as_u16()),
                status_text(status),
            ),
            retry_after,
        })
    }
}

#[async_trait]
impl SourceDriver for RestSource {
    async fn fetch(&self, q: &Query<'_>) -> Result<Raw, SourceError> {
        let filled = fill_url_template(&self.url, |n| q.param(n));
        if fills_a_dot_or_empty_segment(&self.url, &filled) {
            tracing::debug!(source = %self.name, "key cannot be a path segment; not asked");
            return Ok(Raw::NotFound { raw: String::new() });
        }
        let mut url = Url::parse(&filled).map_err(|_| {
            SourceError::new(FailureKind::Connect, "the URL does not parse once filled")
        })?;
        if let Auth::Query { name, value } = &self.auth {
            url.query_pairs_mut().append_pair(name, value);
        }
        let body = match &self.body {
            Some(t) => Some(
                serde_json::to_vec(&fill_json_template(t, &mut |n: &str| q.param(n)))
                    .map_err(|e| json_error("request body", &e))?,
            ),
            None => None,
        };

        let mut ceiling = FIRST_BACKOFF_CEILING;
        let mut tries = 0;
        loop {
            let failure = match self.attempt(&url, body.as_deref()).await {
                Ok(raw) => return Ok(raw),
                Err(f) => f,
            };
            tries += 1;
            if tries > self.retries || !is_retryable(failure.err.kind) {
                return Err(failure.err);
            }
            let wait = match failure.retry_after {
                Some(d) if d <= MAX_RETRY_AFTER => d,
                Some(_) => return Err(failure.err),
                None => crate::switch::backoff::jittered(ceiling),
            };
            tracing::debug!(
                source = %self.name,
                kind = %failure.err.kind,
                tries,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            ceiling = crate::switch::backoff::next_ceiling(ceiling, MAX_BACKOFF_CEILING);
        }
    }

    fn describe(&self) -> String {
        describe_template(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_at_placeholders_only() {
        assert_eq!(
            pieces("/a/{customer_id}?x={var.tag}&y={"),
            vec![
                Piece::Text("/a/"),
                Piece::Param("customer_id"),
                Piece::Text("?x="),
                Piece::Param("var.tag"),
                Piece::Text("&y={"),
            ]
        );
        assert_eq!(pieces("{not a param}"), vec![Piece::Text("{not a param}")]);
        assert_eq!(pieces("{a{b}"), vec![Piece::Text("{a"), Piece::Param("b")]);
        assert_eq!(template_params("{}{x}"), vec!["x"]);
    }

    #[test]
    fn url_values_are_one_component() {
        let u = fill_url_template("http://h/c/{customer_id}?p={phone}&c={cursor}", |n| {
            (n != "cursor").then_some("a/b?c=d#e f%")
        });
        assert_eq!(
            u,
            "http://h/c/a%2Fb%3Fc%3Dd%23e%20f%25?p=a%2Fb%3Fc%3Dd%23e%20f%25&c="
        );
    }

    #[test]
    fn dot_and_empty_segments_are_recognised() {
        let t = "http://h/c/{customer_id}/orders?x={cursor}";
        let fill = |v: &'static str| fill_url_template(t, |n| (n == "customer_id").then_some(v));
        assert!(fills_a_dot_or_empty_segment(t, &fill("..")));
        assert!(fills_a_dot_or_empty_segment(t, &fill(".")));
        assert!(fills_a_dot_or_empty_segment(t, &fill("")));
        assert!(!fills_a_dot_or_empty_segment(t, &fill("...")));
        assert!(!fills_a_dot_or_empty_segment(t, &fill("../x")));
        assert!(!fills_a_dot_or_empty_segment(
            "http://h/c/id-{customer_id}",
            "http://h/c/id-"
        ));
    }

    #[test]
    fn json_bodies_take_values_as_strings_and_pages_as_numbers() {
        let t: Value = serde_json::json!({
            "phone": "{phone}",
            "cursor": "{cursor}",
            "page": {"limit": "{limit}", "offset": "{offset}"},
            "note": "id={customer_id}, {not a param}",
            "n": [1, true, null, "{email}"]
        });
        let v = fill_json_template(&t, &mut |n: &str| match n {
            "phone" => Some("+1\"}\n".to_string()),
            "limit" => Some("20".into()),
            "offset" => Some("40".into()),
            "customer_id" => Some("C\"1".into()),
            "email" => Some("a@b.c".into()),
            _ => None,
        });
        assert_eq!(
            v,
            serde_json::json!({
                "phone": "+1\"}\n",
                "cursor": null,
                "page": {"limit": 20, "offset": 40},
                "note": "id=C\"1, {not a param}",
                "n": [1, true, null, "a@b.c"]
            })
        );
    }

    #[test]
    fn descriptions_hide_userinfo_and_keys() {
        assert_eq!(
            describe_template(
                "https://u:pw@crm.example.com/api/{customer_id}?api_key=abc&x={phone}&token={var.t}#f"
            ),
            "https://crm.example.com/api/{customer_id}?api_key=***&x={phone}&token={var.t}#f"
        );
        assert_eq!(describe_template("http://crm:8080/a"), "http://crm:8080/a");
    }

    #[test]
    fn tokens_are_renewed_ahead_of_expiry() {
        assert_eq!(
            renewal_margin(Duration::from_secs(3600)),
            Duration::from_secs(360)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(120)),
            Duration::from_secs(30)
        );
        assert_eq!(
            renewal_margin(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn form_bodies_escape_everything_reserved() {
        assert_eq!(
            form_encode(&[("client_id", "a b"), ("client_secret", "p&q=r+/")]),
            "client_id=a%20b&client_secret=p%26q%3Dr%2B%2F"
        );
    }
}
