//! The agent hub: the one owner of the open agent pages. It fans messages
//! out to every page of an agent, tells the dialer when an agent comes and
//! goes, and closes each pop's latency measurement when the page acks it.

use super::messages::{AgentRequest, ServerMsg};
pub use super::pop_stats::PopStats;
use crate::store::writer::StoreWriter;
use crate::store::{Write, now_ms};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the dialer hears from the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// A page of the agent opened (the dialer answers with the state).
    Online(String),
    /// The agent's last page closed.
    Offline(String),
    /// The agent asked for something (ready, pause, a disposition).
    Request(String, AgentRequest),
}

enum Command {
    Register {
        agent_id: String,
        tx: mpsc::Sender<Arc<str>>,
        reply: tokio::sync::oneshot::Sender<u64>,
    },
    Unregister {
        agent_id: String,
        conn: u64,
    },
    Send {
        agent_id: String,
        msg: ServerMsg,
    },
    Pop {
        agent_id: String,
        pop_id: String,
        call_id: String,
        answered_at: Instant,
        msg: ServerMsg,
    },
    CallEnded {
        call_id: String,
    },
    Ack {
        agent_id: String,
        pop_id: String,
        at: Instant,
    },
    Request {
        agent_id: String,
        request: AgentRequest,
    },
    Restarting {
        reply: tokio::sync::oneshot::Sender<()>,
    },
    /// Closes the pages of the agents picked (a cluster node that stopped
    /// driving their switch: they reconnect, and are relayed to the node
    /// that drives it now).
    Evict(Box<dyn Fn(&str) -> bool + Send>),
}

#[derive(Clone)]
pub struct AgentHub {
    tx: mpsc::Sender<Command>,
    pub stats: PopStats,
}

impl AgentHub {
    /// Starts the hub; acknowledgements are recorded through `writer`.
    pub fn start(
        writer: StoreWriter,
        monitor: crate::monitor::Monitor,
    ) -> (AgentHub, mpsc::Receiver<Presence>) {
        let (tx, rx) = mpsc::channel(16 * 1024);
        let (ptx, prx) = mpsc::channel(16 * 1024);
        let stats = PopStats::default();
        tokio::spawn(run(rx, ptx, writer, stats.clone(), monitor));
        (AgentHub { tx, stats }, prx)
    }

