//! An agent's page whose switch another node drives: relayed to that node
//! through the broker (`cluster::relay`). The page is told nothing of it.

use crate::cluster::relay::{BEAT, Relay, Up, UpKind};
use axum::extract::ws::{Message, WebSocket};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn session(
    relay: &Relay,
    agent_id: &str,
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
) {
    let page = uuid::Uuid::new_v4().simple().to_string();
    let up = |kind| Up {
        page: page.clone(),
        agent: agent_id.to_string(),
        kind,
    };
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(256);
    relay.open_page(&page, tx).await;
    relay.up(&up(UpKind::Open)).await;
    tracing::info!(agent = %agent_id, "agent page connected, relayed to the node driving its switch");
    let mut beat = tokio::time::interval(BEAT);
    beat.tick().await;
    loop {
        tokio::select! {
            _ = beat.tick() => relay.up(&up(UpKind::Beat)).await,
            down = rx.recv() => match down {
                // The broker reconnected: open again, for the replay.
                Some(text) if text.is_empty() => relay.up(&up(UpKind::Open)).await,
                Some(text) => {
                    if sink.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            inc = stream.next() => match inc {
                Some(Ok(Message::Text(t))) => {
                    relay.up(&up(UpKind::Text { text: t.to_string() })).await;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    relay.close_page(&page);
    relay.up(&up(UpKind::Close)).await;
    tracing::info!(agent = %agent_id, "relayed agent page disconnected");
}
