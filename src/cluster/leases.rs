//! The node's lease task: one owner for all of the node's leases. Every
//! `renew_every` it beats the node's heartbeat, renews what it holds,
//! lets go of what it could not renew in time, and takes switches nobody
//! holds up to its fair share of them among the nodes alive. What it holds
//! is published on a watch channel, with each grant's deadline, so that
//! whoever acts for a switch checks the deadline itself and stops at it
//! even when this task is late.

use super::lease::{Change, Grant, Lease, Reply, Timing, fair_share};
use super::lease_store::LeaseStore;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

/// The switches this node holds now, by name.
pub type Held = BTreeMap<String, Grant>;

pub struct LeaseTask {
    store: LeaseStore,
    node: String,
    http_addr: String,
    switches: Vec<String>,
    timing: Timing,
    leases: BTreeMap<String, Lease>,
    tx: watch::Sender<Held>,
}

impl LeaseTask {
    pub fn new(
        store: LeaseStore,
        node: &str,
        http_addr: &str,
        switches: Vec<String>,
        timing: Timing,
    ) -> (LeaseTask, watch::Receiver<Held>) {
        let (tx, rx) = watch::channel(Held::new());
        // Each node tries the switches in its own order, so that nodes
        // starting together do not all queue on the same row first.
        let mut switches = switches;
        let turn = node
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        if !switches.is_empty() {
            let n = turn % switches.len();
            switches.rotate_left(n);
        }
        let leases = switches
            .iter()
            .map(|s| (s.clone(), Lease::default()))
            .collect();
        (
            LeaseTask {
                store,
                node: node.to_string(),
                http_addr: http_addr.to_string(),
                switches,
                timing,
                leases,
                tx,
            },
            rx,
        )
    }

    /// Runs until `stop`; then releases what it holds, for the next node
    /// to take at once.
    pub async fn run(mut self, stop: CancellationToken) {
        let t = self.timing;
        let mut starting = true;
        // The first round only beats: nodes started together see each other
        // before any of them counts its share.
        let mut may_take = false;
        loop {
            let round = Instant::now();
            self.beat(starting).await;
            starting = false;
            self.renew_held().await;
            if may_take {
                self.take_share().await;
            }
            may_take = true;
            let next = round + t.renew_every;
            loop {
                let deadline = self.earliest_deadline().filter(|d| *d < next);
                tokio::select! {
                    _ = stop.cancelled() => {
                        self.release_all().await;
                        return;
                    }
                    _ = sleep_until(next) => break,
                    _ = sleep_until(deadline.unwrap_or(next)), if deadline.is_some() => {
                        self.on_clock();
                    }
                }
            }
            self.on_clock();
        }
    }

    async fn beat(&self, starting: bool) {
        let limit = self.timing.renew_every;
        match timeout(
            limit,
            self.store.heartbeat(&self.node, &self.http_addr, starting),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(node = %self.node, error = %e, "cluster heartbeat failed"),
            Err(_) => tracing::warn!(node = %self.node, "cluster heartbeat timed out"),
        }
    }

    async fn renew_held(&mut self) {
        for (switch, g) in self.held() {
            let sent = Instant::now();
            // A reply after the deadline is worth nothing: wait no longer.
            let limit = g.until.saturating_duration_since(sent.into_std());
            let asked = self
                .store
                .renew(&switch, &self.node, g.token, self.timing.ttl);
            let reply = answer(&switch, "renewal", timeout(limit, asked).await);
            self.apply(&switch, sent, reply);
        }
    }

    async fn take_share(&mut self) {
        let t = self.timing;
        let live = match timeout(t.renew_every, self.store.live_nodes(t.ttl)).await {
            Ok(Ok(n)) => n,
            _ => return,
        };
        let share = fair_share(self.switches.len(), live);
        for switch in self.switches.clone() {
            if self.held_count() >= share {
                break;
            }
            if self
                .leases
                .get(&switch)
                .is_some_and(|l| l.grant().is_some())
            {
                continue;
            }
            let sent = Instant::now();
            let asked = self.store.acquire(&switch, &self.node, t.ttl);
            let reply = answer(&switch, "acquire", timeout(t.renew_every, asked).await);
            self.apply(&switch, sent, reply);
        }
    }

    fn apply(&mut self, switch: &str, sent: Instant, reply: Reply) {
        let Some(lease) = self.leases.get_mut(switch) else {
            return;
        };
        let change = lease.on_reply(
            sent.into_std(),
            std::time::Instant::now(),
            reply,
            &self.timing,
        );
        self.changed(switch, change);
    }

    fn on_clock(&mut self) {
        let now = std::time::Instant::now();
        let changes: Vec<(String, Option<Change>)> = self
            .leases
            .iter_mut()
            .map(|(s, l)| (s.clone(), l.on_clock(now)))
            .collect();
        for (s, c) in changes {
            self.changed(&s, c);
        }
        // Renewed grants move their deadlines without a change to log.
        self.publish();
    }

    fn changed(&mut self, switch: &str, change: Option<Change>) {
        match change {
            Some(Change::Acquired(token)) => {
                tracing::info!(switch = %switch, token, node = %self.node, "switch lease acquired");
            }
            Some(Change::Lost(why)) => {
                tracing::warn!(switch = %switch, node = %self.node, why = why.as_str(), "switch lease lost");
            }
            None => {}
        }
        self.publish();
    }

    fn held(&self) -> Held {
        self.leases
            .iter()
            .filter_map(|(s, l)| l.grant().map(|g| (s.clone(), g)))
            .collect()
    }

    fn publish(&self) {
        let held = self.held();
        self.tx.send_if_modified(|old| {
            if *old == held {
                false
            } else {
                *old = held;
                true
            }
        });
    }

    fn held_count(&self) -> usize {
        self.leases.values().filter(|l| l.grant().is_some()).count()
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.leases
            .values()
            .filter_map(|l| l.grant())
            .map(|g| Instant::from_std(g.until))
            .min()
    }

    async fn release_all(&mut self) {
        let held: Vec<(String, Grant)> = self
            .leases
            .iter_mut()
            .filter_map(|(s, l)| l.drop_grant().map(|g| (s.clone(), g)))
            .collect();
        self.publish();
        for (switch, g) in held {
            let r = timeout(
                Duration::from_secs(2),
                self.store.release(&switch, &self.node, g.token),
            )
            .await;
            match r {
                Ok(Ok(())) => tracing::info!(switch = %switch, "switch lease released"),
                _ => {
                    tracing::warn!(switch = %switch, "switch lease release failed; it expires by itself")
                }
            }
        }
    }
}

/// A lease query's reply: what the store said, or `Failed` when it erred
/// or did not answer in time.
fn answer(
    switch: &str,
    what: &str,
    r: Result<Result<Reply, sqlx::Error>, tokio::time::error::Elapsed>,
) -> Reply {
    match r {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => {
            tracing::warn!(switch = %switch, error = %e, "lease {what} failed");
            Reply::Failed
        }
        Err(_) => Reply::Failed,
    }
}