    /// Tells every open page that the server is going away (they reconnect
    /// on their own), and closes them.
    pub async fn restarting(&self) {
        let (reply, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Command::Restarting { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Closes the open pages of the agents `pick` picks, telling them the
    /// server is restarting (they reconnect at once). Their pops stay
    /// here until acknowledged or ended.
    pub async fn evict(&self, pick: impl Fn(&str) -> bool + Send + 'static) {
        let _ = self.tx.send(Command::Evict(Box::new(pick))).await;
    }

    /// Registers one open page; its messages arrive as JSON text on `tx`.
    pub async fn register(&self, agent_id: &str, tx: mpsc::Sender<Arc<str>>) -> Option<u64> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let cmd = Command::Register {
            agent_id: agent_id.to_string(),
            tx,
            reply,
        };
        self.tx.send(cmd).await.ok()?;
        rx.await.ok()
    }

    pub async fn unregister(&self, agent_id: &str, conn: u64) {
        let _ = self
            .tx
            .send(Command::Unregister {
                agent_id: agent_id.to_string(),
                conn,
            })
            .await;
    }

    pub async fn send(&self, agent_id: &str, msg: ServerMsg) {
        let _ = self
            .tx
            .send(Command::Send {
                agent_id: agent_id.to_string(),
                msg,
            })
            .await;
    }

    /// Sends a pop to every page of the agent and starts its latency clock
    /// at `answered_at`.
    pub async fn pop(
        &self,
        agent_id: &str,
        pop_id: &str,
        call_id: &str,
        answered_at: Instant,
        msg: ServerMsg,
    ) {
        let _ = self
            .tx
            .send(Command::Pop {
                agent_id: agent_id.to_string(),
                pop_id: pop_id.to_string(),
                call_id: call_id.to_string(),
                answered_at,
                msg,
            })
            .await;
    }

    /// The call is over: its pop is no longer shown to pages that open.
    pub async fn call_ended(&self, call_id: &str) {
        let _ = self
            .tx
            .send(Command::CallEnded {
                call_id: call_id.to_string(),
            })
            .await;
    }

    pub async fn ack(&self, agent_id: &str, pop_id: &str) {
        let at = Instant::now();
        let _ = self
            .tx
            .send(Command::Ack {
                agent_id: agent_id.to_string(),
                pop_id: pop_id.to_string(),
                at,
            })
            .await;
    }

    /// Relays an agent's request to the dialer, in order with its pages'
    /// other messages.
    pub async fn request(&self, agent_id: &str, request: AgentRequest) {
        let _ = self
            .tx
            .send(Command::Request {
                agent_id: agent_id.to_string(),
                request,
            })
            .await;
    }
}

/// Each agent's open pages: (connection id, its outgoing queue).
type Pages = HashMap<String, Vec<(u64, mpsc::Sender<Arc<str>>)>>;

/// How long a pop whose call ended stays acknowledgeable with its latency
/// measured; an ack after that is still recorded, without a latency.
const ENDED_POP_GRACE: Duration = Duration::from_secs(300);

struct OpenPop {
    agent_id: String,
    call_id: String,
    /// When the answer was read off the switch socket.
    answered_at: Instant,
    text: Arc<str>,
    /// Some page of the agent has it.
    delivered: bool,
    /// The call is over: no longer shown to pages that open.
    ended: bool,
}

/// Pops not yet acknowledged, reachable by pop, by agent and by call, so
/// that nothing done per call scans them all.
#[derive(Default)]
struct OpenPops {
    by_id: HashMap<String, OpenPop>,
    by_agent: HashMap<String, Vec<String>>,
    by_call: HashMap<String, Vec<String>>,
    /// Pops whose call ended, oldest first, forgotten after the grace.
    ended: VecDeque<(Instant, String)>,
}

fn unlink(index: &mut HashMap<String, Vec<String>>, key: &str, pop_id: &str) {
    if let Some(v) = index.get_mut(key) {
        v.retain(|p| p != pop_id);
        if v.is_empty() {
            index.remove(key);
        }
    }
}

impl OpenPops {
    fn insert(&mut self, pop_id: String, p: OpenPop) {
        // The same pop sent again (after a restart) keeps one entry.
        if let Some(old) = self.by_id.remove(&pop_id) {
            unlink(&mut self.by_agent, &old.agent_id, &pop_id);
            unlink(&mut self.by_call, &old.call_id, &pop_id);
        }
        self.by_agent
            .entry(p.agent_id.clone())
            .or_default()
            .push(pop_id.clone());
        self.by_call
            .entry(p.call_id.clone())
            .or_default()
            .push(pop_id.clone());
        self.by_id.insert(pop_id, p);
    }

    /// Sends the agent's pops whose call is still up to a page that just
    /// opened; counts those no page had before.
    fn replay(&mut self, agent_id: &str, tx: &mpsc::Sender<Arc<str>>, stats: &PopStats) {
        let Some(ids) = self.by_agent.get(agent_id) else {
            return;
        };
        for id in ids {
            if let Some(p) = self.by_id.get_mut(id)
                && !p.ended
                && tx.try_send(p.text.clone()).is_ok()
                && !p.delivered
            {
                p.delivered = true;
                stats.delivered(p.answered_at.elapsed());
            }
        }
    }

    fn call_ended(&mut self, call_id: &str, now: Instant) {
        for pop_id in self.by_call.remove(call_id).unwrap_or_default() {
            if let Some(p) = self.by_id.get_mut(&pop_id) {
                p.ended = true;
                unlink(&mut self.by_agent, &p.agent_id, &pop_id);
                self.ended.push_back((now, pop_id));
            }
        }
    }

    fn take_if_owner(&mut self, pop_id: &str, agent_id: &str) -> Option<OpenPop> {
        if self.by_id.get(pop_id)?.agent_id != agent_id {
            return None;
        }
        let p = self.by_id.remove(pop_id)?;
        unlink(&mut self.by_agent, &p.agent_id, pop_id);
        unlink(&mut self.by_call, &p.call_id, pop_id);
        Some(p)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((at, _)) = self.ended.front() {
            if now.duration_since(*at) < ENDED_POP_GRACE {
                break;
            }
            if let Some((_, id)) = self.ended.pop_front()
                && self.by_id.get(&id).is_some_and(|p| p.ended)
            {
                self.by_id.remove(&id);
            }
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Command>,
    presence: mpsc::Sender<Presence>,
    writer: StoreWriter,
    stats: PopStats,
    monitor: crate::monitor::Monitor,
) {
    let mut pages: Pages = HashMap::new();
    // Pops not yet acknowledged, kept until their call ends so that a page
    // that opens meanwhile (a reload, a daemon restart) still shows them.
    let mut open = OpenPops::default();
    let mut next_conn = 1u64;
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Command::Register {
                agent_id,
                tx,
                reply,
            } => {
                let conn = next_conn;
                next_conn += 1;
                open.replay(&agent_id, &tx, &stats);
                pages.entry(agent_id.clone()).or_default().push((conn, tx));
                let _ = reply.send(conn);
                let _ = presence.send(Presence::Online(agent_id)).await;
            }
            Command::Unregister { agent_id, conn } => {
                if let Some(list) = pages.get_mut(&agent_id) {
                    list.retain(|(c, _)| *c != conn);
                    if list.is_empty() {
                        pages.remove(&agent_id);
                        let _ = presence.send(Presence::Offline(agent_id)).await;
                    }
                }
            }
            Command::Send { agent_id, msg } => {
                if let Ok(text) = serde_json::to_string(&msg) {
                    fan_out(&mut pages, &agent_id, &Arc::<str>::from(text));
                }
            }
            Command::Pop {
                agent_id,
                pop_id,
                call_id,
                answered_at,
                msg,
            } => {
                let Ok(text) = serde_json::to_string(&msg) else {
                    continue;
                };
                // The monitor judges the pops of answered calls (a ringing
                // pop is sent again, in place, at the answer).
                if let ServerMsg::Pop {
                    call_state: crate::popup::messages::PopCallState::Answered,
                    campaign_id,
                    degraded,
                    ..
                } = &msg
                {
                    monitor.pop_sent(&pop_id, campaign_id, *degraded, answered_at);
                }
                let text: Arc<str> = Arc::from(text);
                let delivered = fan_out(&mut pages, &agent_id, &text) > 0;
                if delivered {
                    stats.delivered(answered_at.elapsed());
                }
                open.insert(
                    pop_id,
                    OpenPop {
                        agent_id,
                        call_id,
                        answered_at,
                        text,
                        delivered,
                        ended: false,
                    },
                );
            }
            Command::CallEnded { call_id } => {
                let now = Instant::now();
                open.call_ended(&call_id, now);
                open.forget_old(now);
            }
            Command::Ack {
                agent_id,
                pop_id,
                at,
            } => {
                // An agent can only acknowledge its own pop; the first ack
                // from any of its pages closes the measurement.
                if let Some(p) = open.take_if_owner(&pop_id, &agent_id) {
                    stats.acked(at.duration_since(p.answered_at));
                    monitor.pop_acked(&pop_id);
                }
                // Recorded however late it comes (after the hang-up, after
                // a restart): the store checks that the agent owns the pop,
                // and the writer writes it after the pop's own row.
                writer
                    .submit(Write::PopAcked {
                        pop_id,
                        agent_id,
                        at_ms: now_ms(),
                    })
                    .await;
            }
            Command::Request { agent_id, request } => {
                let _ = presence.send(Presence::Request(agent_id, request)).await;
            }
            Command::Evict(pick) => {
                let ids: Vec<String> = pages.keys().filter(|a| pick(a)).cloned().collect();
                if let Ok(text) = serde_json::to_string(&ServerMsg::Restarting) {
                    let text: Arc<str> = Arc::from(text);
                    for id in &ids {
                        fan_out(&mut pages, id, &text);
                    }
                }
                for id in ids {
                    pages.remove(&id);
                    let _ = presence.send(Presence::Offline(id)).await;
                }
            }
            Command::Restarting { reply } => {
                let msg = ServerMsg::Restarting;
                if let Ok(text) = serde_json::to_string(&msg) {
                    let text: Arc<str> = Arc::from(text);
                    let ids: Vec<String> = pages.keys().cloned().collect();
                    for id in ids {
                        fan_out(&mut pages, &id, &text);
                    }
                }
                // Dropping the queues ends each page's socket task, which
                // closes its socket after sending what is queued.
                pages.clear();
                let _ = reply.send(());
            }
        }
    }
}

/// Sends to every page of the agent; pages whose queue is full or closed
/// are dropped (their socket task notices and unregisters). Returns how many
/// pages got it.
fn fan_out(pages: &mut Pages, agent_id: &str, text: &Arc<str>) -> usize {
    let Some(list) = pages.get_mut(agent_id) else {
        return 0;
    };
    let mut sent = 0;
    list.retain(|(_, tx)| match tx.try_send(text.clone()) {
        Ok(()) => {
            sent += 1;
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!(agent = agent_id, "agent page is not reading; dropping it");
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
    sent
}
