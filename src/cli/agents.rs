//! A simulated agent page: a real WebSocket client that signs in,
//! acknowledges every pop at once and ends each wrap-up after a moment with
//! a disposition. The demo runs them in its own process; `dialpop
//! bench-agents` runs them in another, for load runs where the agents must
//! not share the daemon's CPU.

use crate::popup::messages::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the simulated pages saw in their pops, over all of them.
pub struct PopTally {
    degraded: AtomicU64,
    fallbacks: AtomicU64,
    /// None: blocks are not counted (load runs).
    blocks: Option<Mutex<BTreeMap<String, u64>>>,
}

impl PopTally {
    pub fn new(count_blocks: bool) -> PopTally {
        PopTally {
            degraded: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            blocks: count_blocks.then(Default::default),
        }
    }

    fn saw(&self, degraded: bool, screen: &crate::popup::render::Screen) {
        if degraded {
            self.degraded.fetch_add(1, Ordering::Relaxed);
        }
        if screen.fallback.is_some() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(blocks) = &self.blocks {
            let mut b = blocks.lock().unwrap_or_else(|p| p.into_inner());
            for block in &screen.blocks {
                *b.entry(block.title().to_string()).or_default() += 1;
            }
        }
    }

    pub fn degraded(&self) -> u64 {
        self.degraded.load(Ordering::Relaxed)
    }

    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub fn blocks(&self) -> BTreeMap<String, u64> {
        self.blocks
            .as_ref()
            .map(|b| b.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }
}

/// A simulated agent: signs in, acknowledges every pop at once, and ends
/// each wrap-up after a moment, until told to stop.
pub async fn simulated_agent(
    url: String,
    token: String,
    wrap_up: Duration,
    stop: tokio_util::sync::CancellationToken,
    tally: Arc<PopTally>,
) -> anyhow::Result<()> {
    // Small buffers: a page gets a few kilobytes at a time, and with
    // tungstenite's default 128 KiB read buffer a thousand simulated pages
    // cost 128 MB, which load runs would count as the daemon's.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false).await?;
    let (mut tx, mut rx) = ws.split();
    let auth = serde_json::to_string(&ClientMsg::Auth {
        token,
        locale: None,
    })?;
    tx.send(tokio_tungstenite::tungstenite::Message::Text(auth.into()))
        .await?;
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            m = rx.next() => m,
        };
        let Some(msg) = msg else { return Ok(()) };
        let tokio_tungstenite::tungstenite::Message::Text(text) = msg? else {
            continue;
        };
        let reply = match serde_json::from_str::<ServerMsg>(&text) {
            Ok(ServerMsg::Pop {
                pop_id,
                degraded,
                screen,
                ..
            }) => {
                tally.saw(degraded, &screen);
                Some(ClientMsg::Ack { pop_id })
            }
            Ok(ServerMsg::State {
                state: crate::popup::messages::AgentStateName::WrapUp,
                disposition,
                ..
            }) => {
                tokio::time::sleep(wrap_up).await;
                Some(match disposition {
                    Some(form) => disposition_for(&form),
                    None => ClientMsg::Ready,
                })
            }
            // A disposition that reached the daemon just after the wrap-up's
            // timer ended it: the call is closed by its outcome instead.
            Ok(ServerMsg::Error { error }) if error.starts_with("call_id: no wrap-up") => None,
            Ok(ServerMsg::Error { error }) => anyhow::bail!("agent refused: {error}"),
            _ => None,
        };
        if let Some(r) = reply {
            tx.send(tokio_tungstenite::tungstenite::Message::Text(
                serde_json::to_string(&r)?.into(),
            ))
            .await?;
        }
    }
}

/// The simulated agent's disposition of a call: spread over the campaign's
/// codes that close the task (done, and one call in twenty do-not-call), by
/// the call id, so that a seeded run gives the same mix.
fn disposition_for(form: &crate::popup::messages::DispositionForm) -> ClientMsg {
    use crate::campaign::disposition::Action;
    let h = form
        .call_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    let of = |action: Action| {
        form.codes
            .iter()
            .filter(move |c| c.action == action)
            .map(|c| c.code.clone())
    };
    let done: Vec<String> = of(Action::Done).collect();
    let code = match of(Action::DoNotCall).next() {
        Some(dnc) if h % 20 == 0 => Some(dnc),
        _ if !done.is_empty() => Some(done[(h / 20) as usize % done.len()].clone()),
        _ => None,
    };
    match code {
        Some(code) => ClientMsg::Disposition {
            call_id: form.call_id.clone(),
            code,
            notes: None,
            callback_at_ms: None,
            callback_mine: false,
        },
        None => ClientMsg::Ready,
    }
}
