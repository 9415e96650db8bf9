//! The AMI client: login, ActionID-correlated actions (single responses and
//! event lists), events to one ordered channel, liveness by Ping, and
//! reconnection with backoff. A lost connection fails every waiting action
//! at once; the owner of call state rebuilds from `CoreShowChannels`.

mod handshake;
mod routes;
mod supervisor;

use super::AmiError;
use super::codec::encode_action;
use super::frame::{AmiPacket, PacketKind};
use bytes::BytesMut;
use handshake::establish;
pub use handshake::md5_key;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use supervisor::supervise;
use tokio::sync::{mpsc, oneshot};

#[derive(Clone, Debug)]
pub struct AmiClientConfig {
    /// `host:port` (Asterisk's manager.conf, usually 5038).
    pub addr: String,
    pub username: String,
    pub secret: crate::redact::Secret,
    /// Log in with Asterisk's MD5 challenge, so the secret never crosses
    /// the wire.
    pub md5: bool,
    /// `Events:` for Login: the event classes dialpop needs.
    pub events: String,
    pub connect_timeout: Duration,
    /// A Ping goes out this often; AMI has no heartbeat of its own.
    pub ping_interval: Duration,
    /// No byte for this long means the connection is dead.
    pub liveness_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub event_queue: usize,
}

