//! Agents' pages on any node: a page on a node that does not drive its
//! agent's switch is relayed, through Redis pub/sub, to the node that does
//! (chosen by the figures in `docs/cluster.md`: 42 to 60 µs a hop, against
//! 156 to 183 µs and a 94 ms tail for PostgreSQL NOTIFY).
//!
//! The page's node publishes what the page sends (and a beat every second)
//! on the channel of the agent's switch; the driving node, subscribed to
//! the channels of the switches it drives, keeps one *relayed page* per
//! remote page in its hub, so fan-out, replay of unacknowledged pops and
//! online/offline counting are the hub's as for any page; what the hub
//! sends that page is published on the page's own channel. Pub/sub is
//! at-most-once, so delivery is made at-least-once by replay: every time a
//! page (re)subscribes it says `open`, the driving node registers it anew
//! and the hub replays the pops not yet acknowledged, which the page acks
//! again (duplicates included). After a takeover the new driving node
//! hears the page's next beat and does the same.

use super::home::Homes;
use crate::dialer::Shards;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a relayed page says it is still there.
pub const BEAT: Duration = Duration::from_secs(1);
/// A relayed page not heard of for this long is dropped by its driving node.
const SILENT: Duration = Duration::from_secs(5);

/// What a page's node publishes on its agent's switch's channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Up {
    pub page: String,
    pub agent: String,
    pub kind: UpKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpKind {
    /// Subscribed (first, or again after a reconnect): register me anew.
    Open,
    Beat,
    /// A message the page sent, as it sent it.
    Text {
        text: String,
    },
    Close,
}

/// The node's relay: the broker connections and the pages on both ends.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    homes: Homes,
    shards: Shards,
    publish: redis::aio::ConnectionManager,
    subscribe: mpsc::UnboundedSender<Sub>,
    /// Pages on this node relayed elsewhere: what arrives on their channel.
    local: Mutex<HashMap<String, mpsc::Sender<Arc<str>>>>,
    /// Messages on the up channels of the switches driven here.
    ups: Mutex<Option<mpsc::Sender<Up>>>,
    connected: std::sync::atomic::AtomicBool,
}

enum Sub {
    /// Subscribe; the sender hears once it is done.
    On(String, Option<tokio::sync::oneshot::Sender<()>>),
    Off(String),
}

impl Relay {
    /// Connects to the broker; `prefix` keeps clusters (and tests) that
    /// share one Redis apart.
    pub async fn connect(
        url: &str,
        prefix: &str,
        homes: Homes,
        shards: Shards,
    ) -> Result<Relay, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let publish = client.get_connection_manager().await?;
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            prefix: prefix.to_string(),
            homes,
            shards,
            publish,
            subscribe: sub_tx,
            local: Mutex::new(HashMap::new()),
            ups: Mutex::new(None),
            connected: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(subscriber(client, Arc::downgrade(&inner), sub_rx));
        Ok(Relay { inner })
    }

    /// Whether this node drives the agent's switch now.
    pub fn drives_agent(&self, agent_id: &str) -> bool {
        self.inner
            .homes
            .home_of(agent_id)
            .is_some_and(|s| self.inner.shards.switches().iter().any(|d| d == s))
    }

    /// Whether the broker's subscriber connection is up.
    pub fn connected(&self) -> bool {
        self.inner
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn up_channel(&self, switch: &str) -> String {
        format!("{}:up:{switch}", self.inner.prefix)
    }

    fn page_channel(&self, page: &str) -> String {
        format!("{}:page:{page}", self.inner.prefix)
    }

    /// A page of this node relayed to its driving node: what arrives for it
    /// comes on `tx`. Returns once its channel is subscribed (or after a
    /// while without the broker: the page opens again when it is back), so
    /// that nothing the driving node sends at the open is missed.
    pub async fn open_page(&self, page: &str, tx: mpsc::Sender<Arc<str>>) {
        if let Ok(mut l) = self.inner.local.lock() {
            l.insert(page.to_string(), tx);
        }
        let (done, subscribed) = tokio::sync::oneshot::channel();
        let _ = self
            .inner
            .subscribe
            .send(Sub::On(self.page_channel(page), Some(done)));
        let _ = tokio::time::timeout(Duration::from_secs(2), subscribed).await;
    }

    pub fn close_page(&self, page: &str) {
        if let Ok(mut l) = self.inner.local.lock() {
            l.remove(page);
        }
        let _ = self.inner.subscribe.send(Sub::Off(self.page_channel(page)));
    }

    /// Publishes a page's message toward the node that drives its agent.
    pub async fn up(&self, up: &Up) {
        let Some(switch) = self.inner.homes.home_of(&up.agent) else {
            return;
        };
        let Ok(text) = serde_json::to_string(up) else {
            return;
        };
        self.publish(&self.up_channel(switch), &text).await;
    }

    async fn publish(&self, channel: &str, text: &str) {
        let mut c = self.inner.publish.clone();
        let sent: Result<(), _> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(text)
            .query_async(&mut c)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "broker publish failed; the page's replay will make it up");
        }
    }

    /// The driving side: relayed pages in this node's hub, for the agents
    /// of the switches it drives.
    pub fn serve(&self, s: crate::api::AppState) {
        let (tx, rx) = mpsc::channel(16 * 1024);
        if let Ok(mut u) = self.inner.ups.lock() {
            *u = Some(tx);
        }
        tokio::spawn(drive(self.clone(), s, rx));
    }
}

