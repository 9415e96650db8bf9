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

mod errors;
mod oauth;
mod template;
#[cfg(test)]
mod tests;

use super::config::{ApiKeyPlace, AuthConfig, HttpMethod, SourceConfig, SourceKind};
use super::source::{FailureKind, Query, Raw, SourceDriver, SourceError, known_param};
use async_trait::async_trait;
use errors::{json_error, status_text, transport_error};
use oauth::{OAuth, form_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::time::Duration;
pub use template::{COMPONENT, fill_json_template, fill_url_template, template_params};
use template::{describe_template, fills_a_dot_or_empty_segment, json_template_params};

/// The most body dialpop reads from one response.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The first retry waits between half of this and all of it.
const FIRST_BACKOFF_CEILING: Duration = Duration::from_millis(100);

/// Later retries wait at most this long.
const MAX_BACKOFF_CEILING: Duration = Duration::from_secs(2);

/// A server asking to be left alone longer than this is not waited for: the
/// agent would be looking at an empty pop by then.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

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