impl AmiClientConfig {
    pub fn new(
        addr: impl Into<String>,
        username: impl Into<String>,
        secret: impl Into<crate::redact::Secret>,
    ) -> Self {
        AmiClientConfig {
            addr: addr.into(),
            username: username.into(),
            secret: secret.into(),
            md5: false,
            // user: the UserEvent of answering-machine detection.
            events: "call,user".into(),
            connect_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(20),
            liveness_timeout: Duration::from_secs(65),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(15),
            event_queue: 16 * 1024,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmiClientError {
    #[error("cannot connect to Asterisk at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("Asterisk at {addr} refused the login: {message}")]
    LoginRejected { addr: String, message: String },
    #[error("connection to Asterisk lost: {0}")]
    ConnectionLost(String),
    #[error("not connected to Asterisk (reconnecting)")]
    NotConnected,
    #[error("the AMI client has stopped")]
    Stopped,
    #[error("Asterisk sent something this client cannot read: {0}")]
    Protocol(String),
    #[error("refused before sending: {0}")]
    Invalid(String),
    #[error("Asterisk answered Error: {0}")]
    Failed(String),
}

impl AmiClientError {
    /// A wrong secret is not retried (it would only feed fail2ban).
    pub fn is_fatal(&self) -> bool {
        matches!(self, AmiClientError::LoginRejected { .. })
    }
}

impl From<AmiError> for AmiClientError {
    fn from(e: AmiError) -> Self {
        match e {
            AmiError::Io(io) => AmiClientError::ConnectionLost(io.to_string()),
            AmiError::Unsendable { .. } => AmiClientError::Invalid(e.to_string()),
            other => AmiClientError::Protocol(other.to_string()),
        }
    }
}

/// What the owner of call state hears, in socket order. The receiver must
/// keep reading (see the ESL client's `SwitchNotice`).
#[derive(Clone, Debug)]
pub enum AmiNotice {
    Event(AmiPacket),
    Connected { reconnect: bool },
    Disconnected { reason: String },
    Fatal(AmiClientError),
}

type Reply = Result<Vec<AmiPacket>, AmiClientError>;

struct Request {
    pairs: Vec<(String, String)>,
    action_id: String,
    list: bool,
    reply: oneshot::Sender<Reply>,
}

enum Cmd {
    Action(Request),
    Shutdown,
}

/// A cloneable handle.
#[derive(Clone)]
pub struct AmiClient {
    tx: mpsc::Sender<Cmd>,
    next_id: Arc<AtomicU64>,
    prefix: Arc<str>,
}

/// One row of `CoreShowChannels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmiChannel {
    pub uniqueid: String,
    pub channel: String,
    pub state: u32,
}

impl AmiClient {
    /// Connects and logs in once (a wrong secret is an error here, not a
    /// retry loop), then keeps the connection up in the background.
    pub async fn connect(
        config: AmiClientConfig,
    ) -> Result<(AmiClient, mpsc::Receiver<AmiNotice>), AmiClientError> {
        let (conn, early) = establish(&config).await?;
        let (notice_tx, notice_rx) = mpsc::channel(config.event_queue.max(16));
        let (tx, rx) = mpsc::channel(1024);
        let _ = notice_tx
            .send(AmiNotice::Connected { reconnect: false })
            .await;
        for p in early {
            let _ = notice_tx.send(AmiNotice::Event(p)).await;
        }
        tokio::spawn(supervise(config, conn, rx, notice_tx));
        // ActionIDs unique across sessions and daemons: every AMI session
        // sees every OriginateResponse (PROTOCOLS.md §5).
        let prefix: Arc<str> = Arc::from(format!(
            "dialpop-{}-",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        Ok((
            AmiClient {
                tx,
                next_id: Arc::new(AtomicU64::new(1)),
                prefix,
            },
            notice_rx,
        ))
    }

    pub fn next_action_id(&self) -> String {
        format!(
            "{}{}",
            self.prefix,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Sends an action (the ActionID is added) and returns its Response, or
    /// for `list` actions the Response's events up to the completing one.
    pub async fn action(
        &self,
        pairs: Vec<(String, String)>,
        list: bool,
    ) -> Result<Vec<AmiPacket>, AmiClientError> {
        let action_id = self.next_action_id();
        self.action_with_id(pairs, action_id, list).await
    }

    pub async fn action_with_id(
        &self,
        mut pairs: Vec<(String, String)>,
        action_id: String,
        list: bool,
    ) -> Result<Vec<AmiPacket>, AmiClientError> {
        pairs.insert(1.min(pairs.len()), ("ActionID".into(), action_id.clone()));
        // Checked before queueing: a bad value never reaches the writer.
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        encode_action(&borrowed, &mut BytesMut::new())?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Action(Request {
                pairs,
                action_id,
                list,
                reply,
            }))
            .await
            .map_err(|_| AmiClientError::Stopped)?;
        rx.await.unwrap_or(Err(AmiClientError::Stopped))
    }

    /// The live channels, for rebuilding call state.
    pub async fn core_show_channels(&self) -> Result<Vec<AmiChannel>, AmiClientError> {
        let packets = self
            .action(vec![("Action".into(), "CoreShowChannels".into())], true)
            .await?;
        if let Some(p) = packets.first().filter(
            |p| matches!(p.kind(), PacketKind::Response(ref r) if r.eq_ignore_ascii_case("Error")),
        ) {
            return Err(AmiClientError::Failed(
                p.get_str("Message").unwrap_or_default().into_owned(),
            ));
        }
        Ok(packets
            .iter()
            .filter(|p| matches!(p.kind(), PacketKind::Event(ref e) if e == "CoreShowChannel"))
            .filter_map(|p| {
                Some(AmiChannel {
                    uniqueid: p.get_str("Uniqueid")?.into_owned(),
                    channel: p.get_str("Channel").unwrap_or_default().into_owned(),
                    state: p
                        .get_str("ChannelState")
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(0),
                })
            })
            .collect())
    }

    /// Logs off and stops reconnecting.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Cmd::Shutdown).await;
    }
}

/// Whether a single Response says Success.
pub fn response_ok(packets: &[AmiPacket]) -> Result<(), AmiClientError> {
    match packets.first().map(AmiPacket::kind) {
        Some(PacketKind::Response(r)) if r.eq_ignore_ascii_case("Success") => Ok(()),
        _ => Err(AmiClientError::Failed(
            packets
                .first()
                .and_then(|p| p.get_str("Message"))
                .unwrap_or_default()
                .into_owned(),
        )),
    }
}
