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

use config::MonitorConfig;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch as tokio_watch};
use watch::{Kind, Rule, Transition, Watch};
use webhook::{Webhook, WebhookStatus};
use window::{Tally, Window};

/// Alert transitions kept for the admin page.
const RECENT: usize = 50;

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

#[derive(Default)]
struct Scoped {
    windows: BTreeMap<Kind, Window>,
    watches: BTreeMap<Kind, Watch>,
    tallies: BTreeMap<Kind, Tally>,
}

impl Scoped {
    fn add(&mut self, kind: Kind, at: u64, failed: bool) {
        self.windows.entry(kind).or_default().add(at, failed);
    }

    fn idle(&self) -> bool {
        self.tallies.values().all(|t| t.total == 0) && self.watches.values().all(|w| !w.firing)
    }

    fn view(&self, campaign: Option<String>) -> ScopeView {
        let rate = |k: Kind| {
            let t = self.tallies.get(&k).copied().unwrap_or_default();
            RateView {
                total: t.total,
                failed: t.failed,
                rate: t.rate(),
                firing: self.watches.get(&k).is_some_and(|w| w.firing),
            }
        };
        ScopeView {
            campaign,
            pop_failures: rate(Kind::PopFailures),
            fetch_failures: rate(Kind::FetchFailures),
        }
    }
}

struct Pending {
    campaign: Arc<str>,
    due: Instant,
}

struct State {
    started: Instant,
    window: u64,
    rule: Rule,
    ack_within: Duration,
    overall: Scoped,
    campaigns: HashMap<Arc<str>, Scoped>,
    pending: HashMap<String, Pending>,
    /// Pending pops by due time, to expire them in order.
    due: VecDeque<(Instant, String)>,
    recent: VecDeque<Alert>,
    webhook: Option<Webhook>,
    cfg: MonitorConfig,
    expired: Arc<std::sync::atomic::AtomicU64>,
}

impl State {
    fn new(cfg: &MonitorConfig, webhook: Option<Webhook>) -> State {
        State {
            started: Instant::now(),
            window: cfg.window_seconds,
            rule: Rule {
                threshold: cfg.threshold_percent / 100.0,
                min_events: cfg.min_events,
            },
            ack_within: Duration::from_secs_f64(cfg.ack_within_seconds),
            overall: Scoped::default(),
            campaigns: HashMap::new(),
            pending: HashMap::new(),
            due: VecDeque::new(),
            recent: VecDeque::new(),
            webhook,
            cfg: cfg.clone(),
            expired: Default::default(),
        }
    }

    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.started).as_secs()
    }

    fn count(&mut self, campaign: &Arc<str>, kind: Kind, at: u64, failed: bool) {
        self.overall.add(kind, at, failed);
        self.campaigns
            .entry(campaign.clone())
            .or_default()
            .add(kind, at, failed);
    }

    fn observe(&mut self, o: Observation, now: Instant) {
        match o {
            Observation::PopSent {
                pop_id,
                campaign,
                degraded,
                answered_at,
            } => {
                let at = self.second(now);
                self.count(&campaign, Kind::FetchFailures, at, degraded);
                if degraded {
                    self.count(&campaign, Kind::PopFailures, at, true);
                } else if !self.pending.contains_key(&pop_id) {
                    let due = answered_at + self.ack_within;
                    self.due.push_back((due, pop_id.clone()));
                    self.pending.insert(pop_id, Pending { campaign, due });
                }
            }
            Observation::PopAcked { pop_id } => {
                if let Some(p) = self.pending.remove(&pop_id) {
                    let at = self.second(now);
                    self.count(&p.campaign, Kind::PopFailures, at, false);
                }
            }
        }
    }

    /// Pops past their acknowledgement time have failed.
    fn expire(&mut self, now: Instant) {
        while let Some((due, _)) = self.due.front() {
            if *due > now {
                break;
            }
            let Some((due, id)) = self.due.pop_front() else {
                break;
            };
            if let Some(p) = self.pending.remove(&id) {
                // A pop acknowledged and sent again may be due twice.
                if p.due == due {
                    self.expired
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let at = self.second(now);
                    self.count(&p.campaign, Kind::PopFailures, at, true);
                } else {
                    self.pending.insert(id, p);
                }
            }
        }
    }

    fn judge(&mut self, now: Instant) -> MonitorView {
        let sec = self.second(now);
        let (window, rule) = (self.window, self.rule);
        let mut alerts = Vec::new();
        let mut judge_scope = |s: &mut Scoped, campaign: Option<&str>| {
            for kind in Kind::ALL {
                let t = s.windows.entry(kind).or_default().slide(sec, window);
                s.tallies.insert(kind, t);
                if let Some(tr) = s.watches.entry(kind).or_default().judge(t, &rule) {
                    alerts.push(Alert {
                        source: "dialpop",
                        alert: kind.alert(),
                        status: tr,
                        campaign: campaign.map(str::to_string),
                        rate: t.rate(),
                        threshold: rule.threshold,
                        failed: t.failed,
                        total: t.total,
                        window_seconds: window,
                        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    });
                }
            }
        };
        judge_scope(&mut self.overall, None);
        for (c, s) in self.campaigns.iter_mut() {
            judge_scope(s, Some(c));
        }
        self.campaigns.retain(|_, s| !s.idle());
        for a in alerts {
            self.raise(a);
        }
        let mut campaigns: Vec<ScopeView> = self
            .campaigns
            .iter()
            .map(|(c, s)| s.view(Some(c.to_string())))
            .collect();
        campaigns.sort_by(|a, b| a.campaign.cmp(&b.campaign));
        MonitorView {
            window_seconds: self.window,
            threshold: self.rule.threshold,
            min_events: self.rule.min_events,
            ack_within_seconds: self.cfg.ack_within_seconds,
            overall: self.overall.view(None),
            campaigns,
            recent: self.recent.iter().cloned().collect(),
            webhook: None,
            dropped: 0,
        }
    }

    fn raise(&mut self, a: Alert) {
        let campaign = a.campaign.as_deref().unwrap_or("(all)");
        let pct = a.rate * 100.0;
        match a.status {
            Transition::Firing => tracing::error!(
                alert = a.alert,
                campaign,
                rate_percent = pct,
                failed = a.failed,
                total = a.total,
                "alert: failure rate above {}% over the last {} s",
                a.threshold * 100.0,
                a.window_seconds
            ),
            Transition::Resolved => tracing::warn!(
                alert = a.alert,
                campaign,
                rate_percent = pct,
                failed = a.failed,
                total = a.total,
                "recovered: failure rate back at or below {}%",
                a.threshold * 100.0
            ),
        }
        if let Some(w) = &self.webhook {
            w.send(a.clone());
        }
        self.recent.push_front(a);
        self.recent.truncate(RECENT);
    }
}

