//! One state machine per call dialpop placed, keyed by the call id it chose.
//!
//! The table is pure: the task that owns it feeds it `CallEvent`s and the
//! switch's live channel list after a reconnect, and acts on what it returns.
//! Events for ids it did not place (other legs, other dialers' calls) are
//! ignored, so nothing is ever attributed to the wrong call.

use super::fault::SwitchFault;
use super::{AmdVerdict, CallEvent, CallEventKind, CallId, HangupCause};
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
    /// The switch never tried it (not connected, refused the command): no
    /// customer was dialed.
    NotPlaced(SwitchFault),
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The call moved to a new state.
    Changed { from: CallState, to: CallState },
    /// Known call, nothing new (a duplicate, or BACKGROUND_JOB after hangup).
    Unchanged,
    /// A live call's answering-machine verdict: news, not a new state.
    Detected(AmdVerdict),
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

    /// Calls in the table: every call not yet ended (an ended call leaves
    /// it as it ends, so the table never outgrows the calls up).
    pub fn live_count(&self) -> usize {
        self.calls.len()
    }

    /// The switch never took the call: it ends here, without an event.
    pub fn not_placed(&mut self, id: &CallId, fault: SwitchFault) -> Applied {
        match self.calls.remove(id) {
            Some(from) => Applied::Changed {
                from,
                to: CallState::Ended(CallEnd::NotPlaced(fault)),
            },
            None => Applied::Unknown,
        }
    }

    /// Applies one event. A call that ends leaves the table: later events
    /// about it (the BACKGROUND_JOB after a hangup, the other leg's
    /// hangup) find no call and change nothing.
    pub fn apply(&mut self, ev: &CallEvent) -> Applied {
        let Some(state) = self.calls.get_mut(&ev.call_id) else {
            return Applied::Unknown;
        };
        let next = match &ev.kind {
            CallEventKind::Detected { verdict } => return Applied::Detected(*verdict),
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
        if matches!(next, CallState::Ended(_)) {
            self.calls.remove(&ev.call_id);
        }
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
        let gone: Vec<CallId> = self
            .calls
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        gone.into_iter()
            .filter_map(|id| self.calls.remove(&id).map(|was| (id, was)))
            .collect()
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
        // The first end decides; the call has left the table.
        assert_eq!(t.apply(&ev("a", failed)), Applied::Unknown);
        assert_eq!(t.state(&CallId::from("a")), None);
        assert_eq!(t.live_count(), 0);
    }

    #[test]
    fn a_verdict_is_news_for_live_calls_only() {
        let mut t = CallTable::default();
        t.dialing(CallId::from("a"));
        t.apply(&ev("a", CallEventKind::Answered));
        let machine = CallEventKind::Detected {
            verdict: AmdVerdict::Machine,
        };
        assert_eq!(
            t.apply(&ev("a", machine.clone())),
            Applied::Detected(AmdVerdict::Machine)
        );
        assert_eq!(t.state(&CallId::from("a")), Some(&CallState::Answered));
        assert_eq!(t.apply(&ev("other", machine)), Applied::Unknown);
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
    }

    #[test]
    fn a_call_the_switch_never_took_ends_once() {
        let mut t = CallTable::default();
        t.dialing(CallId::from("a"));
        let f = SwitchFault::from_refusal("Asterisk is shutting down");
        assert!(matches!(
            t.not_placed(&CallId::from("a"), f.clone()),
            Applied::Changed {
                to: CallState::Ended(CallEnd::NotPlaced(_)),
                ..
            }
        ));
        assert_eq!(t.not_placed(&CallId::from("a"), f), Applied::Unknown);
        assert_eq!(t.live_count(), 0);
    }
}