/// One remote page kept in this node's hub.
struct Relayed {
    agent: crate::store::Agent,
    conn: u64,
    seen: Instant,
    queue: mpsc::Sender<Arc<str>>,
}

async fn drive(relay: Relay, s: crate::api::AppState, mut ups: mpsc::Receiver<Up>) {
    let mut pages: HashMap<String, Relayed> = HashMap::new();
    let mut subscribed: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Follow the switches driven here.
                let now: HashSet<String> = relay.inner.shards.switches().into_iter().collect();
                for sw in now.difference(&subscribed) {
                    let _ = relay.inner.subscribe.send(Sub::On(relay.up_channel(sw), None));
                }
                for sw in subscribed.difference(&now) {
                    let _ = relay.inner.subscribe.send(Sub::Off(relay.up_channel(sw)));
                }
                subscribed = now;
                // Pages gone silent, or whose switch moved away.
                let stale: Vec<String> = pages
                    .iter()
                    .filter(|(_, p)| p.seen.elapsed() > SILENT || !relay.drives_agent(&p.agent.id))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in stale {
                    if let Some(p) = pages.remove(&k) {
                        s.hub.unregister(&p.agent.id, p.conn).await;
                    }
                }
            }
            up = ups.recv() => {
                let Some(up) = up else { return };
                if !relay.drives_agent(&up.agent) {
                    continue;
                }
                match up.kind.clone() {
                    UpKind::Close => {
                        if let Some(p) = pages.remove(&up.page) {
                            s.hub.unregister(&p.agent.id, p.conn).await;
                        }
                    }
                    kind => {
                        // An open, or a page this node has not seen (a
                        // takeover): registered anew, so the hub replays.
                        let fresh = kind == UpKind::Open || !pages.contains_key(&up.page);
                        if fresh {
                            if let Some(old) = pages.remove(&up.page) {
                                s.hub.unregister(&old.agent.id, old.conn).await;
                            }
                            match register(&relay, &s, &up).await {
                                Some(p) => {
                                    pages.insert(up.page.clone(), p);
                                }
                                None => continue,
                            }
                        }
                        let Some(p) = pages.get_mut(&up.page) else { continue };
                        p.seen = Instant::now();
                        if let UpKind::Text { text } = kind {
                            let locale = p
                                .agent
                                .locale
                                .as_deref()
                                .map(crate::popup::format::Locale::from_tag)
                                .unwrap_or_default();
                            crate::api::ws::on_message(&s, &p.agent, locale, &p.queue, &text).await;
                        }
                    }
                }
            }
        }
    }
}

