//! Who waits for which ActionID, and which packet goes to whom: a single
//! Response, an event list up to its end, or the notices.

use super::{AmiClientError, Reply};
use crate::switch::ami::frame::{AmiPacket, PacketKind};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// Who waits for which ActionID.
pub(super) enum Waiter {
    /// One Response.
    Single(oneshot::Sender<Reply>),
    /// A Response with `EventList: start`, then events up to the one with
    /// `EventList: Complete`.
    List(Vec<AmiPacket>, oneshot::Sender<Reply>),
}

#[derive(Default)]
pub(super) struct Routes {
    pub(super) waiting: HashMap<String, Waiter>,
}

impl Routes {
    pub(super) fn fail_all(&mut self, err: &AmiClientError) {
        for (_, w) in self.waiting.drain() {
            let tx = match w {
                Waiter::Single(tx) | Waiter::List(_, tx) => tx,
            };
            let _ = tx.send(Err(err.clone()));
        }
    }

    /// Routes a packet to its waiter; returns it if nobody waits for it.
    pub(super) fn route(&mut self, p: AmiPacket) -> Option<AmiPacket> {
        // Unsolicited events carry no ActionID: they are for the notices.
        let Some(id) = p.get_str("ActionID").map(|s| s.into_owned()) else {
            return Some(p);
        };
        let is_response = matches!(p.kind(), PacketKind::Response(_));
        match self.waiting.remove(&id) {
            Some(Waiter::Single(tx)) if is_response => {
                let _ = tx.send(Ok(vec![p]));
                None
            }
            Some(Waiter::List(mut items, tx)) => {
                let starts = is_response
                    && p.get("EventList")
                        .is_some_and(|v| v.eq_ignore_ascii_case(b"start"));
                let error = is_response && !starts;
                let complete = !is_response
                    && p.get("EventList").is_some_and(|v| {
                        v.eq_ignore_ascii_case(b"complete") || v.eq_ignore_ascii_case(b"cancelled")
                    });
                if error {
                    let _ = tx.send(Ok(vec![p]));
                } else if complete {
                    items.push(p);
                    let _ = tx.send(Ok(items));
                } else {
                    if !starts {
                        items.push(p);
                    }
                    self.waiting.insert(id, Waiter::List(items, tx));
                }
                None
            }
            Some(w) => {
                // An event carrying the ActionID of a single action that is
                // still waiting for its Response (OriginateResponse can come
                // first): keep waiting, and pass the event on.
                self.waiting.insert(id, w);
                Some(p)
            }
            None => Some(p),
        }
    }
}
