//! One agent page over a real WebSocket (tokio-tungstenite): what it
//! receives, in order, and what it sends.

use dialpop::popup::messages::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub struct Page {
    out: mpsc::UnboundedSender<ClientMsg>,
    inbox: mpsc::UnboundedReceiver<ServerMsg>,
}

impl Page {
    /// Connects and signs in with `token`.
    pub async fn open(addr: std::net::SocketAddr, token: &str) -> Page {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/agent"))
            .await
            .expect("websocket connects");
        let (mut tx, mut rx) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<ClientMsg>();
        let (in_tx, inbox) = mpsc::unbounded_channel();
        let auth = serde_json::to_string(&ClientMsg::Auth {
            token: token.into(),
            locale: None,
        })
        .expect("json");
        tx.send(Message::Text(auth.into()))
            .await
            .expect("auth sent");
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    m = out_rx.recv() => match m {
                        Some(m) => {
                            let text = serde_json::to_string(&m).expect("json");
                            if tx.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            let _ = tx.close().await;
                            return;
                        }
                    },
                    m = rx.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            if let Ok(msg) = serde_json::from_str::<ServerMsg>(&t) {
                                let _ = in_tx.send(msg);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                }
            }
        });
        Page { out, inbox }
    }

    pub fn send(&self, m: ClientMsg) {
        self.out.send(m).expect("page open");
    }

    /// The next message `pick` accepts (others are skipped, but pops are
    /// acknowledged as a page does); panics with `what` after `limit`.
    pub async fn wait<T>(
        &mut self,
        what: &str,
        limit: Duration,
        mut pick: impl FnMut(&ServerMsg) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let m = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {limit:?}"))
                .unwrap_or_else(|| panic!("the page closed before {what}"));
            if let ServerMsg::Pop { pop_id, .. } = &m {
                self.send(ClientMsg::Ack {
                    pop_id: pop_id.clone(),
                });
            }
            if let Some(t) = pick(&m) {
                return t;
            }
        }
    }
}
