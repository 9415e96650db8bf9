//! Claim jobs: taking the best due task for an agent from the store,
//! judging whether it may be dialed now (window, do-not-call, expiry), and
//! writing its attempt with a fresh call id, beside the dialer's loop.

use super::Internal;
use super::eligibility::{self, Judgement};
use crate::campaign::CampaignState;
use crate::store::{
    Agent, Campaign, ClaimFilter, DialDecision, NewAttempt, Store, TaskNext, Verdict, Write, now_ms,
};
use crate::switch::CallId;
use std::sync::Arc;

/// Claim jobs at once: enough to keep the store busy, few enough that a
/// burst of idle agents does not flood it.
pub const MAX_CLAIMS: usize = 8;

/// Tasks one job may defer or refuse before it hands the agent back (the
/// loop asks again at once): a window closing over thousands of tasks does
/// not hold an agent for all of them.
const MAX_SKIPS: usize = 64;

/// A campaign as the dialer holds it, with the claim filter its selection
/// makes.
pub struct CampaignView {
    pub campaign: Campaign,
    pub filter: ClaimFilter,
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
        };
        CampaignView { campaign, filter }
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

/// A claim job: the best due task of the agent's campaign, judged, and its
/// attempt written with a fresh call id (with the decision to dial) before
/// anything goes to the switch. Tasks that may not be dialed now are made
/// due at their next opening, or closed, each with its recorded reason.
pub async fn claim(
    store: &Arc<dyn Store>,
    agent: Agent,
    view: &CampaignView,
    switch: usize,
    switch_name: &str,
    now: i64,
) -> Internal {
    let fail = |agent_id: String, e: crate::store::StoreError| Internal::ClaimFailed {
        agent_id,
        error: e.to_string(),
        switch,
    };
    for _ in 0..MAX_SKIPS {
        let (task, dnc) = match store.claim_next(&view.filter, now).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return match store.next_due_ms(&view.filter).await {
                    Ok(due) => Internal::NoTask {
                        agent_id: agent.id,
                        campaign: view.campaign.id.clone(),
                        due_ms: due.unwrap_or(i64::MAX),
                        switch,
                    },
                    Err(e) => fail(agent.id, e),
                };
            }
            Err(e) => return fail(agent.id, e),
        };
        let at = now_ms();
        let decision =
            |verdict, reason: &str, detail: Option<String>, call_id: Option<String>| DialDecision {
                task_id: task.id,
                campaign_id: task.campaign_id.clone(),
                at_ms: at,
                verdict,
                reason: reason.to_string(),
                detail,
                call_id,
            };
        let (next, why) = match eligibility::judge(&task, &view.campaign.settings, dnc.as_ref(), at)
        {
            Judgement::Dial => {
                let call_id = CallId::new_random();
                let attempt = NewAttempt {
                    call_id: call_id.to_string(),
                    task_id: task.id,
                    agent_id: agent.id.clone(),
                    switch_name: switch_name.to_string(),
                    originate_ms: at,
                };
                // The attempt is the record of this dial.
                if let Err(e) = store.insert_attempt(&attempt).await {
                    return fail(agent.id, e);
                }
                return Internal::Claimed {
                    agent,
                    call_id,
                    task: Box::new(task),
                    switch,
                };
            }
            Judgement::Defer {
                until_ms,
                reason,
                detail,
            } => (
                TaskNext::Requeue(until_ms),
                decision(Verdict::Defer, reason, Some(detail), None),
            ),
            Judgement::Refuse {
                status,
                reason,
                detail,
            } => {
                tracing::info!(task = task.id, reason, "task refused before dialing");
                (
                    TaskNext::Refused(status),
                    decision(Verdict::Refuse, reason, Some(detail), None),
                )
            }
        };
        let cause = Some(why.reason.clone());
        if let Err(e) = store
            .apply(&[
                Write::FinishTask {
                    task_id: task.id,
                    next,
                    cause,
                },
                Write::Decision(why),
            ])
            .await
        {
            return fail(agent.id, e);
        }
    }
    Internal::NoTask {
        agent_id: agent.id,
        campaign: view.campaign.id.clone(),
        due_ms: now_ms(),
        switch,
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