/// A remote page registered in this node's hub; what the hub sends it is
/// published on the page's channel.
async fn register(relay: &Relay, s: &crate::api::AppState, up: &Up) -> Option<Relayed> {
    let agent = match s.store.agent(&up.agent).await {
        Ok(Some(a)) => a,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(agent = %up.agent, error = %e, "cannot read a relayed page's agent");
            return None;
        }
    };
    let (queue, mut rx) = mpsc::channel::<Arc<str>>(256);
    let conn = s.hub.register(&agent.id, queue.clone()).await?;
    let (r, channel) = (relay.clone(), relay.page_channel(&up.page));
    tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            r.publish(&channel, &text).await;
        }
    });
    tracing::info!(agent = %agent.id, conn, "relayed agent page registered");
    Some(Relayed {
        agent,
        conn,
        seen: Instant::now(),
        queue,
    })
}

/// The one subscriber connection: (re)subscribes what is wanted, hands
/// each message to its page or to the driving side, and after a lost
/// connection connects again and tells each relayed page to open anew.
async fn subscriber(
    client: redis::Client,
    inner: std::sync::Weak<Inner>,
    mut subs: mpsc::UnboundedReceiver<Sub>,
) {
    let mut wanted: HashSet<String> = HashSet::new();
    let mut wait = Duration::from_millis(100);
    loop {
        let Some(me) = inner.upgrade() else { return };
        let ps = match client.get_async_pubsub().await {
            Ok(ps) => ps,
            Err(e) => {
                tracing::warn!(error = %e, "broker unreachable; retrying");
                drop(me);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        wait = Duration::from_millis(100);
        let (mut sink, mut stream) = ps.split();
        let mut ok = true;
        for ch in &wanted {
            ok &= sink.subscribe(ch).await.is_ok();
        }
        if !ok {
            continue;
        }
        me.connected
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Pages of this node: say open again (messages may have been lost).
        let pages: Vec<String> = me
            .local
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        drop(me);
        for page in pages {
            reopen(&inner, &page);
        }
        loop {
            tokio::select! {
                cmd = subs.recv() => match cmd {
                    Some(Sub::On(ch, done)) => {
                        if wanted.insert(ch.clone()) && sink.subscribe(&ch).await.is_err() {
                            break;
                        }
                        if let Some(d) = done {
                            let _ = d.send(());
                        }
                    }
                    Some(Sub::Off(ch)) => {
                        if wanted.remove(&ch) && sink.unsubscribe(&ch).await.is_err() {
                            break;
                        }
                    }
                    None => return,
                },
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(me) = inner.upgrade() else { return };
                    deliver(&me, msg.get_channel_name(), msg.get_payload_bytes()).await;
                }
            }
        }
        if let Some(me) = inner.upgrade() {
            me.connected
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::warn!("broker connection lost; reconnecting");
    }
}

/// Marks a page of this node for a fresh open: its session sends it.
fn reopen(inner: &std::sync::Weak<Inner>, page: &str) {
    if let Some(me) = inner.upgrade()
        && let Ok(l) = me.local.lock()
        && let Some(tx) = l.get(page)
    {
        // An empty message is the session's cue to publish `open`.
        let _ = tx.try_send(Arc::from(""));
    }
}

async fn deliver(me: &Inner, channel: &str, payload: &[u8]) {
    let Some(rest) = channel.strip_prefix(me.prefix.as_str()) else {
        return;
    };
    if let Some(page) = rest.strip_prefix(":page:") {
        let tx = me.local.lock().ok().and_then(|l| l.get(page).cloned());
        // Never waits: one stuck page must not hold up the others. What it
        // misses is replayed when it opens again.
        if let (Some(tx), Ok(text)) = (tx, std::str::from_utf8(payload))
            && let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(Arc::from(text))
        {
            tracing::warn!(
                page,
                "a relayed page is not keeping up; a message was dropped"
            );
        }
    } else if rest.starts_with(":up:") {
        let Ok(up) = serde_json::from_slice::<Up>(payload) else {
            tracing::warn!(channel, "a broker message that is no page's; dropped");
            return;
        };
        let tx = me.ups.lock().ok().and_then(|u| u.clone());
        if let Some(tx) = tx {
            let _ = tx.send(up).await;
        }
    }
}
