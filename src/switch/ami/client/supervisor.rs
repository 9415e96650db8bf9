//! The supervisor task: writes actions and Pings, reads packets to their
//! waiters or the notices, and when the connection is lost fails every
//! waiting action, tells the owner and reconnects with backoff.

use super::handshake::{Conn, establish, write_action};
use super::routes::{Routes, Waiter};
use super::{AmiClientConfig, AmiClientError, AmiNotice, Cmd};
use crate::switch::ami::frame::{AmiMessage, PacketKind};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

enum Ended {
    Lost(String),
    Shutdown,
}

pub(super) async fn supervise(
    config: AmiClientConfig,
    first: Conn,
    mut rx: mpsc::Receiver<Cmd>,
    notices: mpsc::Sender<AmiNotice>,
) {
    let mut conn = first;
    loop {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let reason = match run(&config, conn, &mut rx, &notices, routes.clone()).await {
            Ended::Shutdown => return,
            Ended::Lost(r) => r,
        };
        tracing::warn!(addr = %config.addr, %reason, "AMI connection lost; reconnecting");
        if let Ok(mut r) = routes.lock() {
            r.fail_all(&AmiClientError::ConnectionLost(reason.clone()));
        }
        if notices
            .send(AmiNotice::Disconnected { reason })
            .await
            .is_err()
        {
            return;
        }
        let mut ceiling = config.backoff_initial;
        conn = loop {
            let sleep = tokio::time::sleep(crate::switch::backoff::jittered(ceiling));
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = rx.recv() => match cmd {
                        Some(Cmd::Action(req)) => { let _ = req.reply.send(Err(AmiClientError::NotConnected)); }
                        Some(Cmd::Shutdown) | None => return,
                    },
                }
            }
            match establish(&config).await {
                Ok((c, early)) => {
                    if notices
                        .send(AmiNotice::Connected { reconnect: true })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    for p in early {
                        let _ = notices.send(AmiNotice::Event(p)).await;
                    }
                    break c;
                }
                Err(e) if e.is_fatal() => {
                    let _ = notices.send(AmiNotice::Fatal(e)).await;
                    return;
                }
                Err(e) => tracing::debug!(error = %e, "AMI reconnect attempt failed"),
            }
            ceiling = crate::switch::backoff::next_ceiling(ceiling, config.backoff_max);
        };
    }
}

async fn run(
    config: &AmiClientConfig,
    conn: Conn,
    rx: &mut mpsc::Receiver<Cmd>,
    notices: &mpsc::Sender<AmiNotice>,
    routes: Arc<Mutex<Routes>>,
) -> Ended {
    let Conn {
        mut side,
        mut write,
    } = conn;
    let reader_routes = routes.clone();
    let reader_notices = notices.clone();
    let liveness = config.liveness_timeout;
    let mut reader = tokio::spawn(async move {
        loop {
            let p = match side.next(liveness).await {
                Ok(Some(AmiMessage::Packet(p))) => p,
                Ok(Some(AmiMessage::Banner(_))) => continue,
                Ok(None) => return "Asterisk closed the connection".to_string(),
                Err(e) => return e.to_string(),
            };
            if p.headers.is_empty() {
                continue;
            }
            let unrouted = match reader_routes.lock() {
                Ok(mut r) => r.route(p),
                Err(_) => Some(p),
            };
            if let Some(p) = unrouted
                && matches!(p.kind(), PacketKind::Event(_))
                && reader_notices.send(AmiNotice::Event(p)).await.is_err()
            {
                return "the notice receiver was dropped".to_string();
            }
        }
    });
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.tick().await;
    loop {
        tokio::select! {
            done = &mut reader => return Ended::Lost(done.unwrap_or_else(|e| format!("reader task failed: {e}"))),
            _ = ping.tick() => {
                // The Pong is routed like any reply and dropped: its only job
                // is to make bytes flow, so a dead peer trips the liveness
                // timeout.
                let pairs = vec![("Action".to_string(), "Ping".to_string()), ("ActionID".to_string(), "dialpop-ping".to_string())];
                if let Err(e) = write_action(&mut write, &pairs).await {
                    reader.abort();
                    return Ended::Lost(e.to_string());
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Cmd::Action(req)) => {
                    let waiter = if req.list { Waiter::List(Vec::new(), req.reply) } else { Waiter::Single(req.reply) };
                    if let Ok(mut r) = routes.lock() {
                        r.waiting.insert(req.action_id.clone(), waiter);
                    }
                    if let Err(e) = write_action(&mut write, &req.pairs).await {
                        reader.abort();
                        return Ended::Lost(e.to_string());
                    }
                }
                Some(Cmd::Shutdown) | None => {
                    let pairs = vec![("Action".to_string(), "Logoff".to_string())];
                    let _ = write_action(&mut write, &pairs).await;
                    reader.abort();
                    if let Ok(mut r) = routes.lock() {
                        r.fail_all(&AmiClientError::Stopped);
                    }
                    return Ended::Shutdown;
                }
            }
        }
    }
}
