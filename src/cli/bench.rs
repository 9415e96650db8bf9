//! The two halves of the pop load benchmark that run outside the daemon
//! (`benches/pop_load.rs` drives them):
//! - `dialpop bench-agents`: agent pages as real WebSocket clients, in a
//!   process of their own, signing in with the tokens a demo wrote;
//! - `dialpop bench-floor`: the floor no pop can beat, a WebSocket server
//!   that sends one pop-sized message at a time at a steady rate to the same
//!   number of connections and times each until its ack comes back.

use super::agents::simulated_agent;
use crate::popup::messages::{ClientMsg, ServerMsg};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Waits for `path` to appear (the demo writes it once the daemon is up).
async fn wait_for(path: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            return Ok(s);
        }
        if Instant::now() > deadline {
            anyhow::bail!("{} did not appear within 300 s", path.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one agent page per token line (`agent_id token`) of `tokens`
/// against `url` until every page's server goes away.
pub async fn agents(url: &str, tokens: &Path, wrap: Duration) -> anyhow::Result<()> {
    let text = wait_for(tokens).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let tally = Arc::new(super::agents::PopTally::new(false));
    let mut pages = Vec::new();
    for line in text.lines() {
        let Some((_, token)) = line.split_once(' ') else {
            anyhow::bail!("{}: a line is not `agent_id token`", tokens.display());
        };
        pages.push(tokio::spawn(simulated_agent(
            url.to_string(),
            token.to_string(),
            wrap,
            stop.clone(),
            tally.clone(),
        )));
        // Sign-ins spread a little, as pages opening in a call center do.
        if pages.len() % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let n = pages.len();
    let mut failed = 0;
    for p in pages {
        if !matches!(p.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let (rss, cpu) = super::process_stats::process_figures();
    println!(
        "{}",
        serde_json::json!({"agents": n, "failed": failed, "peak_rss_mb": rss, "cpu_s": cpu})
    );
    Ok(())
}

/// The floor's settings.
pub struct FloorOptions {
    pub listen: SocketAddr,
    pub connections: usize,
    pub rate: f64,
    pub seconds: f64,
    /// Written with one `floorN token` line per connection once listening.
    pub tokens: std::path::PathBuf,
}

type Acks = Arc<Mutex<HashMap<String, Instant>>>;

#[derive(Clone)]
struct Floor {
    register: mpsc::Sender<mpsc::Sender<Arc<str>>>,
    sent: Acks,
    latency: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
}

/// A message the size and shape of a real pop.
fn pop_text(n: u64) -> String {
    let mut customer = serde_json::Map::new();
    for (k, v) in [
        ("id", "c000042"),
        ("name", "王芳 (Wang Fang)"),
        ("phone", "+8613800138000"),
        ("email", "customer42@example.com"),
        ("tier", "gold"),
        ("vip", "false"),
        ("city", "上海"),
        ("balance", "1234.56"),
        ("last_contact", "2026-10-12"),
    ] {
        customer.insert(k.into(), v.into());
    }
    // The screen a daemon's pop carries: the built-in template, filled.
    let screen = crate::popup::render::render(
        &crate::popup::template::builtin(),
        &customer,
        &[],
        None,
        crate::popup::format::Locale::En,
    );
    let msg = ServerMsg::Pop {
        pop_id: format!("floor-{n}"),
        call_id: uuid::Uuid::new_v4().to_string(),
        campaign_id: "demo".into(),
        task_id: n as i64,
        trigger: crate::campaign::settings::PopTrigger::Answer,
        call_state: crate::popup::messages::PopCallState::Answered,
        screen,
        customer,
        sources: serde_json::Map::new(),
        history: Vec::new(),
        degraded: false,
        reasons: Vec::new(),
        call_ended: false,
    };
    serde_json::to_string(&msg).unwrap_or_default()
}

async fn floor_socket(
    State(f): axum::extract::State<Floor>,
    ws: WebSocketUpgrade,
) -> axum::response::Response {
    // The same socket settings as the daemon's agent socket.
    ws.max_message_size(64 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |s| floor_session(f, s))
}

use axum::extract::State;

async fn floor_session(f: Floor, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    // The first message is the page's sign-in: nothing to check here.
    if !matches!(stream.next().await, Some(Ok(Message::Text(_)))) {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(64);
    if f.register.send(tx).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(t) => if sink.send(Message::Text(t.as_ref().into())).await.is_err() { return },
                None => { let _ = sink.send(Message::Close(None)).await; return }
            },
            inc = stream.next() => match inc {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(ClientMsg::Ack { pop_id }) = serde_json::from_str::<ClientMsg>(&t) {
                        let at = Instant::now();
                        let sent = f.sent.lock().ok().and_then(|mut m| m.remove(&pop_id));
                        if let (Some(s), Ok(mut h)) = (sent, f.latency.lock()) {
                            let _ = h.record((at.duration_since(s).as_micros() as u64).max(1));
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            }
        }
    }
}

/// Runs the floor: waits for every connection, sends pops round-robin at
/// `rate` per second for `seconds`, then prints the ack latencies as JSON.
pub async fn floor(o: FloorOptions) -> anyhow::Result<()> {
    let (reg_tx, mut reg_rx) = mpsc::channel(o.connections.max(1));
    let latency = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|e| anyhow::anyhow!("histogram: {e}"))?;
    let f = Floor {
        register: reg_tx,
        sent: Arc::default(),
        latency: Arc::new(Mutex::new(latency)),
    };
    let app = axum::Router::new()
        .route("/ws/agent", axum::routing::get(floor_socket))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind(o.listen).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let lines: String = (0..o.connections)
        .map(|i| format!("floor{i} t{i}\n"))
        .collect();
    let tmp = o.tokens.with_extension("tmp");
    std::fs::write(&tmp, lines)?;
    std::fs::rename(&tmp, &o.tokens)?;
    eprintln!("floor listening on {addr}");
    let mut pages = Vec::with_capacity(o.connections);
    while pages.len() < o.connections {
        match tokio::time::timeout(Duration::from_secs(120), reg_rx.recv()).await {
            Ok(Some(tx)) => pages.push(tx),
            _ => anyhow::bail!("only {} of {} connections came", pages.len(), o.connections),
        }
    }
    let rss_connected = super::process_stats::current_rss_mb();
    let every = Duration::from_secs_f64(1.0 / o.rate.max(0.001));
    let total = (o.rate * o.seconds).round() as u64;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let cpu0 = super::process_stats::process_figures().1;
    let started = Instant::now();
    for n in 0..total {
        tick.tick().await;
        let text: Arc<str> = Arc::from(pop_text(n));
        if let Ok(mut m) = f.sent.lock() {
            m.insert(format!("floor-{n}"), Instant::now());
        }
        let _ = pages[n as usize % pages.len()].try_send(text);
    }
    let wall = started.elapsed();
    // The last acks.
    let settle = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle && f.sent.lock().map(|m| !m.is_empty()).unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = super::process_stats::process_figures().1 - cpu0;
    let missing = f.sent.lock().map(|m| m.len()).unwrap_or(0);
    drop(pages);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.abort();
    let h = f
        .latency
        .lock()
        .map_err(|_| anyhow::anyhow!("histogram lock"))?;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "connections": o.connections,
            "sent": total,
            "acked": h.len(),
            "missing": missing,
            "rate": total as f64 / wall.as_secs_f64().max(1e-9),
            "ack_ms": {"p50": ms(h.value_at_quantile(0.5)), "p99": ms(h.value_at_quantile(0.99)), "max": ms(h.max())},
            "rss_connected_mb": rss_connected,
            "peak_rss_mb": super::process_stats::process_figures().0,
            "cpu_s": cpu,
        })
    );
    Ok(())
}
