//! A cluster node's dialers: one per switch whose lease it holds, started
//! when the lease is won and stopped when it is lost. A switch's dialer
//! has the switch's calls and the agents homed on it (`home`); it starts as
//! any dialer does after a restart, re-owning what the store says is open
//! on that switch, so a takeover is the path a restart has always taken.
//! Its claims and writes are made under the lease's token, so a node that
//! lost the switch can write nothing more for it even before it notices.
//!
//! The node's one loop owns the set: lease changes and the agents' page
//! events (routed to their switch's dialer) both come to it.

use super::home::Homes;
use super::leases::Held;
use crate::customer::CustomerService;
use crate::daemon::SwitchConnect;
use crate::dialer::{DialPlan, Dialer, DialerHandle, DialerParts, Scope, Shards, SwitchLink};
use crate::popup::hub::{AgentHub, Presence};
use crate::store::writer::StoreWriter;
use crate::store::{Fence, Store};
use crate::switch::manager::CallManager;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What a node's dialers are made from.
pub struct NodeParts {
    pub store: Arc<dyn Store>,
    pub writer: StoreWriter,
    pub customers: CustomerService,
    pub hub: AgentHub,
    pub presence: mpsc::Receiver<Presence>,
    /// Every configured switch (the node runs those it holds).
    pub plan: DialPlan,
    pub connects: Vec<SwitchConnect>,
    pub held: watch::Receiver<Held>,
    /// Stops every dialer of the node and its loop (before the leases are
    /// given back).
    pub stop: tokio_util::sync::CancellationToken,
}

/// One switch's dialer on this node.
struct Shard {
    token: i64,
    /// The dialer while it starts (recovery reads the store), then its loop.
    task: JoinHandle<()>,
    connecting: JoinHandle<()>,
    manager: CallManager,
    presence: mpsc::Sender<Presence>,
}

/// How long a lost switch's connection is given to close politely.
const LEAVE_LIMIT: Duration = Duration::from_secs(2);

/// Starts the node's loop; the handle reaches whichever dialers it runs.
pub fn start(p: NodeParts) -> (DialerHandle, Shards, JoinHandle<()>) {
    let homes = Homes::new(p.plan.switches.iter().map(|s| s.name.clone()));
    let shards = Shards::new(homes.clone());
    let handle = DialerHandle::shards(shards.clone());
    let node = Node {
        homes,
        shards: shards.clone(),
        running: BTreeMap::new(),
        online: HashSet::new(),
        parts: Arc::new(Common {
            store: p.store,
            writer: p.writer,
            customers: p.customers,
            hub: p.hub,
            plan: p.plan,
            connects: p.connects,
        }),
    };
    let task = tokio::spawn(node.run(p.held, p.presence, p.stop));
    (handle, shards, task)
}

struct Common {
    store: Arc<dyn Store>,
    writer: StoreWriter,
    customers: CustomerService,
    hub: AgentHub,
    plan: DialPlan,
    connects: Vec<SwitchConnect>,
}

struct Node {
    homes: Homes,
    shards: Shards,
    running: BTreeMap<String, Shard>,
    /// Agents with a page open here, for a dialer that starts later.
    online: HashSet<String>,
    parts: Arc<Common>,
}

