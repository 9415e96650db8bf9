//! A pacing round of the power and predictive campaigns: each one's calls
//! to place (`predictive`), capped by its own limits, shared by weight when
//! the switches have less room than all want, and claimed.

use super::super::Dialer;
use super::super::bucket::Bucket;
use super::super::cap_window;
use super::super::claim;
use super::super::predictive::{self, Counts};
use super::super::share;
use crate::campaign::dialing::DialMode;
use crate::store::now_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Dialer {
    /// A round of pacing for every running power or predictive campaign:
    /// customers waiting are connected or abandoned first, then each
    /// campaign's calls to place are worked out, shared by weight where
    /// the switches have less room than all want, and claimed.
    pub(in crate::dialer) fn dial_unbound(&mut self) {
        let clock = Instant::now();
        self.serve_waiting(clock);
        if self.draining
            || self
                .lines
                .last_round
                .is_some_and(|t| clock.duration_since(t) < self.plan.pacing_round)
        {
            return;
        }
        self.lines.last_round = Some(clock);
        let now = now_ms();
        let mut wants: Vec<(Arc<claim::CampaignView>, usize)> = Vec::new();
        for view in self.campaigns.values() {
            let d = &view.campaign.settings.dialing;
            if !view.dials() || !d.mode.unbound() {
                continue;
            }
            let id = &view.campaign.id;
            if self.idle_until.get(id).is_some_and(|&t| t > now) {
                continue;
            }
            let lines = self.lines.by_campaign.entry(id.clone()).or_default();
            let lead_s = lines
                .measures
                .lead_s(d.abandon_after_seconds)
                .clamp(0.0, 120.0);
            let lead = Duration::from_secs_f64(lead_s);
            let (logged_in, available, on_call, wrap_ending_soon) =
                self.agents.campaign_counts(id, clock + lead);
            // Seats still being claimed are new calls; those placed bring
            // people by their age.
            let claiming = lines.in_flight.saturating_sub(lines.placed.len());
            let expected_answers = claiming as f64 * lines.measures.chance(0.0)
                + lines
                    .placed
                    .iter()
                    .map(|(at, _)| {
                        lines
                            .measures
                            .chance(clock.saturating_duration_since(*at).as_secs_f64())
                    })
                    .sum::<f64>();
            let counts = Counts {
                logged_in,
                available,
                on_call,
                wrap_ending_soon,
                in_flight: lines.in_flight,
                expected_answers,
                waiting: lines.waiting.len(),
                lead_s,
                wrap_s: wrap_of(&view.campaign.settings, self.plan.wrap_up),
            };
            let stats = self.stats.campaign(id);
            let level = if logged_in == 0 {
                0.0
            } else {
                (counts.in_flight + counts.waiting + counts.on_call) as f64 / logged_in as f64
            };
            stats.dial_level = level;
            stats.dial_level_max = stats.dial_level_max.max(level);
            stats.gain = lines.measures.gain();
            let mut n = match d.mode {
                DialMode::Power => predictive::power_calls(&counts, d.lines_per_agent),
                DialMode::Predictive => {
                    lines.window.set_span(d.short_window());
                    if lines
                        .cap
                        .ask_due(clock, cap_window::refresh_every(self.plan.pacing_round))
                    {
                        ask_cap_counts(
                            &self.store,
                            &self.internal_tx,
                            id,
                            d.abandon_window_seconds,
                        );
                    }
                    let brake = brake_of(lines, d, clock);
                    lines.held = brake < 1.0;
                    predictive::predictive_calls(&counts, &lines.measures, d.lines_per_agent, brake)
                }
                DialMode::Progressive | DialMode::Preview => 0,
            };
            if let Some(max) = d.max_concurrent {
                n = n.min(max.saturating_sub(lines.up));
            }
            if let Some(rate) = d.originates_per_second {
                let b = lines
                    .bucket
                    .get_or_insert_with(|| Bucket::new(rate, rate.max(1.0)));
                n = n.min(b.available(clock));
            }
            if n > 0 {
                wants.push((view.clone(), n));
            }
        }
        // With every claim job taken nothing of a share could be placed;
        // the next round comes when a claim returns.
        if wants.is_empty() || self.claim_jobs >= claim::MAX_CLAIM_JOBS {
            return;
        }
        let mut room: usize = self.switches.iter().map(|s| s.free(clock)).sum();
        if let Some(g) = self.global_pace.as_ref() {
            room = room.min(g.room(clock));
        }
        let ids: Vec<String> = wants.iter().map(|(v, _)| v.campaign.id.clone()).collect();
        let asks: Vec<(f64, usize)> = wants
            .iter()
            .map(|(v, n)| (v.campaign.settings.dialing.weight, *n))
            .collect();
        let mut credits: Vec<f64> = wants
            .iter()
            .map(|(v, _)| {
                self.lines
                    .by_campaign
                    .get(&v.campaign.id)
                    .map_or(0.0, |l| l.share_credit)
            })
            .collect();
        let shares = share::share_by_weight(&asks, room, &mut credits);
        for (i, ((view, _), share)) in wants.into_iter().zip(shares).enumerate() {
            let unplaced = self.claim_unbound(view, share, clock, now);
            share::give_back(&asks, &mut credits, i, unplaced);
        }
        for (id, credit) in ids.into_iter().zip(credits) {
            if let Some(l) = self.lines.by_campaign.get_mut(&id) {
                l.share_credit = credit;
            }
        }
    }

    /// Claim jobs for `n` calls of the campaign with no agent; what could
    /// not be claimed (no claim job or switch free) is returned.
    fn claim_unbound(
        &mut self,
        view: Arc<claim::CampaignView>,
        mut n: usize,
        clock: Instant,
        now: i64,
    ) -> usize {
        let id = view.campaign.id.clone();
        while n > 0 && self.claim_jobs < claim::MAX_CLAIM_JOBS {
            let mut seats = Vec::new();
            while seats.len() < claim::MAX_SEATS && n > 0 {
                let Some(sw) = self.pick_switch(clock) else {
                    break;
                };
                seats.push(claim::Seat {
                    agent: None,
                    switch: sw,
                    switch_name: self.switches[sw].plan.name.clone(),
                });
                n -= 1;
            }
            if seats.is_empty() {
                return n;
            }
            let lines = self.lines.by_campaign.entry(id.clone()).or_default();
            lines.in_flight += seats.len();
            lines.up += seats.len();
            if let Some(b) = lines.bucket.as_mut() {
                b.take(clock, seats.len());
            }
            self.claim_jobs += 1;
            let (store, tx, view) = (self.store.clone(), self.internal_tx.clone(), view.clone());
            let fence = self.fence().cloned();
            tokio::spawn(async move {
                let claims = claim::claim(&store, seats, &view, now, fence.as_ref()).await;
                let _ = tx
                    .send(super::super::Internal::Claims(Box::new(claims)))
                    .await;
            });
        }
        n
    }

    /// When the next pacing round is due: while a power or predictive
    /// campaign dials, rounds run by the clock (calls ringing age, agents'
    /// wrap-ups near their end) and not only when an event comes.
    pub(in crate::dialer) fn next_round_due(&self) -> Option<Instant> {
        if self.draining {
            return None;
        }
        let dialing = self
            .campaigns
            .values()
            .any(|v| v.dials() && v.campaign.settings.dialing.mode.unbound());
        if !dialing {
            return None;
        }
        Some(match self.lines.last_round {
            Some(t) => t + self.plan.pacing_round,
            None => Instant::now(),
        })
    }

    /// When the first customer waiting for an agent reaches their limit
    /// (each campaign's queue is oldest first).
    pub(in crate::dialer) fn next_abandon_due(&self) -> Option<Instant> {
        self.lines
            .by_campaign
            .iter()
            .filter_map(|(campaign, l)| {
                let since = l
                    .waiting
                    .iter()
                    .find_map(|id| self.calls.get(id).and_then(|c| c.waiting_since))?;
                let limit = self
                    .dialing_of(campaign)
                    .map_or(Duration::from_secs(2), |d| d.abandon_after());
                // Just past the limit: the check is "longer than".
                Some(since + limit + Duration::from_millis(1))
            })
            .min()
    }

    /// A seat with no agent found no task.
    pub(in crate::dialer) fn lines_unclaimed(&mut self, campaign: &str) {
        if let Some(l) = self.lines.by_campaign.get_mut(campaign) {
            l.in_flight = l.in_flight.saturating_sub(1);
            l.up = l.up.saturating_sub(1);
            if let Some(b) = l.bucket.as_mut() {
                b.give_back(1);
            }
        }
    }
}

