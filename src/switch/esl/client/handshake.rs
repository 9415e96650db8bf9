//! Opening a connection: connect, auth and the event subscription, keeping
//! the events that slip in before the replies.

use super::reader::ReadSide;
use super::{ClientError, EslClientConfig};
use crate::switch::esl::command::{EslCommand, EventFormat};
use crate::switch::esl::message::EslMessage;
use crate::switch::esl::{EslClientCodec, EslEvent};
use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// An authenticated, subscribed connection.
pub(super) struct Conn {
    pub(super) side: ReadSide,
    pub(super) write: OwnedWriteHalf,
}

pub(super) const READ_CHUNK: usize = 1024 * 1024;

impl Conn {
    async fn send(&mut self, cmd: &EslCommand) -> Result<(), ClientError> {
        let wire = cmd.to_wire()?;
        self.write
            .write_all(wire.as_bytes())
            .await
            .map_err(|e| ClientError::ConnectionLost(e.to_string()))
    }

    /// Reads until the reply to the command just sent; events that slip in
    /// before it are kept for the caller.
    async fn await_reply(
        &mut self,
        config: &EslClientConfig,
        early: &mut Vec<EslEvent>,
    ) -> Result<EslMessage, ClientError> {
        loop {
            let frame = self
                .side
                .next_frame(config.connect_timeout)
                .await?
                .ok_or_else(|| ClientError::ConnectionLost("closed during the handshake".into()))?;
            match EslMessage::from_frame(frame)? {
                EslMessage::Event(ev) => early.push(ev),
                EslMessage::Log { .. } => {}
                other => return Ok(other),
            }
        }
    }
}

pub(super) async fn establish(
    config: &EslClientConfig,
) -> Result<(Conn, Vec<EslEvent>), ClientError> {
    let addr = config.addr.clone();
    let connect_err = |reason: String| ClientError::Connect {
        addr: addr.clone(),
        reason,
    };
    let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(&config.addr))
        .await
        .map_err(|_| connect_err(format!("no answer within {:?}", config.connect_timeout)))?
        .map_err(|e| connect_err(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut conn = Conn {
        side: ReadSide {
            read,
            buf: BytesMut::with_capacity(READ_CHUNK),
            codec: EslClientCodec::with_max_content_length(config.max_content_length),
        },
        write,
    };
    let mut early = Vec::new();
    match conn.await_reply(config, &mut early).await? {
        EslMessage::AuthRequest => {}
        EslMessage::RudeRejection { text } => {
            return Err(ClientError::RudeRejection {
                addr,
                text: String::from_utf8_lossy(&text).trim().to_string(),
            });
        }
        other => {
            return Err(connect_err(format!(
                "expected auth/request, got {}",
                describe(&other)
            )));
        }
    }
    conn.send(&EslCommand::Auth {
        password: config.password.expose().to_string(),
    })
    .await?;
    match conn.await_reply(config, &mut early).await? {
        EslMessage::CommandReply { reply, .. } if reply.ok => {}
        EslMessage::CommandReply { reply, .. } => {
            return Err(ClientError::AuthRejected {
                addr,
                text: reply.text,
            });
        }
        other => {
            return Err(connect_err(format!(
                "unexpected answer to auth: {}",
                describe(&other)
            )));
        }
    }
    conn.send(&EslCommand::Events {
        format: EventFormat::Plain,
        names: config.events.clone(),
    })
    .await?;
    match conn.await_reply(config, &mut early).await? {
        EslMessage::CommandReply { reply, .. } if reply.ok => {}
        EslMessage::CommandReply { reply, .. } => {
            return Err(ClientError::SubscriptionRefused {
                addr,
                text: reply.text,
            });
        }
        other => {
            return Err(connect_err(format!(
                "unexpected answer to event: {}",
                describe(&other)
            )));
        }
    }
    Ok((conn, early))
}

fn describe(m: &EslMessage) -> String {
    match m {
        EslMessage::AuthRequest => "auth/request".into(),
        EslMessage::CommandReply { reply, .. } => format!("command/reply {:?}", reply.text),
        EslMessage::ApiResponse { .. } => "api/response".into(),
        EslMessage::Event(_) => "an event".into(),
        EslMessage::Log { .. } => "log/data".into(),
        EslMessage::Disconnect { text, .. } => format!(
            "disconnect notice {:?}",
            String::from_utf8_lossy(text).trim()
        ),
        EslMessage::RudeRejection { .. } => "text/rude-rejection".into(),
        EslMessage::Other(f) => format!("{:?}", f.content_type().map(String::from_utf8_lossy)),
    }
}
