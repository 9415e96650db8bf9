//! Power and predictive campaigns: calls placed before any agent is chosen.
//! The answered customer waits in the switch's holding extension (which
//! runs answering-machine detection); the first free agent of the campaign
//! is connected by a transfer (ESL `uuid_transfer`, AMI `Redirect`) and
//! gets the pop at that moment. A customer no agent takes within the
//! campaign's limit hears its message and is abandoned: the task becomes a
//! callback after the lockout, and the abandon counts against the cap.
//!
//! How many calls to place is `predictive` (pure); this file keeps the
//! counts it needs, one `Lines` per campaign, owned by the dialer's loop.

use super::Dialer;
use super::agents::AgentState;
use super::bucket::Bucket;
use super::claim;
use super::live_call::{CustomerLookup, Unbound};
use super::predictive::{self, Counts, Measures};
use crate::campaign::dialing::{DialMode, DialingSettings, MachineAction};
use crate::popup::messages::PopCallState;
use crate::store::{Write, now_ms};
use crate::switch::driver::Transfer;
use crate::switch::{AmdVerdict, CallId, HangupCause};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two pacing rounds: a round scans the campaign's
/// agents, so it is not run for every event.
const ROUND: Duration = Duration::from_millis(20);

/// One unbound campaign's lines.
#[derive(Default)]
pub struct Lines {
    pub measures: Measures,
    /// Seats claimed or calls placed, not yet answered or ended.
    pub in_flight: usize,
    /// The calls placed of those, by when.
    pub placed: std::collections::BTreeSet<(Instant, CallId)>,
    /// Answered calls waiting for the verdict or an agent, oldest first.
    pub waiting: VecDeque<CallId>,
    /// Calls of the campaign up now (placed to ended).
    pub up: usize,
    /// The campaign's own originates per second.
    pub bucket: Option<Bucket>,
    /// Connected calls whose talk ended, for the mean talk time.
    talks: u64,
}

/// All unbound campaigns' lines, and when the last round ran.
#[derive(Default)]
pub struct AllLines {
    pub by_campaign: HashMap<String, Lines>,
    last_round: Option<Instant>,
}

impl Dialer {
    fn dialing_of(&self, campaign: &str) -> Option<&DialingSettings> {
        self.campaigns
            .get(campaign)
            .map(|v| &v.campaign.settings.dialing)
    }

    /// A round of pacing for every running power or predictive campaign:
    /// customers waiting are connected or abandoned first, then each
    /// campaign's calls to place are worked out, shared by weight where
    /// the switches have less room than all want, and claimed.
    pub(super) fn dial_unbound(&mut self) {
        let clock = Instant::now();
        self.serve_waiting(clock);
        if self.draining
            || self
                .lines
                .last_round
                .is_some_and(|t| clock.duration_since(t) < ROUND)
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
            let lead = Duration::from_secs_f64(lines.measures.answer_delay_s().clamp(0.001, 60.0));
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
                    let over_cap = stats.people >= 50 && stats.abandon_rate() >= d.abandon_cap;
                    predictive::predictive_calls(
                        &counts,
                        &lines.measures,
                        d.lines_per_agent,
                        over_cap,
                    )
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
        if wants.is_empty() {
            return;
        }
        let room: usize = self.switches.iter().map(|s| s.free(clock)).sum();
        let total: usize = wants.iter().map(|(_, n)| n).sum();
        if total > room {
            // Shared by weight: each campaign gets its weight's share of
            // the room (the heaviest at least one).
            let weights: f64 = wants
                .iter()
                .map(|(v, _)| v.campaign.settings.dialing.weight)
                .sum();
            for (v, n) in wants.iter_mut() {
                let share = room as f64 * v.campaign.settings.dialing.weight / weights;
                *n = (*n).min(share.floor() as usize);
            }
            if wants.iter().all(|(_, n)| *n == 0)
                && let Some((_, n)) = wants.iter_mut().max_by(|a, b| {
                    a.0.campaign
                        .settings
                        .dialing
                        .weight
                        .total_cmp(&b.0.campaign.settings.dialing.weight)
                })
            {
                *n = room.min(1);
            }
        }
        for (view, n) in wants {
            self.claim_unbound(view, n, clock, now);
        }
    }

