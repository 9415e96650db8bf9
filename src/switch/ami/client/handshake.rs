//! Opening a connection: connect, the banner and the login (plain, or by
//! MD5 challenge), keeping the events that slip in before the reply; and
//! the read and write halves the connection then runs on.

use super::{AmiClientConfig, AmiClientError};
use crate::switch::ami::AmiClientCodec;
use crate::switch::ami::codec::encode_action;
use crate::switch::ami::frame::{AmiMessage, AmiPacket, PacketKind};
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::Decoder;

pub(super) struct ReadSide {
    read: OwnedReadHalf,
    buf: BytesMut,
    codec: AmiClientCodec,
}

impl ReadSide {
    pub(super) async fn next(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<AmiMessage>, AmiClientError> {
        loop {
            if let Some(m) = self.codec.decode(&mut self.buf)? {
                return Ok(Some(m));
            }
            // Large reads: one syscall per small AMI packet would cap the rate.
            if self.buf.capacity() - self.buf.len() < 256 * 1024 {
                self.buf.reserve(1024 * 1024);
            }
            let n = tokio::time::timeout(timeout, self.read.read_buf(&mut self.buf))
                .await
                .map_err(|_| {
                    AmiClientError::ConnectionLost(format!("nothing received for {timeout:?}"))
                })?
                .map_err(|e| AmiClientError::ConnectionLost(e.to_string()))?;
            if n == 0 {
                return self.codec.decode_eof(&mut self.buf).map_err(Into::into);
            }
        }
    }
}

pub(super) struct Conn {
    pub(super) side: ReadSide,
    pub(super) write: OwnedWriteHalf,
}

pub(super) async fn write_action(
    w: &mut OwnedWriteHalf,
    pairs: &[(String, String)],
) -> Result<(), AmiClientError> {
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut buf = BytesMut::new();
    encode_action(&borrowed, &mut buf)?;
    w.write_all(&buf)
        .await
        .map_err(|e| AmiClientError::ConnectionLost(e.to_string()))
}

pub(super) async fn establish(
    config: &AmiClientConfig,
) -> Result<(Conn, Vec<AmiPacket>), AmiClientError> {
    let addr = config.addr.clone();
    let err = |reason: String| AmiClientError::Connect {
        addr: addr.clone(),
        reason,
    };
    let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(&config.addr))
        .await
        .map_err(|_| err(format!("no answer within {:?}", config.connect_timeout)))?
        .map_err(|e| err(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut side = ReadSide {
        read,
        buf: BytesMut::with_capacity(256 * 1024),
        codec: AmiClientCodec::default(),
    };
    match side.next(config.connect_timeout).await? {
        Some(AmiMessage::Banner(b)) if b.starts_with("Asterisk Call Manager/") => {}
        other => return Err(err(format!("expected the AMI banner, got {other:?}"))),
    }
    let mut early = Vec::new();
    let mut login = vec![
        ("Action".to_string(), "Login".to_string()),
        ("ActionID".to_string(), "dialpop-login".to_string()),
        ("Username".to_string(), config.username.clone()),
    ];
    if config.md5 {
        let challenge = [
            ("Action".to_string(), "Challenge".to_string()),
            ("ActionID".to_string(), "dialpop-challenge".to_string()),
            ("AuthType".to_string(), "MD5".to_string()),
        ];
        write_action(&mut write, &challenge).await?;
        let value = loop {
            match side.next(config.connect_timeout).await? {
                Some(AmiMessage::Packet(p)) if p.get("ActionID") == Some(b"dialpop-challenge") => {
                    match p.get_str("Challenge") {
                        Some(c) if !c.is_empty() => break c.into_owned(),
                        _ => {
                            return Err(AmiClientError::LoginRejected {
                                addr,
                                message: format!(
                                    "no MD5 challenge: {}",
                                    p.get_str("Message").unwrap_or_default()
                                ),
                            });
                        }
                    }
                }
                Some(AmiMessage::Packet(p)) if matches!(p.kind(), PacketKind::Event(_)) => {
                    early.push(p)
                }
                Some(_) => {}
                None => return Err(AmiClientError::ConnectionLost("closed during login".into())),
            }
        };
        login.push(("AuthType".into(), "MD5".into()));
        login.push(("Key".into(), md5_key(&value, config.secret.expose())));
    } else {
        login.push(("Secret".into(), config.secret.expose().to_string()));
    }
    login.push(("Events".into(), config.events.clone()));
    write_action(&mut write, &login).await?;
    loop {
        match side.next(config.connect_timeout).await? {
            Some(AmiMessage::Packet(p)) => match p.kind() {
                PacketKind::Response(r) if p.get("ActionID") == Some(b"dialpop-login") => {
                    if r.eq_ignore_ascii_case("Success") {
                        break;
                    }
                    return Err(AmiClientError::LoginRejected {
                        addr,
                        message: p.get_str("Message").unwrap_or_default().into_owned(),
                    });
                }
                PacketKind::Event(_) => early.push(p),
                _ => {}
            },
            Some(AmiMessage::Banner(_)) => {}
            None => return Err(AmiClientError::ConnectionLost("closed during login".into())),
        }
    }
    Ok((Conn { side, write }, early))
}

/// `md5(challenge + secret)` in lower-case hex, as manager.c expects.
pub fn md5_key(challenge: &str, secret: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(format!("{challenge}{secret}").as_bytes()))
}
