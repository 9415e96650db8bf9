//! The supervisor task: writes commands, and when the socket is lost fails
//! every waiting caller, tells the owner and reconnects with backoff.

use super::handshake::{Conn, establish};
use super::reader::Reader;
use super::{ClientError, EslClientConfig, Request, Routes, SwitchNotice};
use crate::switch::esl::EslEvent;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Why a connection ended.
enum Ended {
    Lost(String),
    Shutdown,
}

pub(super) async fn supervise(
    config: EslClientConfig,
    first: Conn,
    mut requests: mpsc::Receiver<Request>,
    notices: mpsc::Sender<SwitchNotice>,
) {
    let mut conn = first;
    loop {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let ended = run_connection(&config, conn, &mut requests, &notices, routes.clone()).await;
        let reason = match ended {
            Ended::Shutdown => return,
            Ended::Lost(reason) => reason,
        };
        tracing::warn!(addr = %config.addr, %reason, "ESL connection lost; reconnecting");
        if let Ok(mut r) = routes.lock() {
            r.fail_all(&ClientError::ConnectionLost(reason.clone()));
        }
        if notices
            .send(SwitchNotice::Disconnected { reason })
            .await
            .is_err()
        {
            return;
        }
        match reconnect(&config, &mut requests).await {
            Ok((c, early)) => {
                tracing::info!(addr = %config.addr, "ESL connection re-established");
                if notices
                    .send(SwitchNotice::Connected { reconnect: true })
                    .await
                    .is_err()
                {
                    return;
                }
                for ev in early {
                    let _ = notices.send(SwitchNotice::Event(ev)).await;
                }
                conn = c;
            }
            Err(Some(fatal)) => {
                tracing::error!(addr = %config.addr, error = %fatal, "ESL client gives up");
                let _ = notices.send(SwitchNotice::Fatal(fatal)).await;
                return;
            }
            Err(None) => return,
        }
    }
}

/// Retries with exponential backoff and jitter until connected, a fatal
/// error, or shutdown (`Err(None)`). Commands sent meanwhile fail at once.
async fn reconnect(
    config: &EslClientConfig,
    requests: &mut mpsc::Receiver<Request>,
) -> Result<(Conn, Vec<EslEvent>), Option<ClientError>> {
    let mut ceiling = config.backoff_initial;
    loop {
        let wait = crate::switch::backoff::jittered(ceiling);
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                req = requests.recv() => match req {
                    Some(Request::Command { reply, job, .. }) => {
                        let _ = reply.send(Err(ClientError::NotConnected));
                        if let Some((_, j)) = job {
                            let _ = j.send(Err(ClientError::NotConnected));
                        }
                    }
                    Some(Request::Shutdown) | None => return Err(None),
                },
            }
        }
        match establish(config).await {
            Ok(c) => return Ok(c),
            Err(e) if e.is_fatal() => return Err(Some(e)),
            Err(e) => tracing::debug!(error = %e, "reconnect attempt failed"),
        }
        ceiling = crate::switch::backoff::next_ceiling(ceiling, config.backoff_max);
    }
}

async fn run_connection(
    config: &EslClientConfig,
    conn: Conn,
    requests: &mut mpsc::Receiver<Request>,
    notices: &mpsc::Sender<SwitchNotice>,
    routes: Arc<Mutex<Routes>>,
) -> Ended {
    let Conn { side, mut write } = conn;
    let reader = Reader {
        side,
        routes: routes.clone(),
        notices: notices.clone(),
        liveness: config.liveness_timeout,
    };
    let mut reader = tokio::spawn(reader.run());
    loop {
        tokio::select! {
            done = &mut reader => {
                return Ended::Lost(done.unwrap_or_else(|e| format!("reader task failed: {e}")));
            }
            req = requests.recv() => match req {
                Some(Request::Command { cmd, reply, job }) => {
                    let wire = match cmd.to_wire() {
                        Ok(w) => w,
                        Err(e) => {
                            let _ = reply.send(Err(e.into()));
                            continue;
                        }
                    };
                    // Register before writing: the reply (or job result) can
                    // arrive as soon as the bytes leave.
                    if let Ok(mut r) = routes.lock() {
                        let job_id = job.map(|(id, tx)| {
                            r.jobs.insert(id.clone(), tx);
                            id
                        });
                        r.replies.push_back((reply, job_id));
                    }
                    if let Err(e) = write.write_all(wire.as_bytes()).await {
                        reader.abort();
                        return Ended::Lost(format!("write failed: {e}"));
                    }
                }
                Some(Request::Shutdown) | None => {
                    let _ = write.write_all(b"exit\n\n").await;
                    reader.abort();
                    if let Ok(mut r) = routes.lock() {
                        r.fail_all(&ClientError::Stopped);
                    }
                    return Ended::Shutdown;
                }
            }
        }
    }
}
