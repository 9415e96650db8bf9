//! A stand-in for the daemon's agent endpoints, small enough to read at a
//! glance: `GET /agent` serves the embedded page, `/ws/agent` speaks the agent
//! protocol over a real WebSocket. The test decides what the server sends
//! (`send`, `close`) and reads what the page sent back (`next_from_page`).
//!
//! The browser assertions only use `base_url` and these methods, so pointing
//! them at the real daemon means giving them another handle with the same
//! three operations.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

pub const TOKEN: &str = "t-secret";

/// What the test asks the server to do on the page's socket.
enum ToPage {
    Text(String),
    Close(u16),
}

#[derive(Clone)]
struct Shared {
    to_page: Arc<Mutex<mpsc::UnboundedReceiver<ToPage>>>,
    from_page: mpsc::UnboundedSender<Value>,
}

pub struct StubDaemon {
    pub base_url: String,
    to_page: mpsc::UnboundedSender<ToPage>,
    from_page: mpsc::UnboundedReceiver<Value>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StubDaemon {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl StubDaemon {
    pub async fn start() -> StubDaemon {
        let (to_page_tx, to_page_rx) = mpsc::unbounded_channel();
        let (from_page_tx, from_page_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            to_page: Arc::new(Mutex::new(to_page_rx)),
            from_page: from_page_tx,
        };
        let app = Router::new()
            .route("/agent", get(|| async { Html(dialpop::web::agent_page()) }))
            .route("/ws/agent", get(ws_agent))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub daemon");
        let addr: SocketAddr = listener.local_addr().expect("stub daemon address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StubDaemon {
            base_url: format!("http://{addr}"),
            to_page: to_page_tx,
            from_page: from_page_rx,
            server,
        }
    }

    /// Send one JSON text frame to the signed-in page.
    pub fn send(&self, msg: Value) {
        self.send_text(msg.to_string());
    }

    /// Send one text frame exactly as given (serde_json's `Value` sorts object
    /// keys, so a test of field order writes the frame itself).
    pub fn send_text(&self, frame: impl Into<String>) {
        let _ = self.to_page.send(ToPage::Text(frame.into()));
    }

    /// Close the page's socket with `code` (as a server restart or a network cut would).
    pub fn close(&self, code: u16) {
        let _ = self.to_page.send(ToPage::Close(code));
    }

    /// The next JSON message the page sent (auth included), or a panic after `timeout`.
    pub async fn next_from_page(&mut self, timeout: Duration) -> Value {
        match tokio::time::timeout(timeout, self.from_page.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!("stub daemon stopped"),
            Err(_) => panic!("the page sent nothing within {timeout:?}"),
        }
    }

    /// Messages the page sends within `window`, or none.
    pub async fn drain_for(&mut self, window: Duration) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(v)) = tokio::time::timeout_at(deadline, self.from_page.recv()).await {
            got.push(v);
        }
        got
    }
}

async fn ws_agent(ws: WebSocketUpgrade, State(shared): State<Shared>) -> impl IntoResponse {
    ws.on_upgrade(move |socket| agent_session(socket, shared))
}

async fn agent_session(mut socket: WebSocket, shared: Shared) {
    // The first frame must be {"type":"auth","token":…}.
    let first = match tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Value>(t.as_str()).ok(),
        _ => None,
    };
    let Some(first) = first else { return };
    let _ = shared.from_page.send(first.clone());
    let authed = first["type"] == "auth" && first["token"] == TOKEN;
    if !authed {
        let _ = socket
            .send(Message::Text(
                json!({"type": "error", "error": "invalid token"})
                    .to_string()
                    .into(),
            ))
            .await;
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: 4401,
                reason: "invalid token".into(),
            })))
            .await;
        return;
    }
    // One signed-in page at a time takes the test's commands; a reconnecting
    // page waits here until the previous socket has ended, and only then gets
    // its hello, so a page that shows "signed in" is the one commands reach.
    let mut to_page = shared.to_page.lock().await;
    let hello = json!({
        "type": "hello",
        "protocol": dialpop::popup::messages::PROTOCOL,
        "locale": "en",
        "agent": {"id": "a1", "name": "Ana Lima", "extension": "8001"},
        "state": "available",
    });
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }

    loop {
        tokio::select! {
            cmd = to_page.recv() => match cmd {
                Some(ToPage::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        return;
                    }
                }
                Some(ToPage::Close(code)) => {
                    let _ = socket
                        .send(Message::Close(Some(CloseFrame { code, reason: "".into() })))
                        .await;
                    return;
                }
                None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                        let _ = shared.from_page.send(v);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