async fn run(
    mut state: State,
    mut rx: mpsc::Receiver<Observation>,
    view: tokio_watch::Sender<MonitorView>,
) {
    // Judged every second (and the window slides by seconds), so an alert
    // comes at most a second after its cause.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            o = rx.recv() => match o {
                Some(o) => state.observe(o, Instant::now()),
                None => break,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                state.expire(now);
                let v = state.judge(now);
                view.send_replace(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(window: u64) -> State {
        State::new(
            &MonitorConfig {
                window_seconds: window,
                threshold_percent: 10.0,
                min_events: 5,
                ack_within_seconds: 2.0,
                webhook: None,
            },
            None,
        )
    }

    fn sent(s: &mut State, id: &str, campaign: &str, degraded: bool, at: Instant) {
        s.observe(
            Observation::PopSent {
                pop_id: id.into(),
                campaign: Arc::from(campaign),
                degraded,
                answered_at: at,
            },
            at,
        );
    }

    #[test]
    fn unacknowledged_pops_fail_at_their_due_time_and_the_alert_fires_once() {
        let mut s = state(60);
        let t0 = s.started;
        for i in 0..10 {
            sent(&mut s, &format!("p{i}"), "spring", false, t0);
        }
        for i in 0..8 {
            s.observe(
                Observation::PopAcked {
                    pop_id: format!("p{i}"),
                },
                t0,
            );
        }
        let v = s.judge(t0 + Duration::from_secs(1));
        assert_eq!(v.overall.pop_failures.total, 8, "two still pending");
        assert!(v.recent.is_empty());
        s.expire(t0 + Duration::from_secs(3));
        let v = s.judge(t0 + Duration::from_secs(3));
        assert_eq!(v.overall.pop_failures.failed, 2);
        assert_eq!(s.expired.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert!(v.overall.pop_failures.firing);
        assert!(v.campaigns[0].pop_failures.firing);
        assert_eq!(
            v.recent.len(),
            2,
            "overall and the campaign: {:?}",
            v.recent
        );
        assert!(
            v.recent
                .iter()
                .all(|a| a.status == Transition::Firing && a.alert == "pop_failure_rate")
        );
        // A late ack changes nothing: the pop had failed.
        s.observe(
            Observation::PopAcked {
                pop_id: "p9".into(),
            },
            t0 + Duration::from_secs(3),
        );
        let v = s.judge(t0 + Duration::from_secs(4));
        assert_eq!(v.overall.pop_failures.failed, 2);
        assert_eq!(v.recent.len(), 2, "fired once");
        assert!(!v.overall.fetch_failures.firing);
    }

    #[test]
    fn the_window_slides_the_alert_into_recovery() {
        let mut s = state(10);
        let t0 = s.started;
        for i in 0..6 {
            sent(&mut s, &format!("d{i}"), "spring", true, t0);
        }
        let v = s.judge(t0);
        assert!(v.overall.fetch_failures.firing && v.overall.pop_failures.firing);
        // Ten seconds on, good pops only.
        let t1 = t0 + Duration::from_secs(11);
        for i in 0..6 {
            sent(&mut s, &format!("g{i}"), "spring", false, t1);
            s.observe(
                Observation::PopAcked {
                    pop_id: format!("g{i}"),
                },
                t1,
            );
        }
        let v = s.judge(t1);
        assert!(!v.overall.pop_failures.firing);
        let resolved: Vec<_> = v
            .recent
            .iter()
            .filter(|a| a.status == Transition::Resolved)
            .collect();
        assert_eq!(
            resolved.len(),
            4,
            "two kinds, overall and campaign: {:?}",
            v.recent
        );
        assert_eq!(v.overall.pop_failures.total, 6);
    }

    #[test]
    fn an_idle_campaign_leaves_the_view() {
        let mut s = state(5);
        let t0 = s.started;
        sent(&mut s, "a", "autumn", false, t0);
        s.observe(Observation::PopAcked { pop_id: "a".into() }, t0);
        assert_eq!(s.judge(t0).campaigns.len(), 1);
        assert_eq!(s.judge(t0 + Duration::from_secs(30)).campaigns.len(), 0);
    }
}