impl Node {
    async fn run(
        mut self,
        mut held: watch::Receiver<Held>,
        mut presence: mpsc::Receiver<Presence>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    self.follow(&Held::new()).await;
                    return;
                }
                changed = held.changed() => {
                    if changed.is_err() {
                        // The lease task is gone (a stop): nothing is held.
                        self.follow(&Held::new()).await;
                        return;
                    }
                    let now = held.borrow_and_update().clone();
                    self.follow(&now).await;
                }
                p = presence.recv() => match p {
                    Some(p) => self.route(p).await,
                    None => {
                        self.follow(&Held::new()).await;
                        return;
                    }
                },
            }
        }
    }

    /// Runs a dialer for each switch held, under its current token, and no
    /// other.
    async fn follow(&mut self, held: &Held) {
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|(s, shard)| held.get(*s).is_none_or(|g| g.token != shard.token))
            .map(|(s, _)| s.clone())
            .collect();
        for s in gone {
            self.stop(&s).await;
        }
        for (s, g) in held {
            if !self.running.contains_key(s) {
                self.begin(s, g.token);
            }
        }
    }

    async fn stop(&mut self, switch: &str) {
        self.shards.remove(switch);
        let Some(shard) = self.running.remove(switch) else {
            return;
        };
        shard.task.abort();
        shard.connecting.abort();
        // Its agents' pages here reconnect: to be relayed to the node that
        // drives the switch next.
        let (homes, sw) = (self.homes.clone(), switch.to_string());
        self.parts
            .hub
            .evict(move |a| homes.home_of(a) == Some(sw.as_str()))
            .await;
        // The calls stay up on the switch: its next owner re-owns them.
        let _ = tokio::time::timeout(LEAVE_LIMIT, shard.manager.shutdown()).await;
        tracing::warn!(
            switch,
            token = shard.token,
            "stopped driving the switch (its lease is gone)"
        );
    }

    fn begin(&mut self, switch: &str, token: i64) {
        let Some(i) = self
            .parts
            .plan
            .switches
            .iter()
            .position(|p| p.name == switch)
        else {
            return;
        };
        let (Some(plan), Some(how)) = (
            self.parts.plan.switches.get(i).cloned(),
            self.parts.connects.get(i).cloned(),
        ) else {
            return;
        };
        let (upd_tx, updates) = mpsc::channel(16 * 1024);
        let manager = CallManager::start(0, upd_tx);
        let (m, name) = (manager.clone(), switch.to_string());
        let connecting = tokio::spawn(async move {
            match crate::daemon::connect_switch(&how, &name).await {
                Ok((driver, notices)) => m.attach(driver, notices).await,
                Err(e) => {
                    tracing::error!(switch = %name, error = %e, "cannot connect to the switch; no calls will be placed on it");
                    m.give_up(e.to_string()).await;
                }
            }
        });
        let (ptx, prx) = mpsc::channel(4096);
        // The pages open here already: the new dialer hears of them first.
        for a in self
            .online
            .iter()
            .filter(|a| self.homes.home_of(a) == Some(switch))
        {
            let _ = ptx.try_send(Presence::Online(a.clone()));
        }
        let fence = Fence {
            switch: switch.to_string(),
            token,
        };
        let scope = Scope {
            fence: fence.clone(),
            homes: self.homes.clone(),
        };
        let common = self.parts.clone();
        let shards = self.shards.clone();
        let link_manager = manager.clone();
        let task = tokio::spawn(async move {
            let agents = match common.store.agents().await {
                Ok(all) => all
                    .into_iter()
                    .filter(|a| scope.owns_agent(&a.id))
                    .collect(),
                Err(e) => {
                    tracing::error!(switch = %fence.switch, error = %e, "cannot read the agents; the switch is not driven");
                    return;
                }
            };
            let mut dial_plan = common.plan.clone();
            dial_plan.switches = vec![plan.clone()];
            let parts = DialerParts {
                store: common.store.clone(),
                writer: common.writer.fenced(fence.clone()),
                customers: common.customers.clone(),
                links: vec![SwitchLink {
                    plan,
                    manager: link_manager,
                }],
                updates,
                hub: common.hub.clone(),
                presence: prx,
                plan: dial_plan,
                agents,
                scope: Some(scope),
            };
            match Dialer::start_task(parts).await {
                Ok((handle, run)) => {
                    shards.insert(&fence.switch, &handle);
                    tracing::info!(switch = %fence.switch, token = fence.token, "driving the switch");
                    // Aborting this task aborts the loop with it.
                    struct AbortOnDrop(JoinHandle<()>);
                    impl Drop for AbortOnDrop {
                        fn drop(&mut self) {
                            self.0.abort();
                        }
                    }
                    let mut run = AbortOnDrop(run);
                    let _ = (&mut run.0).await;
                }
                Err(e) => {
                    tracing::error!(switch = %fence.switch, error = %e, "the switch's dialer could not start");
                }
            }
        });
        self.running.insert(
            switch.to_string(),
            Shard {
                token,
                task,
                connecting,
                manager,
                presence: ptx,
            },
        );
    }

    /// A page's event to the dialer of the agent's switch, if this node
    /// runs it.
    async fn route(&mut self, p: Presence) {
        let agent = match &p {
            Presence::Online(a) => {
                self.online.insert(a.clone());
                a
            }
            Presence::Offline(a) => {
                self.online.remove(a);
                a
            }
            Presence::Request(a, _) => a,
        };
        let Some(home) = self.homes.home_of(agent) else {
            return;
        };
        // Never waits: a dialer still recovering must not hold up the
        // loop that would stop it when its lease goes.
        if let Some(shard) = self.running.get(home)
            && let Err(mpsc::error::TrySendError::Full(_)) = shard.presence.try_send(p)
        {
            tracing::error!(
                switch = home,
                "a switch's dialer is not keeping up with its agents' pages; an event was dropped"
            );
        }
    }
}
