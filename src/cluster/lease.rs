//! One switch's lease as this node sees it: pure, moved by the replies of
//! the lease queries and by the clock.
//!
//! The node counts its lease as ending `margin` before the store does:
//! `sent + ttl - margin`, from the moment the renewing query was sent,
//! on this node's monotonic clock. The store's expiry is set when the
//! query runs, after it was sent, by the store's clock; so however late
//! the reply, and whatever the two wall clocks say, this node has let go
//! before any other node can take the switch. The margin covers a slow
//! clock and the time a call placed just before the deadline takes to
//! appear on the switch (the new owner rebuilds from what the switch
//! lists).

use std::time::{Duration, Instant};

/// How long a lease lasts, how often it is renewed, and how much sooner
/// than the store this node lets go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub ttl: Duration,
    pub renew_every: Duration,
    pub margin: Duration,
}

impl Timing {
    /// The margin is a quarter of the lease: with a renewal every third of
    /// it, two renewals may fail before the node lets go.
    pub fn new(ttl: Duration, renew_every: Duration) -> Timing {
        Timing {
            ttl,
            renew_every,
            margin: ttl / 4,
        }
    }
}

/// A lease this node holds: its fencing token, and until when it may act
/// on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub token: i64,
    pub until: Instant,
}

impl Grant {
    pub fn live_at(&self, now: Instant) -> bool {
        now < self.until
    }
}

/// What the store answered to an acquire or a renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The lease is this node's, under this token.
    Granted(i64),
    /// Another node holds it (or took it over).
    Refused,
    /// No answer (the store unreachable, or too slow): nothing is known.
    Failed,
}

/// Why a lease was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// The store said another node holds it.
    Taken,
    /// No renewal came back in time: the node let go by its own clock.
    Expired,
}

impl Loss {
    pub fn as_str(self) -> &'static str {
        match self {
            Loss::Taken => "taken",
            Loss::Expired => "expired",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Acquired(i64),
    Lost(Loss),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lease {
    grant: Option<Grant>,
}

impl Lease {
    pub fn grant(&self) -> Option<Grant> {
        self.grant
    }

    /// A reply to a query sent at `sent`, seen at `now`.
    pub fn on_reply(
        &mut self,
        sent: Instant,
        now: Instant,
        reply: Reply,
        t: &Timing,
    ) -> Option<Change> {
        let until = sent + t.ttl.saturating_sub(t.margin);
        match (self.grant, reply) {
            (_, Reply::Failed) => self.on_clock(now),
            (Some(_), Reply::Refused) => {
                self.grant = None;
                Some(Change::Lost(Loss::Taken))
            }
            (None, Reply::Refused) => None,
            (Some(g), Reply::Granted(token)) if g.token == token => {
                if until <= now {
                    // Renewed, but the reply came after this node's own
                    // deadline: it has let go already.
                    self.grant = None;
                    return Some(Change::Lost(Loss::Expired));
                }
                self.grant = Some(Grant { token, until });
                None
            }
            (Some(_), Reply::Granted(_)) => {
                // A renewal answered with another token: not this node's
                // lease any more, whatever the store thinks. It lapses
                // there and is acquired afresh.
                self.grant = None;
                Some(Change::Lost(Loss::Taken))
            }
            (None, Reply::Granted(token)) => {
                if until <= now {
                    return None;
                }
                self.grant = Some(Grant { token, until });
                Some(Change::Acquired(token))
            }
        }
    }

    /// The clock at `now`: the lease ends at its deadline.
    pub fn on_clock(&mut self, now: Instant) -> Option<Change> {
        match self.grant {
            Some(g) if !g.live_at(now) => {
                self.grant = None;
                Some(Change::Lost(Loss::Expired))
            }
            _ => None,
        }
    }

    /// Let go (a release at shutdown).
    pub fn drop_grant(&mut self) -> Option<Grant> {
        self.grant.take()
    }
}

/// How many switches a node may hold: its share of them among the nodes
/// alive, rounded up, so that together they cover every switch.
pub fn fair_share(switches: usize, live_nodes: usize) -> usize {
    switches.div_ceil(live_nodes.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing::new(Duration::from_secs(8), Duration::from_secs(2))
    }

    #[test]
    fn a_grant_lasts_from_the_query_sent_less_the_margin() {
        let t = timing();
        let sent = Instant::now();
        let mut l = Lease::default();
        let got = l.on_reply(
            sent,
            sent + Duration::from_millis(300),
            Reply::Granted(4),
            &t,
        );
        assert_eq!(got, Some(Change::Acquired(4)));
        let g = l.grant().expect("held");
        assert_eq!(g.until, sent + Duration::from_secs(6));
        // Renewed later: the deadline moves from that renewal's sending.
        let again = sent + Duration::from_secs(2);
        assert_eq!(l.on_reply(again, again, Reply::Granted(4), &t), None);
        assert_eq!(
            l.grant().map(|g| g.until),
            Some(again + Duration::from_secs(6))
        );
    }

    #[test]
    fn failed_renewals_let_go_at_the_deadline_not_before() {
        let t = timing();
        let sent = Instant::now();
        let mut l = Lease::default();
        l.on_reply(sent, sent, Reply::Granted(1), &t);
        let before = sent + Duration::from_millis(5_999);
        assert_eq!(l.on_reply(before, before, Reply::Failed, &t), None);
        assert!(l.grant().is_some());
        let at = sent + Duration::from_secs(6);
        assert_eq!(l.on_clock(at), Some(Change::Lost(Loss::Expired)));
        assert_eq!(l.grant(), None);
        assert_eq!(l.on_clock(at), None, "lost once");
    }

    #[test]
    fn a_refusal_or_a_new_token_is_a_loss() {
        let t = timing();
        let now = Instant::now();
        let mut l = Lease::default();
        l.on_reply(now, now, Reply::Granted(1), &t);
        assert_eq!(
            l.on_reply(now, now, Reply::Refused, &t),
            Some(Change::Lost(Loss::Taken))
        );
        assert_eq!(l.on_reply(now, now, Reply::Refused, &t), None);
        l.on_reply(now, now, Reply::Granted(2), &t);
        assert_eq!(
            l.on_reply(now, now, Reply::Granted(3), &t),
            Some(Change::Lost(Loss::Taken))
        );
    }

    #[test]
    fn a_reply_later_than_the_deadline_grants_nothing() {
        let t = timing();
        let sent = Instant::now();
        let late = sent + Duration::from_secs(7);
        let mut l = Lease::default();
        assert_eq!(l.on_reply(sent, late, Reply::Granted(1), &t), None);
        assert_eq!(l.grant(), None);
        l.on_reply(late, late, Reply::Granted(1), &t);
        let later = late + Duration::from_secs(7);
        assert_eq!(
            l.on_reply(late, later, Reply::Granted(1), &t),
            Some(Change::Lost(Loss::Expired))
        );
    }

    #[test]
    fn the_nodes_alive_share_the_switches() {
        assert_eq!(fair_share(2, 3), 1);
        assert_eq!(fair_share(3, 2), 2);
        assert_eq!(fair_share(4, 2), 2);
        assert_eq!(fair_share(2, 0), 2);
        assert_eq!(fair_share(0, 2), 0);
    }
}
