//! Claim jobs: taking the best due task for an agent from the store,
//! judging whether it may be dialed now (window, do-not-call, expiry), and
//! writing its attempt with a fresh call id, beside the dialer's loop.

use super::eligibility::{self, Judgement};
use crate::campaign::CampaignState;
use crate::store::{
    Agent, Campaign, ClaimFilter, DialDecision, Fence, NewAttempt, Store, Task, TaskNext, Verdict,
    Write, now_ms,
};
use crate::switch::CallId;
use std::sync::Arc;

/// Claim jobs at once: enough to keep the store busy, few enough that a
/// burst of idle agents does not flood it.
pub const MAX_CLAIM_JOBS: usize = 4;

/// Agents one job claims for, in one statement: the store's round trips,
/// not its work, bounded the dial rate when each agent had a job of its own
/// (SQLite has one connection, and every statement waits its turn on it).
pub const MAX_SEATS: usize = 8;

/// Tasks one job may defer or refuse before it hands its agents back (the
/// loop asks again at once): a window closing over thousands of tasks does
/// not hold agents for all of them.
const MAX_SKIPS: usize = 64;

/// An agent held for a claim (none: a power or predictive call, which
/// finds its agent once answered), and the switch its call would go to.
pub struct Seat {
    pub agent: Option<Agent>,
    pub switch: usize,
    pub switch_name: String,
}

impl Seat {
    /// The seat's agent's id (empty for a call with no agent yet).
    pub fn agent_id(&self) -> String {
        self.agent
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_default()
    }
}

/// What a claim job did for its seats.
pub struct Claims {
    pub campaign: String,
    /// Tasks claimed with their attempts written: calls to place.
    pub dials: Vec<(Seat, CallId, Task)>,
    /// Seats no task was found for.
    pub unfilled: Vec<Seat>,
    /// When nothing more was due: when the next task is (`i64::MAX`: none).
    pub next_due_ms: Option<i64>,
    pub error: Option<String>,
}

/// A campaign as the dialer holds it, with the claim filter its selection
/// makes.
pub struct CampaignView {
    pub campaign: Campaign,
    pub filter: ClaimFilter,
    /// Its pop templates, read once.
    pub templates: crate::popup::template::Templates,
}

impl CampaignView {
    pub fn new(campaign: Campaign) -> CampaignView {
        let s = &campaign.settings.selection;
        let filter = ClaimFilter {
            campaign_id: campaign.id.clone(),
            include_tags: s.include_tags.clone(),
            exclude_tags: s.exclude_tags.clone(),
            min_priority: s.min_priority,
            max_priority: s.max_priority,
            due_from_ms: s.due_from_ms,
            due_until_ms: s.due_until_ms,
            agents: Vec::new(),
            fence: None,
        };
        let templates = crate::popup::template::Templates::of(&campaign.settings.templates);
        CampaignView {
            campaign,
            filter,
            templates,
        }
    }

    /// Calls of this campaign are placed before an agent is chosen.
    pub fn unbound(&self) -> bool {
        self.campaign.settings.dialing.mode.unbound()
    }

    /// Only a running campaign takes new tasks.
    pub fn dials(&self) -> bool {
        self.campaign.state == CampaignState::Running
    }
}