    /// Claim jobs for `n` calls of the campaign with no agent.
    fn claim_unbound(
        &mut self,
        view: Arc<claim::CampaignView>,
        mut n: usize,
        clock: Instant,
        now: i64,
    ) {
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
                return;
            }
            let lines = self.lines.by_campaign.entry(id.clone()).or_default();
            lines.in_flight += seats.len();
            lines.up += seats.len();
            if let Some(b) = lines.bucket.as_mut() {
                b.take(clock, seats.len());
            }
            self.claim_jobs += 1;
            let (store, tx, view) = (self.store.clone(), self.internal_tx.clone(), view.clone());
            tokio::spawn(async move {
                let claims = claim::claim(&store, seats, &view, now).await;
                let _ = tx.send(super::Internal::Claims(Box::new(claims))).await;
            });
        }
    }

    /// When the first customer waiting for an agent reaches their limit
    /// (each campaign's queue is oldest first).
    pub(super) fn next_abandon_due(&self) -> Option<Instant> {
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
    pub(super) fn lines_unclaimed(&mut self, campaign: &str) {
        if let Some(l) = self.lines.by_campaign.get_mut(campaign) {
            l.in_flight = l.in_flight.saturating_sub(1);
            l.up = l.up.saturating_sub(1);
            if let Some(b) = l.bucket.as_mut() {
                b.give_back(1);
            }
        }
    }

    /// An unbound call was answered: it waits for the machine verdict, or
    /// for an agent at once.
    pub(super) fn unbound_answered(&mut self, id: &CallId, received: Instant) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.unbound != Unbound::Placed {
            return;
        }
        let campaign = call.task.campaign_id.clone();
        let detect = self
            .campaigns
            .get(&campaign)
            .is_none_or(|v| v.campaign.settings.dialing.machine_detection);
        call.answered_at = Some(received);
        let delay = received
            .saturating_duration_since(call.placed_at)
            .as_secs_f64();
        let lines = self.lines.by_campaign.entry(campaign).or_default();
        lines.in_flight = lines.in_flight.saturating_sub(1);
        lines.placed.remove(&(call.placed_at, id.clone()));
        lines.waiting.push_back(id.clone());
        if detect {
            call.unbound = Unbound::Verdict;
        } else {
            call.unbound = Unbound::Waiting;
            call.waiting_since = Some(received);
            lines.measures.person_answered(delay);
        }
        tracing::debug!(
            detect,
            "answered with no agent: waiting in the holding extension"
        );
        // The record is fetched now if the preload did not.
        self.resolve(id);
    }

    /// The switch's machine verdict for a call in the holding extension.
    pub(super) async fn on_verdict(&mut self, id: &CallId, verdict: AmdVerdict, received: Instant) {
        tracing::debug!(verdict = verdict.as_str(), "machine detection");
        let Some(call) = self.calls.get(id) else {
            return;
        };
        if call.unbound != Unbound::Verdict {
            return;
        }
        let campaign = call.task.campaign_id.clone();
        let d = self.dialing_of(&campaign).cloned().unwrap_or_default();
        // From the dial to the verdict: when a person would need an agent.
        let delay = received
            .saturating_duration_since(call.placed_at)
            .as_secs_f64();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let lines = self.lines.by_campaign.entry(campaign.clone()).or_default();
        if verdict == AmdVerdict::Machine && d.on_machine != MachineAction::Agent {
            call.unbound = Unbound::Machine;
            lines.waiting.retain(|c| c != id);
            let length = call.placed_at.elapsed().as_secs_f64();
            lines.measures.dial_without_person(length);
            self.stats.campaign(&campaign).machines += 1;
            let sw = call.switch;
            let manager = self.switches[sw].manager.clone();
            let (id, ext, ctx) = (
                id.clone(),
                d.message_extension.clone(),
                self.switches[sw].plan.connect_context.clone(),
            );
            let message = d.machine_message.clone();
            let hang_up = d.on_machine == MachineAction::Hangup;
            tokio::spawn(async move {
                let r = if hang_up {
                    manager.hangup(id, HangupCause::NormalClearing).await
                } else {
                    manager
                        .transfer(Transfer {
                            call_id: id,
                            variables: vec![("dialpop_message_file".into(), message)],
                            extension: ext,
                            context: ctx,
                        })
                        .await
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "could not end the machine's call");
                }
            });
            return;
        }
        if verdict == AmdVerdict::Machine {
            self.stats.campaign(&campaign).machines += 1;
        }
        lines.measures.person_answered(delay);
        call.unbound = Unbound::Waiting;
        call.waiting_since = Some(received);
        self.serve_waiting(Instant::now());
    }

    /// Connects waiting customers to free agents, oldest first, and
    /// abandons those past their campaign's limit.
    pub(super) fn serve_waiting(&mut self, clock: Instant) {
        let campaigns: Vec<String> = self
            .lines
            .by_campaign
            .iter()
            .filter(|(_, l)| !l.waiting.is_empty())
            .map(|(c, _)| c.clone())
            .collect();
        for campaign in campaigns {
            let d = self.dialing_of(&campaign).cloned().unwrap_or_default();
            let target = d.abandon_cap / 2.0;
            let queue = self
                .lines
                .by_campaign
                .get(&campaign)
                .map(|l| l.waiting.clone())
                .unwrap_or_default();
            let mut gone = Vec::new();
            for id in queue {
                let Some(call) = self.calls.get(&id) else {
                    gone.push(id);
                    continue;
                };
                // Still waiting for the verdict: the limit starts after it.
                let Some(since) = call.waiting_since else {
                    continue;
                };
                if clock.saturating_duration_since(since) > d.abandon_after() {
                    self.abandon(&id, &d, target);
                    gone.push(id);
                    continue;
                }
                let campaigns = &self.campaigns;
                let agent = self.agents.next_available_for(&campaign, |c| {
                    campaigns.get(c).is_some_and(|v| v.dials() || c == campaign)
                });
                let Some(agent) = agent else {
                    // Nobody free: later customers wait too, but may still
                    // be past their limit.
                    continue;
                };
                self.connect(&id, agent, since, clock, target);
                gone.push(id);
            }
            if let Some(l) = self.lines.by_campaign.get_mut(&campaign) {
                l.waiting.retain(|c| !gone.contains(c));
            }
        }
    }

    /// The agent takes the waiting customer: the switch connects them and
    /// the pop goes now.
    fn connect(
        &mut self,
        id: &CallId,
        agent: crate::store::Agent,
        since: Instant,
        clock: Instant,
        target: f64,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.unbound = Unbound::Connected;
        call.agent_id = agent.id.clone();
        call.answered = true;
        let campaign = call.task.campaign_id.clone();
        let sw = call.switch;
        let span = call.span.clone();
        let plan = &self.switches[sw].plan;
        let transfer = Transfer {
            call_id: id.clone(),
            variables: vec![
                ("dialpop_agent_id".into(), agent.id.clone()),
                (
                    "dialpop_agent_dial".into(),
                    plan.agent_dial_string
                        .replace("{extension}", &agent.extension),
                ),
            ],
            extension: plan.connect_extension.clone(),
            context: plan.connect_context.clone(),
        };
        let manager = self.switches[sw].manager.clone();
        tokio::spawn(async move {
            if let Err(e) = manager.transfer(transfer).await {
                tracing::warn!(parent: &span, error = %e, "could not connect the waiting customer to the agent");
            }
        });
        let waited_ms = clock.saturating_duration_since(since).as_secs_f64() * 1e3;
        let stats = self.stats.campaign(&campaign);
        stats.people += 1;
        stats.connected += 1;
        stats.connect_ms_sum += waited_ms;
        stats.connect_ms_max = stats.connect_ms_max.max(waited_ms);
        self.stats.answered += 1;
        if let Some(l) = self.lines.by_campaign.get_mut(&campaign) {
            l.measures.answered_call(false, target);
        }
        self.agents.set(&agent.id, AgentState::OnCall(id.clone()));
        let (tx, id2) = (self.internal_tx.clone(), id.clone());
        // The pop and the agent's page are told from the loop, as for an
        // answer: the same path, with the connection as its moment.
        let _ = tx.try_send(super::Internal::Connected(id2, agent.id, clock));
    }

    /// No agent in time: the customer hears the message and the call ends
    /// abandoned.
    fn abandon(&mut self, id: &CallId, d: &DialingSettings, target: f64) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.unbound = Unbound::Abandoned;
        let campaign = call.task.campaign_id.clone();
        let sw = call.switch;
        let span = call.span.clone();
        tracing::info!(parent: &span, "no agent within the limit: the customer hears the message, the call is abandoned");
        let transfer = Transfer {
            call_id: id.clone(),
            variables: vec![("dialpop_message_file".into(), d.abandon_message.clone())],
            extension: d.message_extension.clone(),
            context: self.switches[sw].plan.connect_context.clone(),
        };
        let manager = self.switches[sw].manager.clone();
        let id2 = id.clone();
        tokio::spawn(async move {
            if let Err(e) = manager.transfer(transfer).await {
                tracing::warn!(parent: &span, error = %e, "could not play the abandon message; hanging up");
                let _ = manager.hangup(id2, HangupCause::NormalClearing).await;
            }
        });
        let stats = self.stats.campaign(&campaign);
        stats.people += 1;
        stats.abandoned += 1;
        if let Some(l) = self.lines.by_campaign.get_mut(&campaign) {
            l.measures.answered_call(true, target);
        }
    }

    /// An unbound call ended: its lines are freed, and what it was decides
    /// its outcome (None: decided as for any call).
    pub(super) fn unbound_ended(
        &mut self,
        id: &CallId,
        call: &super::live_call::LiveCall,
    ) -> Option<super::policy::Outcome> {
        use super::policy::Outcome;
        if call.unbound == Unbound::No {
            return None;
        }
        let lines = self
            .lines
            .by_campaign
            .entry(call.task.campaign_id.clone())
            .or_default();
        lines.up = lines.up.saturating_sub(1);
        match call.unbound {
            Unbound::No => None,
            Unbound::Placed => {
                lines.in_flight = lines.in_flight.saturating_sub(1);
                lines.placed.remove(&(call.placed_at, id.clone()));
                lines
                    .measures
                    .dial_without_person(call.placed_at.elapsed().as_secs_f64());
                None
            }
            Unbound::Connected => {
                if let Some(at) = call.answered_at {
                    lines.talks += 1;
                    let n = lines.talks;
                    lines.measures.talked(at.elapsed().as_secs_f64(), n);
                }
                None
            }
            Unbound::Machine => Some(Outcome::Machine),
            // Hung up while waiting: abandoned too (no agent took them).
            Unbound::Verdict | Unbound::Waiting | Unbound::Abandoned => {
                lines.waiting.retain(|c| c != id);
                match call.unbound {
                    // Gone before the verdict: no person known, no abandon
                    // (retried as unanswered).
                    Unbound::Verdict => return Some(Outcome::NoAnswer),
                    // Hung up while waiting: no agent took them in time.
                    Unbound::Waiting => {
                        let target = self
                            .dialing_of(&call.task.campaign_id)
                            .map_or(0.015, |d| d.abandon_cap / 2.0);
                        if let Some(l) = self.lines.by_campaign.get_mut(&call.task.campaign_id) {
                            l.measures.answered_call(true, target);
                        }
                        let stats = self.stats.campaign(&call.task.campaign_id);
                        stats.people += 1;
                        stats.abandoned += 1;
                    }
                    _ => {}
                }
                Some(Outcome::Abandoned)
            }
        }
    }

    /// An unbound call connected: the same steps as an answer, with the
    /// agent now known.
    pub(super) async fn on_connected(&mut self, id: CallId, agent_id: String, at: Instant) {
        // Queued before the answer and its pop, so that both find it.
        self.writer
            .submit(Write::Connected {
                call_id: id.to_string(),
                agent_id: agent_id.clone(),
            })
            .await;
        let plan = self.pop_plan(&id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.ring_pop.is_some() || matches!(call.customer, CustomerLookup::Ready(_)) {
            super::pop_send::send_pop(
                &self.writer,
                &self.hub,
                &mut self.stats,
                &id,
                call,
                at,
                &plan,
                PopCallState::Answered,
            )
            .await;
        } else {
            call.answer_waiting = Some(at);
            self.writer
                .submit(Write::Answer {
                    call_id: id.to_string(),
                    at_ms: now_ms(),
                    pop: None,
                })
                .await;
            self.resolve(&id);
        }
        super::pop_send::tell_call(&self.hub, &agent_id, &id, "answered", None).await;
        self.set_agent(&agent_id, AgentState::OnCall(id.clone()))
            .await;
    }
}
