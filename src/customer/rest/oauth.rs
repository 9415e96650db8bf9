//! OAuth 2.0 client credentials: the token a source sends, fetched from its
//! token endpoint and shared until it is due for renewal.

use super::errors::{json_error, status_text, transport_error};
use super::read_body;
use super::template::COMPONENT;
use crate::customer::source::{FailureKind, SourceError};
use percent_encoding::utf8_percent_encode;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Lifetime assumed when the token endpoint does not say (RFC 6749 allows
/// omitting `expires_in`).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// `application/x-www-form-urlencoded`, with every byte outside the
/// unreserved set escaped (decoders accept `%20` for a space).
pub(super) fn form_encode(pairs: &[(&str, &str)]) -> String {
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
pub(super) fn renewal_margin(lifetime: Duration) -> Duration {
    (lifetime / 10)
        .max(Duration::from_secs(30))
        .min(lifetime / 2)
}

/// A cached OAuth access token.
pub(super) struct Token {
    header: HeaderValue,
    renew_at: Instant,
}

/// OAuth 2.0 client credentials: one token shared by all requests of the
/// source.
pub(super) struct OAuth {
    pub(super) token_url: Url,
    /// The form body, client secret included.
    pub(super) form: String,
    /// Held for the whole fetch, so that requests finding no valid token
    /// wait for one fetch instead of each making their own.
    pub(super) token: tokio::sync::Mutex<Option<Token>>,
}

impl OAuth {
    pub(super) async fn token(
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
    pub(super) async fn invalidate(&self, refused: &HeaderValue) {
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
