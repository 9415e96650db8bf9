//! Claim jobs: taking the best due task for an agent from the store and
//! writing its attempt with a fresh call id, beside the dialer's loop.

use super::Internal;
use crate::store::{Agent, NewAttempt, Store, TaskNext, now_ms};
use crate::switch::CallId;
use std::sync::Arc;

/// Claim jobs at once: enough to keep the store busy, few enough that a
/// burst of idle agents does not flood it.
pub const MAX_CLAIMS: usize = 8;

/// A phone number as it may enter a dial string: digits with an optional
/// leading `+`. Anything else could change what the switch dials.
pub fn valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A claim job: the best due task for the agent's campaign, checked, and its
/// attempt written with a fresh call id, before anything goes to the switch.
pub async fn claim(
    store: &Arc<dyn Store>,
    agent: Agent,
    switch: usize,
    switch_name: &str,
    now: i64,
) -> Internal {
    let fail = |agent_id: String, e: crate::store::StoreError| Internal::ClaimFailed {
        agent_id,
        error: e.to_string(),
        switch,
    };
    loop {
        let task = match store.claim_next_task(&agent.campaign_id, now).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return match store.next_due_ms(&agent.campaign_id).await {
                    Ok(due) => Internal::NoTask {
                        agent_id: agent.id,
                        campaign: agent.campaign_id,
                        due_ms: due.unwrap_or(i64::MAX),
                        switch,
                    },
                    Err(e) => fail(agent.id, e),
                };
            }
            Err(e) => return fail(agent.id, e),
        };
        if !valid_phone(&task.phone) {
            // Refused before anything reaches the switch; kept visible.
            tracing::warn!(
                task = task.id,
                "task has a phone number that cannot be dialed"
            );
            if let Err(e) = store
                .finish_task(task.id, TaskNext::Failed, Some("INVALID_NUMBER_FORMAT"))
                .await
            {
                return fail(agent.id, e);
            }
            continue;
        }
        let call_id = CallId::new_random();
        let attempt = NewAttempt {
            call_id: call_id.to_string(),
            task_id: task.id,
            agent_id: agent.id.clone(),
            switch_name: switch_name.to_string(),
            originate_ms: now_ms(),
        };
        if let Err(e) = store.insert_attempt(&attempt).await {
            return fail(agent.id, e);
        }
        return Internal::Claimed {
            agent,
            call_id,
            task,
            switch,
        };
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
