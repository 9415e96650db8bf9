//! The agent hub: the one owner of the open agent pages. It fans messages
//! out to every page of an agent, tells the dialer when an agent comes and
//! goes, and closes each pop's latency measurement when the page acks it.

use super::messages::ServerMsg;
use crate::store::{Store, now_ms};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// What the dialer hears from the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// A page of the agent opened (the dialer answers with the state).
    Online(String),
    /// The agent's last page closed.
    Offline(String),
    Ready(String),
}

/// Pop latencies (answer event read off the switch → ack received), ms.
#[derive(Clone, Default)]
pub struct PopStats {
    inner: Arc<Mutex<PopStatsInner>>,
}

#[derive(Default)]
struct PopStatsInner {
    delivered: u64,
    acked: u64,
    latencies_ms: Vec<f64>,
}

impl PopStats {
    fn delivered(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.delivered += 1;
        }
    }

    fn acked(&self, ms: f64) {
        if let Ok(mut s) = self.inner.lock() {
            s.acked += 1;
            s.latencies_ms.push(ms);
        }
    }

    /// (delivered, acked, p50, p99, max) in ms.
    pub fn summary(&self) -> (u64, u64, f64, f64, f64) {
        let Ok(s) = self.inner.lock() else {
            return (0, 0, 0.0, 0.0, 0.0);
        };
        let mut v = s.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            if v.is_empty() {
                0.0
            } else {
                v[((v.len() as f64 - 1.0) * q).round() as usize]
            }
        };
        (
            s.delivered,
            s.acked,
            pick(0.5),
            pick(0.99),
            v.last().copied().unwrap_or(0.0),
        )
    }
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
    Ready {
        agent_id: String,
    },
}

#[derive(Clone)]
pub struct AgentHub {
    tx: mpsc::Sender<Command>,
    pub stats: PopStats,
}

impl AgentHub {
    pub fn start(store: Arc<dyn Store>) -> (AgentHub, mpsc::Receiver<Presence>) {
        let (tx, rx) = mpsc::channel(16 * 1024);
        let (ptx, prx) = mpsc::channel(16 * 1024);
        let stats = PopStats::default();
        tokio::spawn(run(rx, ptx, store, stats.clone()));
        (AgentHub { tx, stats }, prx)
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

    pub async fn ready(&self, agent_id: &str) {
        let _ = self
            .tx
            .send(Command::Ready {
                agent_id: agent_id.to_string(),
            })
            .await;
    }
}

/// Each agent's open pages: (connection id, its outgoing queue).
type Pages = HashMap<String, Vec<(u64, mpsc::Sender<Arc<str>>)>>;

struct OpenPop {
    agent_id: String,
    call_id: String,
    /// When the answer was read off the switch socket.
    answered_at: Instant,
    text: Arc<str>,
}

async fn run(
    mut rx: mpsc::Receiver<Command>,
    presence: mpsc::Sender<Presence>,
    store: Arc<dyn Store>,
    stats: PopStats,
) {
    let mut pages: Pages = HashMap::new();
    // Pops not yet acknowledged, kept until their call ends so that a page
    // that opens meanwhile (a reload, a daemon restart) still shows them.
    let mut open_pops: HashMap<String, OpenPop> = HashMap::new();
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
                for p in open_pops.values().filter(|p| p.agent_id == agent_id) {
                    let _ = tx.try_send(p.text.clone());
                }
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
                let text: Arc<str> = Arc::from(text);
                if fan_out(&mut pages, &agent_id, &text) > 0 {
                    stats.delivered();
                }
                open_pops.insert(
                    pop_id,
                    OpenPop {
                        agent_id,
                        call_id,
                        answered_at,
                        text,
                    },
                );
            }
            Command::CallEnded { call_id } => {
                open_pops.retain(|_, p| p.call_id != call_id);
            }
            Command::Ack {
                agent_id,
                pop_id,
                at,
            } => {
                // An agent can only acknowledge its own pop; the first ack
                // from any of its pages closes the measurement.
                let mine = matches!(open_pops.get(&pop_id), Some(p) if p.agent_id == agent_id);
                if mine && let Some(p) = open_pops.remove(&pop_id) {
                    stats.acked(at.duration_since(p.answered_at).as_secs_f64() * 1000.0);
                    let store = store.clone();
                    tokio::spawn(async move {
                        // The pop's row is written beside its delivery; a fast
                        // page can ack before it lands, so wait for it a little.
                        let at = now_ms();
                        for wait_ms in [0u64, 5, 20, 50, 100, 250, 500, 1000] {
                            tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
                            match store.pop_acked(&pop_id, &agent_id, at).await {
                                Ok(true) => return,
                                Ok(false) => continue,
                                Err(e) => {
                                    tracing::warn!(error = %e, "could not record a pop acknowledgement");
                                    return;
                                }
                            }
                        }
                        tracing::warn!("a pop acknowledgement found no pop record to update");
                    });
                }
            }
            Command::Ready { agent_id } => {
                let _ = presence.send(Presence::Ready(agent_id)).await;
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
