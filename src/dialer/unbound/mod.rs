//! Power and predictive campaigns: calls placed before any agent is chosen.
//! The answered customer waits in the switch's holding extension (which
//! runs answering-machine detection); the first free agent of the campaign
//! is connected by a transfer (ESL `uuid_transfer`, AMI `Redirect`) and
//! gets the pop at that moment. A customer no agent takes within the
//! campaign's limit hears its message and is abandoned: the task becomes a
//! callback after the lockout, and the abandon counts against the cap.
//!
//! How many calls to place is `predictive` (pure); this module keeps the
//! counts it needs, one `Lines` per campaign, owned by the dialer's loop:
//! the pacing round is `round`, the waiting customers `connect`.

mod connect;
mod round;

use super::Dialer;
use super::abandon_window::AbandonWindow;
use super::bucket::Bucket;
use super::live_call::Unbound;
use super::predictive::Measures;
use crate::campaign::dialing::{DialingSettings, MachineAction};
use crate::switch::driver::Transfer;
use crate::switch::{AmdVerdict, CallId, HangupCause};
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

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
    /// People answered over the short window (`short_window_seconds`).
    pub window: AbandonWindow,
    /// And over the cap window (`abandon_window_seconds`).
    pub cap: super::cap_window::CapWindow,
    /// The last round found the campaign at its cap: not dialing ahead.
    pub held: bool,
    /// What the campaign is owed of the switches' room when campaigns
    /// want more than it holds (`share::share_by_weight`).
    pub share_credit: f64,
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
                        let campaign = call.task.campaign_id.clone();
                        self.count_person(&campaign, None, Instant::now());
                    }
                    _ => {}
                }
                Some(Outcome::Abandoned)
            }
        }
    }

    /// A person answered was connected to an agent after waiting
    /// `waited_ms` (Some) or abandoned (None): counted in the campaign's
    /// stats, its short window and the gain, which steers to the rate that
    /// keeps the window under the cap.
    pub(super) fn count_person(&mut self, campaign: &str, waited_ms: Option<f64>, clock: Instant) {
        let cap = self.dialing_of(campaign).map_or(0.03, |d| d.abandon_cap);
        let stats = self.stats.campaign(campaign);
        stats.people += 1;
        match waited_ms {
            Some(ms) => {
                stats.connected += 1;
                stats.connect_ms_sum += ms;
                stats.connect_ms_max = stats.connect_ms_max.max(ms);
            }
            None => stats.abandoned += 1,
        }
        let lines = self
            .lines
            .by_campaign
            .entry(campaign.to_string())
            .or_default();
        // (The window's span follows the settings in each pacing round.)
        lines.window.add(clock, waited_ms.is_none());
        lines.cap.count(waited_ms.is_none());
        let target = lines.window.target(cap, clock);
        lines
            .measures
            .answered_call(waited_ms.is_none(), target, lines.held);
    }
}
