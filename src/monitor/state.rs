//! The monitor's task: owns the windows of every scope, expires the pops no
//! page acknowledged in time, judges the rates every second, and raises the
//! alerts and recoveries.

#[cfg(test)]
mod tests;

use super::config::MonitorConfig;
use super::watch::{Kind, Rule, Transition, Watch};
use super::webhook::Webhook;
use super::window::{Tally, Window};
use super::{Alert, MonitorView, Observation, RateView, ScopeView};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch as tokio_watch};

/// Alert transitions kept for the admin page.
const RECENT: usize = 50;

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

pub(super) struct State {
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
    pub(super) expired: Arc<std::sync::atomic::AtomicU64>,
}

impl State {
    pub(super) fn new(cfg: &MonitorConfig, webhook: Option<Webhook>) -> State {
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

pub(super) async fn run(
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
