//! The reader task: owns the read half, routes replies to the callers
//! waiting for them and forwards events, in order, as notices.

use super::handshake::READ_CHUNK;
use super::{ClientError, Response, Routes, SwitchNotice};
use crate::switch::esl::EslClientCodec;
use crate::switch::esl::frame::EslFrame;
use crate::switch::esl::mapping::job_result;
use crate::switch::esl::message::EslMessage;
use bytes::BytesMut;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio_util::codec::Decoder;

pub(super) struct Reader {
    pub(super) side: ReadSide,
    pub(super) routes: Arc<Mutex<Routes>>,
    pub(super) notices: mpsc::Sender<SwitchNotice>,
    pub(super) liveness: Duration,
}

impl Reader {
    /// Runs until the connection ends; returns why.
    pub(super) async fn run(self) -> String {
        let Reader {
            mut side,
            routes,
            notices,
            liveness,
        } = self;
        loop {
            let frame = match side.next_frame(liveness).await {
                Ok(Some(f)) => f,
                Ok(None) => return "FreeSWITCH closed the connection".into(),
                Err(e) => return e.to_string(),
            };
            let msg = match EslMessage::from_frame(frame) {
                Ok(m) => m,
                Err(e) => return format!("unreadable frame: {e}"),
            };
            match msg {
                EslMessage::CommandReply { reply, .. } => {
                    deliver(&routes, Ok(Response::Reply { reply }))
                }
                EslMessage::ApiResponse { body } => deliver(&routes, Ok(Response::Api { body })),
                EslMessage::Event(ev) => {
                    if let Some(job) = job_result(&ev) {
                        let waiting = routes
                            .lock()
                            .ok()
                            .and_then(|mut r| r.jobs.remove(&job.job_uuid));
                        if let Some(tx) = waiting {
                            let _ = tx.send(Ok(job));
                        }
                    }
                    if notices.send(SwitchNotice::Event(ev)).await.is_err() {
                        return "the notice receiver was dropped".into();
                    }
                }
                EslMessage::Disconnect { headers, text } => {
                    // A lingering socket stays open and keeps sending events.
                    if headers.get("Content-Disposition") != Some(b"linger") {
                        return format!(
                            "FreeSWITCH disconnected: {}",
                            String::from_utf8_lossy(&text).trim()
                        );
                    }
                }
                EslMessage::AuthRequest => {
                    return "unexpected auth/request on an authenticated connection".into();
                }
                EslMessage::RudeRejection { text } => {
                    return format!("rejected: {}", String::from_utf8_lossy(&text).trim());
                }
                EslMessage::Log { .. } | EslMessage::Other(_) => {}
            }
        }
    }
}

/// The read half with its buffer: used by the handshake, then handed to the
/// reader task with whatever bytes it had already buffered.
pub(super) struct ReadSide {
    pub(super) read: OwnedReadHalf,
    pub(super) buf: BytesMut,
    pub(super) codec: EslClientCodec,
}

impl ReadSide {
    /// The next frame, reading in large chunks as needed; `Ok(None)` is a
    /// clean EOF.
    pub(super) async fn next_frame(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<EslFrame>, ClientError> {
        loop {
            if let Some(frame) = self.codec.decode(&mut self.buf)? {
                return Ok(Some(frame));
            }
            // An event is 2-10 KB; one syscall per event would cap the rate.
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            let n = tokio::time::timeout(timeout, self.read.read_buf(&mut self.buf))
                .await
                .map_err(|_| {
                    ClientError::ConnectionLost(format!("nothing received for {timeout:?}"))
                })?
                .map_err(|e| ClientError::ConnectionLost(e.to_string()))?;
            if n == 0 {
                return self.codec.decode_eof(&mut self.buf).map_err(Into::into);
            }
        }
    }
}

fn deliver(routes: &Arc<Mutex<Routes>>, response: Result<Response, ClientError>) {
    let refused = matches!(&response, Ok(Response::Reply { reply }) if !reply.ok);
    let waiting = routes.lock().ok().and_then(|mut r| {
        let (tx, job) = r.replies.pop_front()?;
        if let (true, Some(job)) = (refused, job) {
            r.jobs.remove(&job);
        }
        Some(tx)
    });
    match waiting {
        Some(tx) => {
            let _ = tx.send(response);
        }
        None => tracing::warn!("reply from FreeSWITCH with no command waiting for it"),
    }
}
