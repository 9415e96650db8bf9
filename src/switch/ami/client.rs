//! The AMI client: login, ActionID-correlated actions (single responses and
//! event lists), events to one ordered channel, liveness by Ping, and
//! reconnection with backoff. A lost connection fails every waiting action
//! at once; the owner of call state rebuilds from `CoreShowChannels`.

use super::codec::encode_action;
use super::frame::{AmiMessage, AmiPacket, PacketKind};
use super::{AmiClientCodec, AmiError};
use bytes::BytesMut;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Decoder;

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

/// Who waits for which ActionID.
enum Waiter {
    /// One Response.
    Single(oneshot::Sender<Reply>),
    /// A Response with `EventList: start`, then events up to the one with
    /// `EventList: Complete`.
    List(Vec<AmiPacket>, oneshot::Sender<Reply>),
}

#[derive(Default)]
struct Routes {
    waiting: HashMap<String, Waiter>,
}

impl Routes {
    fn fail_all(&mut self, err: &AmiClientError) {
        for (_, w) in self.waiting.drain() {
            let tx = match w {
                Waiter::Single(tx) | Waiter::List(_, tx) => tx,
            };
            let _ = tx.send(Err(err.clone()));
        }
    }

    /// Routes a packet to its waiter; returns it if nobody waits for it.
    fn route(&mut self, p: AmiPacket) -> Option<AmiPacket> {
        // Unsolicited events carry no ActionID: they are for the notices.
        let Some(id) = p.get_str("ActionID").map(|s| s.into_owned()) else {
            return Some(p);
        };
        let is_response = matches!(p.kind(), PacketKind::Response(_));
        match self.waiting.remove(&id) {
            Some(Waiter::Single(tx)) if is_response => {
                let _ = tx.send(Ok(vec![p]));
                None
            }
            Some(Waiter::List(mut items, tx)) => {
                let starts = is_response
                    && p.get("EventList")
                        .is_some_and(|v| v.eq_ignore_ascii_case(b"start"));
                let error = is_response && !starts;
                let complete = !is_response
                    && p.get("EventList").is_some_and(|v| {
                        v.eq_ignore_ascii_case(b"complete") || v.eq_ignore_ascii_case(b"cancelled")
                    });
                if error {
                    let _ = tx.send(Ok(vec![p]));
                } else if complete {
                    items.push(p);
                    let _ = tx.send(Ok(items));
                } else {
                    if !starts {
                        items.push(p);
                    }
                    self.waiting.insert(id, Waiter::List(items, tx));
                }
                None
            }
            Some(w) => {
                // An event carrying the ActionID of a single action that is
                // still waiting for its Response (OriginateResponse can come
                // first): keep waiting, and pass the event on.
                self.waiting.insert(id, w);
                Some(p)
            }
            None => Some(p),
        }
    }
}

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

struct ReadSide {
    read: OwnedReadHalf,
    buf: BytesMut,
    codec: AmiClientCodec,
}

impl ReadSide {
    async fn next(&mut self, timeout: Duration) -> Result<Option<AmiMessage>, AmiClientError> {
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

struct Conn {
    side: ReadSide,
    write: OwnedWriteHalf,
}

async fn write_action(
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

async fn establish(config: &AmiClientConfig) -> Result<(Conn, Vec<AmiPacket>), AmiClientError> {
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

enum Ended {
    Lost(String),
    Shutdown,
}

async fn supervise(
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