/// The campaign's wrap-up in seconds (the dialer's when it gives none).
fn wrap_of(s: &crate::campaign::CampaignSettings, default: Duration) -> f64 {
    s.wrap_up_seconds.unwrap_or(default.as_secs_f64())
}

/// Asks the store for the campaign's people and abandons over its cap
/// window; the answer comes back to the loop.
fn ask_cap_counts(
    store: &Arc<dyn crate::store::Store>,
    tx: &tokio::sync::mpsc::Sender<super::super::Internal>,
    campaign: &str,
    window_s: f64,
) {
    let (store, tx, campaign) = (store.clone(), tx.clone(), campaign.to_string());
    let since = now_ms().saturating_sub((window_s * 1e3) as i64);
    tokio::spawn(async move {
        let tally = match store.abandon_counts(&campaign, since).await {
            Ok((people, abandoned)) => Some(cap_window::Tally { people, abandoned }),
            Err(e) => {
                tracing::warn!(%campaign, error = %e, "could not count the cap window's abandons");
                None
            }
        };
        let _ = tx
            .send(super::super::Internal::CapCounts(campaign, tally))
            .await;
    });
}

/// How much of its dialing ahead a predictive campaign may do now (1 all,
/// 0 none). None at the cap over the cap window, or while that window is
/// not known yet; near the cap's share in the short window, less and less
/// (so that every half hour keeps under the cap, not only the month). The
/// cap window counts only once it holds more people than the short window:
/// before, the short window is the campaign's whole history, and reads a
/// young half hour as the full one it will be, where the rate of the first
/// sixty people is over the cap at two abandons.
fn brake_of(
    lines: &mut super::Lines,
    d: &crate::campaign::dialing::DialingSettings,
    clock: Instant,
) -> f64 {
    if !lines.cap.known() {
        return 0.0;
    }
    let (in_window, _) = lines.window.counts(clock);
    let month = lines.cap.tally();
    if month.people >= 50 && month.people as usize > in_window && month.rate() >= d.abandon_cap {
        return 0.0;
    }
    lines.window.brake(d.abandon_cap, clock)
}
