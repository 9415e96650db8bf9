//! `/ws/agent`: an agent's page. The first message authenticates
//! (`{"type":"auth","token":..}`), because a browser cannot set headers on a
//! WebSocket and a token in the URL would end up in access logs.

use super::AppState;
use crate::popup::messages::{AgentInfo, AgentRequest, ClientMsg, ServerMsg};
use crate::store::token_hash;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code for a refused token; the page does not reconnect on it.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;

pub async fn agent_socket(
    State(s): State<AppState>,
    axum::Extension(super::guard::Peer(ip)): axum::Extension<super::guard::Peer>,
    ws: WebSocketUpgrade,
) -> Response {
    // Turned away before the upgrade: a flood costs no socket task.
    if s.guard.locked(ip, std::time::Instant::now()) {
        return super::auth::too_many().into_response();
    }
    let Some(slot) = s.guard.socket(ip) else {
        return super::error(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too many agent sockets from this address waiting to sign in",
            None,
        )
        .into_response();
    };
    // A page sends acks and sends little else; the server sends pops of a
    // few kilobytes. tungstenite's defaults (128 KiB read buffer, 128 KiB
    // write buffer) would make each idle page cost a quarter of a megabyte.
    ws.max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .on_upgrade(move |socket| session(s, socket, slot, ip))
}

async fn refuse(mut socket: WebSocket, why: &str) {
    let msg = ServerMsg::Error {
        error: why.to_string(),
    };
    if let Ok(text) = serde_json::to_string(&msg) {
        let _ = socket.send(Message::Text(text.into())).await;
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CLOSE_UNAUTHORIZED,
            reason: why.to_string().into(),
        })))
        .await;
}

async fn session(
    s: AppState,
    mut socket: WebSocket,
    slot: super::guard::Slot,
    ip: std::net::IpAddr,
) {
    let first = tokio::time::timeout(AUTH_TIMEOUT, socket.recv()).await;
    let (token, browser_locale) = match first {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientMsg>(&t) {
            Ok(ClientMsg::Auth { token, locale }) => (token, locale),
            _ => {
                return refuse(
                    socket,
                    "the first message must be {\"type\":\"auth\",\"token\":...}",
                )
                .await;
            }
        },
        Ok(_) => return,
        Err(_) => return refuse(socket, "no auth message within 10 s").await,
    };
    let agent = match s.store.agent_by_token_hash(&token_hash(&token)).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            s.guard.failed(ip, std::time::Instant::now());
            return refuse(socket, "invalid token").await;
        }
        Err(e) => {
            tracing::error!(error = %e, "store error during agent login");
            return refuse(socket, "service unavailable").await;
        }
    };
    drop(token);
    // Signed in: no longer counted against the address.
    drop(slot);
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(64);
    let locale = agent
        .locale
        .as_deref()
        .or(browser_locale.as_deref())
        .map(crate::popup::format::Locale::from_tag)
        .unwrap_or_default();
    let hello = ServerMsg::Hello {
        protocol: crate::popup::messages::PROTOCOL,
        locale,
        agent: AgentInfo {
            id: agent.id.clone(),
            name: agent.name.clone(),
            extension: agent.extension.clone(),
        },
        state: s.dialer.agent_state(&agent.id).await,
    };
    if let Ok(text) = serde_json::to_string(&hello)
        && socket.send(Message::Text(text.into())).await.is_err()
    {
        return;
    }
    if let Some(relay) = s.relay.as_ref().filter(|r| !r.drives_agent(&agent.id)) {
        // Its switch is driven by another node: the page is that node's,
        // relayed through the broker.
        let (sink, stream) = socket.split();
        return super::ws_relay::session(relay, &agent.id, sink, stream).await;
    }
    // Answers to the page's own requests go through its queue too.
    let replies = tx.clone();
    let Some(conn) = s.hub.register(&agent.id, tx).await else {
        return;
    };
    tracing::info!(agent = %agent.id, conn, "agent page connected");
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => {
                    if sink.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            inc = stream.next() => match inc {
                Some(Ok(Message::Text(t))) => on_message(&s, &agent, locale, &replies, &t).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    s.hub.unregister(&agent.id, conn).await;
    tracing::info!(agent = %agent.id, conn, "agent page disconnected");
}

/// What a page sent, acted on: by the node the page is connected to, or by
/// the node that drives the agent's switch when the page is relayed to it.
pub(crate) async fn on_message(
    s: &AppState,
    agent: &crate::store::Agent,
    locale: crate::popup::format::Locale,
    replies: &mpsc::Sender<Arc<str>>,
    text: &str,
) {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(ClientMsg::Ack { pop_id }) => s.hub.ack(&agent.id, &pop_id).await,
        Ok(ClientMsg::Ready) => s.hub.request(&agent.id, AgentRequest::Ready).await,
        Ok(ClientMsg::Pause { reason }) => {
            s.hub.request(&agent.id, AgentRequest::Pause(reason)).await
        }
        Ok(ClientMsg::Resume) => s.hub.request(&agent.id, AgentRequest::Resume).await,
        Ok(ClientMsg::PreviewDial { call_id }) => {
            s.hub
                .request(&agent.id, AgentRequest::PreviewDial(call_id))
                .await
        }
        Ok(ClientMsg::PreviewSkip { call_id, reason }) => {
            s.hub
                .request(&agent.id, AgentRequest::PreviewSkip { call_id, reason })
                .await
        }
        Ok(ClientMsg::Disposition {
            call_id,
            code,
            notes,
            callback_at_ms,
            callback_mine,
        }) => {
            let given = crate::campaign::disposition::Given {
                code,
                notes,
                callback_ms: callback_at_ms,
                callback_mine,
            };
            s.hub
                .request(&agent.id, AgentRequest::Disposition { call_id, given })
                .await
        }
        Ok(ClientMsg::HistoryPage {
            pop_id,
            source,
            offset,
            cursor,
        }) => {
            let (s, agent, replies) = (s.clone(), agent.clone(), replies.clone());
            tokio::spawn(async move {
                let msg =
                    super::history_page::page(&s, &agent, locale, pop_id, source, offset, cursor)
                        .await;
                if let Ok(text) = serde_json::to_string(&msg) {
                    let _ = replies.send(Arc::from(text)).await;
                }
            });
        }
        Ok(ClientMsg::Auth { .. }) => {}
        Err(_) => tracing::debug!(agent = %agent.id, "ignoring a message the page should not send"),
    }
}
