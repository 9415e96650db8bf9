//! `[monitor]` in the config file.

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// The sliding window the rates are taken over.
    pub window_seconds: u64,
    /// Percent: an alert fires above it.
    pub threshold_percent: f64,
    /// Fewer pops than this in the window never fire an alert.
    pub min_events: u64,
    /// A pop no page acknowledged within this many seconds of the answer
    /// has failed.
    pub ack_within_seconds: f64,
    pub webhook: Option<WebhookConfig>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            window_seconds: 300,
            threshold_percent: 5.0,
            min_events: 20,
            ack_within_seconds: 5.0,
            webhook: None,
        }
    }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where the alert is POSTed as JSON. Often carries a token: only its
    /// host is ever logged.
    pub url: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    5_000
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &shown_url(&self.url))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// The URL as logs may show it: scheme and host, no path, query or
/// credentials.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(unparsable url)".into(),
    }
}

impl MonitorConfig {
    /// Checks the values; the error names the key (under `monitor.`).
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, p: &str| Err((format!("monitor.{k}"), p.to_string()));
        if !(1..=86_400).contains(&self.window_seconds) {
            return bad("window_seconds", "must be from 1 to 86400");
        }
        if !(self.threshold_percent > 0.0 && self.threshold_percent < 100.0) {
            return bad("threshold_percent", "must be above 0 and below 100");
        }
        if !(0.1..=3_600.0).contains(&self.ack_within_seconds) {
            return bad("ack_within_seconds", "must be from 0.1 to 3600");
        }
        if let Some(w) = &self.webhook {
            match reqwest::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => return bad("webhook.url", "must be an http:// or https:// URL"),
            }
            if !(1..=60_000).contains(&w.timeout_ms) {
                return bad("webhook.timeout_ms", "must be from 1 to 60000");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_shows_only_its_host() {
        let w = WebhookConfig {
            url: "https://user:pw@hooks.example.com:8443/T0/B1/secret?k=v".into(),
            timeout_ms: 10,
        };
        let shown = format!("{w:?}");
        assert!(shown.contains("https://hooks.example.com:8443"), "{shown}");
        for s in ["secret", "pw", "k=v", "user"] {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut c = MonitorConfig {
            threshold_percent: 0.0,
            ..MonitorConfig::default()
        };
        assert_eq!(
            c.check().map_err(|e| e.0),
            Err("monitor.threshold_percent".into())
        );
        c.threshold_percent = 5.0;
        c.webhook = Some(WebhookConfig {
            url: "file:///etc/passwd".into(),
            timeout_ms: 10,
        });
        assert_eq!(
            c.check().map_err(|e| e.0),
            Err("monitor.webhook.url".into())
        );
        c.webhook = None;
        c.window_seconds = 0;
        assert_eq!(
            c.check().map_err(|e| e.0),
            Err("monitor.window_seconds".into())
        );
    }
}
