//! The pop-success monitor: the share of failed pops (degraded, or not
//! acknowledged by a page in time) and of failed record fetches over a
//! sliding window, overall and per campaign. Above the threshold an alert
//! goes to the log and the webhook, once; a recovery message when it falls
//! back. The admin page shows where each rate stands.
//!
//! One task owns the windows, fed by the hub through a queue it never
//! waits on (`try_send`): watching pops must not slow them.

pub mod config;
pub mod watch;
pub mod webhook;
pub mod window;

mod state;

use config::MonitorConfig;
use state::{State, run};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch as tokio_watch};
use watch::Transition;
use webhook::{Webhook, WebhookStatus};

/// What the monitor is told.
#[derive(Debug)]
enum Observation {
    PopSent {
        pop_id: String,
        campaign: Arc<str>,
        degraded: bool,
        answered_at: Instant,
    },
    PopAcked {
        pop_id: String,
    },
}

/// One alert or recovery, as the webhook receives it (JSON).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Alert {
    pub source: &'static str,
    pub alert: &'static str,
    pub status: Transition,
    /// None: all campaigns together.
    pub campaign: Option<String>,
    /// Fractions (0.05 is 5 %).
    pub rate: f64,
    pub threshold: f64,
    pub failed: u64,
    pub total: u64,
    pub window_seconds: u64,
    /// RFC 3339, UTC.
    pub at: String,
}

/// One rate, as the admin page shows it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RateView {
    pub total: u64,
    pub failed: u64,
    pub rate: f64,
    pub firing: bool,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ScopeView {
    /// None: all campaigns together.
    pub campaign: Option<String>,
    pub pop_failures: RateView,
    pub fetch_failures: RateView,
}

/// `GET /api/monitor`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct MonitorView {
    pub window_seconds: u64,
    pub threshold: f64,
    pub min_events: u64,
    pub ack_within_seconds: f64,
    pub overall: ScopeView,
    pub campaigns: Vec<ScopeView>,
    /// Newest first.
    pub recent: Vec<Alert>,
    pub webhook: Option<WebhookStatus>,
    /// Observations the queue could not take (the monitor fell behind).
    pub dropped: u64,
}

#[derive(Clone)]
pub struct Monitor {
    tx: mpsc::Sender<Observation>,
    view: tokio_watch::Receiver<MonitorView>,
    webhook: Option<Webhook>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
    expired: Arc<std::sync::atomic::AtomicU64>,
}

impl Monitor {
    pub fn start(cfg: &MonitorConfig) -> anyhow::Result<Monitor> {
        let webhook = cfg.webhook.as_ref().map(Webhook::start).transpose()?;
        let (tx, rx) = mpsc::channel(64 * 1024);
        let (view_tx, view) = tokio_watch::channel(MonitorView::default());
        let mut state = State::new(cfg, webhook.clone());
        let expired: Arc<std::sync::atomic::AtomicU64> = Default::default();
        state.expired = expired.clone();
        tokio::spawn(run(state, rx, view_tx));
        Ok(Monitor {
            tx,
            view,
            webhook,
            dropped: Default::default(),
            expired,
        })
    }

    /// A pop went out for an answered call.
    pub fn pop_sent(&self, pop_id: &str, campaign: &str, degraded: bool, answered_at: Instant) {
        self.tell(Observation::PopSent {
            pop_id: pop_id.to_string(),
            campaign: Arc::from(campaign),
            degraded,
            answered_at,
        });
    }

    /// A page acknowledged the pop.
    pub fn pop_acked(&self, pop_id: &str) {
        self.tell(Observation::PopAcked {
            pop_id: pop_id.to_string(),
        });
    }

    fn tell(&self, o: Observation) {
        if self.tx.try_send(o).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Pops no page acknowledged within `ack_within_seconds` (a counter:
    /// a late acknowledgement does not take one back).
    pub fn unacknowledged(&self) -> u64 {
        self.expired.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn view(&self) -> MonitorView {
        let mut v = self.view.borrow().clone();
        v.webhook = self.webhook.as_ref().map(Webhook::status);
        v.dropped = self.dropped.load(std::sync::atomic::Ordering::Relaxed);
        v
    }
}
