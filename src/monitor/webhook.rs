//! Sends alerts to the configured webhook, one at a time in the order they
//! happened (a recovery never overtakes its alert), each retried a few
//! times with a growing pause. Its outcome is kept for the admin page.

use super::Alert;
use super::config::{WebhookConfig, shown_url};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const ATTEMPTS: u32 = 4;

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct WebhookStatus {
    /// Scheme and host only.
    pub target: String,
    pub sent: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

#[derive(Clone)]
pub struct Webhook {
    tx: mpsc::Sender<Alert>,
    pub status: Arc<Mutex<WebhookStatus>>,
}

impl Webhook {
    pub fn start(cfg: &WebhookConfig) -> anyhow::Result<Webhook> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .build()?;
        let (tx, rx) = mpsc::channel(1024);
        let status = Arc::new(Mutex::new(WebhookStatus {
            target: shown_url(&cfg.url),
            ..WebhookStatus::default()
        }));
        tokio::spawn(run(client, cfg.url.clone(), rx, status.clone()));
        Ok(Webhook { tx, status })
    }

    /// Queues an alert; one that does not fit (a thousand waiting: the
    /// receiver is down) is counted as failed, and the log has it anyway.
    pub fn send(&self, alert: Alert) {
        if self.tx.try_send(alert).is_err()
            && let Ok(mut s) = self.status.lock()
        {
            s.failed += 1;
            s.last_error = Some("too many alerts waiting".into());
        }
    }

    pub fn status(&self) -> WebhookStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn run(
    client: reqwest::Client,
    url: String,
    mut rx: mpsc::Receiver<Alert>,
    status: Arc<Mutex<WebhookStatus>>,
) {
    let target = shown_url(&url);
    while let Some(alert) = rx.recv().await {
        let mut pause = Duration::from_millis(500);
        let mut last = String::new();
        let mut ok = false;
        for attempt in 1..=ATTEMPTS {
            match client.post(&url).json(&alert).send().await {
                Ok(r) if r.status().is_success() => {
                    ok = true;
                    break;
                }
                Ok(r) => last = format!("answered {}", r.status()),
                // Without the URL: it may carry a token.
                Err(e) => last = describe(&e),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        if let Ok(mut s) = status.lock() {
            if ok {
                s.sent += 1;
            } else {
                s.failed += 1;
                s.last_error = Some(last.clone());
            }
        }
        if !ok {
            tracing::error!(webhook = %target, alert = alert.alert, status = ?alert.status, error = %last, "the alert webhook failed {ATTEMPTS} times; the alert is in this log only");
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}