/// A phone number as it may enter a dial string: digits with an optional
/// leading `+`. Anything else could change what the switch dials.
pub fn valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A claim job: the best due tasks of the seats' campaign, judged, and
/// the attempts of those to dial written with fresh call ids before
/// anything goes to the switch. Tasks that may not be dialed now are made
/// due at their next opening, or closed, each with its recorded reason.
pub async fn claim(
    store: &Arc<dyn Store>,
    seats: Vec<Seat>,
    view: &CampaignView,
    now: i64,
    fence: Option<&Fence>,
) -> Claims {
    let mut out = Claims {
        campaign: view.campaign.id.clone(),
        dials: Vec::new(),
        unfilled: Vec::new(),
        next_due_ms: None,
        error: None,
    };
    let mut seats = std::collections::VecDeque::from(seats);
    let mut filter = view.filter.clone();
    filter.fence = fence.cloned();
    let mut skips = 0;
    while !seats.is_empty() && skips < MAX_SKIPS {
        let asked = seats.len();
        filter.agents = seats
            .iter()
            .filter_map(|s| s.agent.as_ref().map(|a| a.id.clone()))
            .collect();
        let batch = match store.claim_batch(&filter, now, asked).await {
            Ok(b) => b,
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        };
        let got = batch.len();
        let at = now_ms();
        let (mut dials, mut attempts, mut writes) = (Vec::new(), Vec::new(), Vec::new());
        for (task, dnc) in batch {
            let judged = eligibility::judge(&task, &view.campaign.settings, dnc.as_ref(), at);
            let (next, why) = match judged {
                Judgement::Dial => {
                    // A callback goes to the agent it is bound to, if that
                    // agent is one of the seats; any other task to the
                    // agent idle longest.
                    let bound = task
                        .agent_id
                        .as_ref()
                        .filter(|_| task.agent_until_ms.is_some_and(|u| u > at))
                        .and_then(|a| {
                            seats
                                .iter()
                                .position(|s| s.agent.as_ref().is_some_and(|sa| &sa.id == a))
                        });
                    let seat = match bound {
                        Some(i) => seats.remove(i),
                        None => seats.pop_front(),
                    };
                    let Some(seat) = seat else {
                        // More tasks than seats cannot come back; should it,
                        // the task waits for the next claim.
                        writes.push(Write::FinishTask {
                            task_id: task.id,
                            next: TaskNext::Requeue(at),
                            cause: None,
                        });
                        continue;
                    };
                    let call_id = CallId::new_random();
                    // The attempt is the record of this dial.
                    attempts.push(NewAttempt {
                        call_id: call_id.to_string(),
                        task_id: task.id,
                        // Empty until a power or predictive call is
                        // connected (then written with the pop).
                        agent_id: seat.agent_id(),
                        switch_name: seat.switch_name.clone(),
                        originate_ms: at,
                    });
                    dials.push((seat, call_id, task));
                    continue;
                }
                Judgement::Defer {
                    until_ms,
                    reason,
                    detail,
                } => (
                    TaskNext::Requeue(until_ms),
                    decision(&task, at, Verdict::Defer, reason, detail),
                ),
                Judgement::Refuse {
                    status,
                    reason,
                    detail,
                } => {
                    tracing::info!(task = task.id, reason, "task refused before dialing");
                    (
                        TaskNext::Refused(status),
                        decision(&task, at, Verdict::Refuse, reason, detail),
                    )
                }
            };
            skips += 1;
            writes.push(Write::FinishTask {
                task_id: task.id,
                next,
                cause: Some(why.reason.clone()),
            });
            writes.push(Write::Decision(why));
        }
        if !attempts.is_empty() {
            match store.insert_attempts_under(&attempts, fence).await {
                Ok(()) => out.dials.append(&mut dials),
                Err(e) => {
                    // No attempt, no dial: the tasks go back to the queue.
                    out.error = Some(e.to_string());
                    for (seat, _, task) in dials {
                        writes.push(Write::FinishTask {
                            task_id: task.id,
                            next: TaskNext::Requeue(at),
                            cause: None,
                        });
                        seats.push_back(seat);
                    }
                }
            }
        }
        if let Some(f) = fence {
            writes = writes
                .into_iter()
                .map(|w| Write::Fenced {
                    fence: f.clone(),
                    write: Box::new(w),
                })
                .collect();
        }
        if !writes.is_empty()
            && let Err(e) = store.apply(&writes).await
        {
            out.error = Some(e.to_string());
        }
        if out.error.is_some() {
            break;
        }
        if got < asked && !seats.is_empty() {
            // The queue had no more due: the campaign rests until its next.
            out.next_due_ms = match store.next_due_ms(&filter).await {
                Ok(due) => Some(due.unwrap_or(i64::MAX)),
                Err(e) => {
                    out.error = Some(e.to_string());
                    None
                }
            };
            break;
        }
    }
    out.unfilled = seats.into();
    out
}

fn decision(task: &Task, at: i64, verdict: Verdict, reason: &str, detail: String) -> DialDecision {
    DialDecision {
        task_id: task.id,
        campaign_id: task.campaign_id.clone(),
        at_ms: at,
        verdict,
        reason: reason.to_string(),
        detail: Some(detail),
        call_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_that_may_enter_a_dial_string() {
        for ok in ["+15551234567", "15551234", "911", "+861380013800099999"] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "+",
            "12",
            "+1 555",
            "1555;x",
            "1555\r\n",
            "１２３４",
            "+15551234567890123456789",
            "1555&park()",
            "sip:1@x",
        ] {
            assert!(!valid_phone(bad), "{bad:?}");
        }
    }
}
