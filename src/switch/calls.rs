//! One state machine per call dialpop placed, keyed by the call id it chose.
//!
//! The table is pure: the task that owns it feeds it `CallEvent`s and the
//! switch's live channel list after a reconnect, and acts on what it returns.
//! Events for ids it did not place (other legs, other dialers' calls) are
//! ignored, so nothing is ever attributed to the wrong call.

use super::{CallEvent, CallEventKind, CallId, HangupCause};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Sent to the switch, no channel seen yet.
    Dialing,
    Originated,
    Ringing,
    EarlyMedia,
    Answered,
    Bridged,
    Ended(CallEnd),
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEnd {
    HungUp(HangupCause),
    Failed(HangupCause),
    /// It was gone from the switch when dialpop reconnected: it ended during
    /// the gap and its cause cannot be known.
    Vanished,
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The call moved to a new state.
    Changed { from: CallState, to: CallState },
    /// Known call, nothing new (a duplicate, or BACKGROUND_JOB after hangup).
    Unchanged,
    /// Not a call dialpop placed.
    Unknown,
}

#[derive(Clone, Debug, Default)]
pub struct CallTable {
    calls: HashMap<CallId, CallState>,
}

impl CallTable {
    /// Records a call before its originate goes to the switch.
    pub fn dialing(&mut self, id: CallId) {
        self.calls.insert(id, CallState::Dialing);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CallId, &CallState)> {
        self.calls.iter()
    }

    pub fn state(&self, id: &CallId) -> Option<&CallState> {
        self.calls.get(id)
    }

    /// Calls not yet ended.
    pub fn live(&self) -> impl Iterator<Item = &CallId> {
        self.calls
            .iter()
            .filter(|(_, s)| !matches!(s, CallState::Ended(_)))
            .map(|(id, _)| id)
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// Forgets ended calls (their outcome has been persisted by the owner).
    pub fn remove_ended(&mut self) -> Vec<(CallId, CallEnd)> {
        let ended: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, s)| matches!(s, CallState::Ended(_)))
            .map(|(id, _)| id.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|id| match self.calls.remove(&id) {
                Some(CallState::Ended(end)) => Some((id, end)),
                _ => None,
            })
            .collect()
    }

    pub fn apply(&mut self, ev: &CallEvent) -> Applied {
        let Some(state) = self.calls.get_mut(&ev.call_id) else {
            return Applied::Unknown;
        };
        if matches!(state, CallState::Ended(_)) {
            // Both the hangup and the failed job report a busy call; the
            // first one to arrive decides.
            return Applied::Unchanged;
        }
        let next = match &ev.kind {
            CallEventKind::Originated => CallState::Originated,
            CallEventKind::Ringing => CallState::Ringing,
            CallEventKind::EarlyMedia => CallState::EarlyMedia,
            CallEventKind::Answered => CallState::Answered,
            CallEventKind::Bridged { .. } => CallState::Bridged,
            CallEventKind::HungUp { cause } => CallState::Ended(CallEnd::HungUp(cause.clone())),
            CallEventKind::OriginateFailed { cause } => {
                CallState::Ended(CallEnd::Failed(cause.clone()))
            }
        };
        // Events only move a call forward: a late CHANNEL_PROGRESS after the
        // answer must not make it ring again.
        if rank(&next) <= rank(state) {
            return Applied::Unchanged;
        }
        let from = std::mem::replace(state, next.clone());
        Applied::Changed { from, to: next }
    }

    /// After a reconnect: every live call the switch no longer has ended
    /// during the gap. Returns those calls. Calls the switch still has keep
    /// their state (their next events will move them on). Returns the
    /// vanished calls with the state each was last known in.
    pub fn reconcile<'a>(
        &mut self,
        on_switch: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(CallId, CallState)> {
        let present: std::collections::HashSet<&str> = on_switch.into_iter().collect();
        let mut vanished = Vec::new();
        for (id, state) in self.calls.iter_mut() {
            if !matches!(state, CallState::Ended(_)) && !present.contains(id.as_str()) {
                let was = std::mem::replace(state, CallState::Ended(CallEnd::Vanished));
                vanished.push((id.clone(), was));
            }
        }
        vanished
    }
}

fn rank(s: &CallState) -> u8 {
    match s {
        CallState::Dialing => 0,
        CallState::Originated => 1,
        CallState::Ringing => 2,
        CallState::EarlyMedia => 3,
        CallState::Answered => 4,
        CallState::Bridged => 5,
        CallState::Ended(_) => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, kind: CallEventKind) -> CallEvent {
        CallEvent {
            call_id: CallId::from(id),
            switch_time_us: None,
            kind,
        }
    }

    #[test]
    fn only_known_calls_move_and_only_forward() {
        let mut t = CallTable::default();
        t.dialing(CallId::from("a"));
        assert_eq!(
            t.apply(&ev("b-leg", CallEventKind::Answered)),
            Applied::Unknown
        );
        assert!(matches!(
            t.apply(&ev("a", CallEventKind::Answered)),
            Applied::Changed { .. }
        ));
        assert_eq!(
            t.apply(&ev("a", CallEventKind::Ringing)),
            Applied::Unchanged
        );
        let busy = CallEventKind::HungUp {
            cause: HangupCause::NormalClearing,
        };
        assert!(matches!(t.apply(&ev("a", busy)), Applied::Changed { .. }));
        let failed = CallEventKind::OriginateFailed {
            cause: HangupCause::UserBusy,
        };
        assert_eq!(t.apply(&ev("a", failed)), Applied::Unchanged);
        assert_eq!(
            t.state(&CallId::from("a")),
            Some(&CallState::Ended(CallEnd::HungUp(
                HangupCause::NormalClearing
            )))
        );
    }

    #[test]
    fn reconcile_ends_calls_the_switch_lost() {
        let mut t = CallTable::default();
        for id in ["a", "b", "c"] {
            t.dialing(CallId::from(id));
        }
        t.apply(&ev(
            "c",
            CallEventKind::HungUp {
                cause: HangupCause::UserBusy,
            },
        ));
        let gone = t.reconcile(["a", "unrelated"]);
        assert_eq!(gone, vec![(CallId::from("b"), CallState::Dialing)]);
        assert_eq!(t.live_count(), 1);
        assert_eq!(t.remove_ended().len(), 2);
    }
}
