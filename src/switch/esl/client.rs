//! The inbound ESL client.
//!
//! One supervisor task owns the connection: it writes commands, and a reader
//! task it spawns per connection owns the read half, routes replies to the
//! callers waiting for them (FreeSWITCH answers commands in order) and
//! forwards events, in order, to one channel of `SwitchNotice`s. When the
//! socket is lost every waiting caller fails at once, the owner of the call
//! state is told (`Disconnected`, then `Connected { reconnect: true }`) and
//! must rebuild its calls with `live_channels()`, because FreeSWITCH does
//! not replay the events of the gap.

use super::command::{EslCommand, EventFormat, Originate, OriginateTarget};
use super::frame::{DEFAULT_MAX_CONTENT_LENGTH, EslFrame};
use super::mapping::{JobResult, job_result};
use super::message::{EslMessage, Reply};
use super::{EslClientCodec, EslError, EslEvent};
use crate::switch::call::{AnswerAction, OriginateRequest};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Decoder;

/// The events dialpop needs, and no more: a session subscribed to ALL carries
/// about 130 KB per call.
pub const DIALPOP_EVENTS: &[&str] = &[
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
    "BACKGROUND_JOB",
    "HEARTBEAT",
    // Every word after CUSTOM is a subclass, so it comes last: the verdict
    // of answering-machine detection, fired by dialplan/freeswitch's
    // holding extension.
    "CUSTOM",
    super::mapping::AMD_SUBCLASS,
];

#[derive(Clone, Debug)]
pub struct EslClientConfig {
    /// `host:port` of the event socket.
    pub addr: String,
    pub password: crate::redact::Secret,
    pub events: Vec<String>,
    pub connect_timeout: Duration,
    /// No byte from the switch for this long means the connection is dead.
    /// FreeSWITCH sends HEARTBEAT every 20 s by default.
    pub liveness_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub max_content_length: usize,
    /// Events buffered for a slow consumer before the reader waits (and TCP
    /// pushes back on the switch); never dropped.
    pub event_queue: usize,
}

impl EslClientConfig {
    pub fn new(addr: impl Into<String>, password: impl Into<crate::redact::Secret>) -> Self {
        EslClientConfig {
            addr: addr.into(),
            password: password.into(),
            events: DIALPOP_EVENTS.iter().map(|s| s.to_string()).collect(),
            connect_timeout: Duration::from_secs(5),
            liveness_timeout: Duration::from_secs(65),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(15),
            max_content_length: DEFAULT_MAX_CONTENT_LENGTH,
            event_queue: 16 * 1024,
        }
    }
}

/// What can go wrong talking to FreeSWITCH. Cloneable so that one lost
/// connection can fail every waiting caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to FreeSWITCH at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("FreeSWITCH at {addr} refused the password: -ERR {text}")]
    AuthRejected { addr: String, text: String },
    #[error("FreeSWITCH at {addr} rejected this client (ACL): {text}")]
    RudeRejection { addr: String, text: String },
    #[error("FreeSWITCH at {addr} refused the event subscription: -ERR {text}")]
    SubscriptionRefused { addr: String, text: String },
    #[error("connection to FreeSWITCH lost: {0}")]
    ConnectionLost(String),
    #[error("not connected to FreeSWITCH (reconnecting)")]
    NotConnected,
    #[error("the ESL client has stopped")]
    Stopped,
    #[error("FreeSWITCH sent something this client cannot read: {0}")]
    Protocol(String),
    #[error("refused before sending: {0}")]
    Invalid(String),
    #[error("FreeSWITCH answered -ERR {0}")]
    Failed(String),
}

impl ClientError {
    /// Errors that another attempt cannot fix: retrying them would only
    /// hammer the switch (and, for a wrong password, its fail2ban).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ClientError::AuthRejected { .. }
                | ClientError::RudeRejection { .. }
                | ClientError::SubscriptionRefused { .. }
        )
    }
}

impl From<EslError> for ClientError {
    fn from(e: EslError) -> Self {
        match e {
            EslError::Io(io) => ClientError::ConnectionLost(io.to_string()),
            EslError::Unsendable { .. } => ClientError::Invalid(e.to_string()),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

/// What the owner of call state hears from the client, in socket order.
///
/// The receiver must keep reading: when its queue is full the reader waits,
/// and with it the replies to commands. A loop that reads notices must not
/// await a command's reply inline (spawn it, as the call manager does).
#[derive(Clone, Debug)]
pub enum SwitchNotice {
    Event(EslEvent),
    /// A connection is up, authenticated and subscribed. After a reconnect
    /// the owner must rebuild its calls before dialing again.
    Connected {
        reconnect: bool,
    },
    Disconnected {
        reason: String,
    },
    /// The client gave up (wrong password, ACL, refused subscription).
    Fatal(ClientError),
}

/// A reply to a command, as FreeSWITCH sent it.
#[derive(Clone, Debug)]
enum Response {
    Reply { reply: Reply },
    Api { body: Bytes },
}

type ReplySender = oneshot::Sender<Result<Response, ClientError>>;
type JobSender = oneshot::Sender<Result<JobResult, ClientError>>;

enum Request {
    Command {
        cmd: EslCommand,
        reply: ReplySender,
        /// For bgapi: where the BACKGROUND_JOB result goes.
        job: Option<(String, JobSender)>,
    },
    Shutdown,
}

/// Per-connection routing state shared by the writer and the reader.
#[derive(Default)]
struct Routes {
    /// Callers waiting for a reply, in command order; a bgapi's entry also
    /// names its job, so that a refused bgapi does not leave its job behind.
    replies: VecDeque<(ReplySender, Option<String>)>,
    jobs: HashMap<String, JobSender>,
}

impl Routes {
    fn fail_all(&mut self, err: &ClientError) {
        for (r, _) in self.replies.drain(..) {
            let _ = r.send(Err(err.clone()));
        }
        for (_, j) in self.jobs.drain() {
            let _ = j.send(Err(err.clone()));
        }
    }
}

/// A `bgapi` job: accepted by the switch, its result still to come.
pub struct Job {
    pub job_uuid: String,
    result: oneshot::Receiver<Result<JobResult, ClientError>>,
}

impl Job {
    /// Waits for the BACKGROUND_JOB event. Fails at once if the connection
    /// is lost first.
    pub async fn result(self) -> Result<JobResult, ClientError> {
        self.result.await.unwrap_or(Err(ClientError::Stopped))
    }
}

/// One row of `show channels as json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct LiveChannel {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub dest: String,
    #[serde(default)]
    pub callstate: String,
}

/// Reads `show channels as json` (`{"row_count":0}` when there are none).
pub fn parse_show_channels(body: &[u8]) -> Result<Vec<LiveChannel>, ClientError> {
    #[derive(serde::Deserialize)]
    struct Rows {
        #[serde(default)]
        rows: Vec<LiveChannel>,
    }
    serde_json::from_slice::<Rows>(body)
        .map(|r| r.rows)
        .map_err(|e| {
            ClientError::Protocol(format!(
                "show channels as json: {e}: {}",
                super::printable(body)
            ))
        })
}

/// The ESL originate for a request: the call id becomes `origination_uuid`
/// so that every event of the leg carries it, and is also set as
/// `dialpop_call_id` so that the other legs of the call can be recognised.
pub fn originate_command(req: &OriginateRequest) -> Result<Originate, ClientError> {
    let mut variables = vec![
        ("origination_uuid".to_string(), req.call_id.to_string()),
        ("dialpop_call_id".to_string(), req.call_id.to_string()),
        (
            "originate_timeout".to_string(),
            req.timeout.as_secs().max(1).to_string(),
        ),
        ("ignore_early_media".to_string(), "true".to_string()),
    ];
    if let Some(n) = &req.caller_id_number {
        variables.push(("origination_caller_id_number".into(), n.clone()));
    }
    if let Some(n) = &req.caller_id_name {
        variables.push(("origination_caller_id_name".into(), n.clone()));
    }
    variables.extend(req.variables.iter().cloned());
    let target = match &req.on_answer {
        AnswerAction::Park => OriginateTarget::App {
            name: "park".into(),
            arg: String::new(),
        },
        AnswerAction::Bridge { dial_string } => {
            variables.push(("hangup_after_bridge".into(), "true".into()));
            OriginateTarget::App {
                name: "bridge".into(),
                arg: dial_string.clone(),
            }
        }
        AnswerAction::Dialplan { extension, context } => OriginateTarget::Extension {
            exten: extension.clone(),
            dialplan: Some("XML".into()),
            context: Some(context.clone()),
        },
    };
    let o = Originate {
        variables,
        dial_string: req.destination.clone(),
        target,
    };
    o.validate()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    Ok(o)
}

/// A cloneable handle on the client.
#[derive(Clone)]
pub struct EslClient {
    requests: mpsc::Sender<Request>,
}

impl EslClient {
    /// Connects, authenticates and subscribes once (so that a wrong password
    /// is an error here, not a retry loop), then keeps the connection up in
    /// the background. Returns the handle and the notices.
    pub async fn connect(
        config: EslClientConfig,
    ) -> Result<(EslClient, mpsc::Receiver<SwitchNotice>), ClientError> {
        let (conn, early_events) = establish(&config).await?;
        let (notice_tx, notice_rx) = mpsc::channel(config.event_queue.max(16));
        let (req_tx, req_rx) = mpsc::channel(1024);
        let _ = notice_tx
            .send(SwitchNotice::Connected { reconnect: false })
            .await;
        for ev in early_events {
            let _ = notice_tx.send(SwitchNotice::Event(ev)).await;
        }
        tokio::spawn(supervise(config, conn, req_rx, notice_tx));
        Ok((EslClient { requests: req_tx }, notice_rx))
    }

    async fn request(
        &self,
        cmd: EslCommand,
        job: Option<(String, JobSender)>,
    ) -> Result<Response, ClientError> {
        // Check before queueing, so a bad value never reaches the writer.
        cmd.to_wire()?;
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Command {
                cmd,
                reply: tx,
                job,
            })
            .await
            .map_err(|_| ClientError::Stopped)?;
        rx.await.unwrap_or(Err(ClientError::Stopped))
    }

    /// Runs `api <command>` and returns its output. FreeSWITCH reports most
    /// failures inside the output (`-ERR ...`); that is left to the caller.
    pub async fn api(&self, command: &str) -> Result<Bytes, ClientError> {
        match self
            .request(
                EslCommand::Api {
                    command: command.to_string(),
                },
                None,
            )
            .await?
        {
            Response::Api { body } => Ok(body),
            Response::Reply { reply } => Err(ClientError::Failed(reply.text)),
        }
    }

    /// Runs `bgapi <command>` under a Job-UUID chosen here, so the result
    /// cannot race the reply.
    pub async fn bgapi(&self, command: &str) -> Result<Job, ClientError> {
        let job_uuid = uuid::Uuid::new_v4();
        let (tx, rx) = oneshot::channel();
        let cmd = EslCommand::BgApi {
            command: command.to_string(),
            job_uuid,
        };
        match self.request(cmd, Some((job_uuid.to_string(), tx))).await? {
            Response::Reply { reply } if reply.ok => Ok(Job {
                job_uuid: job_uuid.to_string(),
                result: rx,
            }),
            Response::Reply { reply } => Err(ClientError::Failed(reply.text)),
            Response::Api { .. } => Err(ClientError::Protocol("api/response to a bgapi".into())),
        }
    }

    /// Places a call. The job's result is `+OK <uuid>` once answered or the
    /// failure cause; the call's events arrive on the notice channel.
    pub async fn originate(&self, req: &OriginateRequest) -> Result<Job, ClientError> {
        let o = originate_command(req)?;
        self.bgapi(&o.to_string()).await
    }

    /// Hangs up one channel.
    pub async fn hangup(&self, uuid: &str, cause: &str) -> Result<(), ClientError> {
        let word_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !word_ok(uuid) || !word_ok(cause) {
            return Err(ClientError::Invalid(format!(
                "uuid_kill {uuid:?} {cause:?}"
            )));
        }
        let body = self.api(&format!("uuid_kill {uuid} {cause}")).await?;
        let reply = Reply::parse(&body);
        if reply.ok {
            Ok(())
        } else {
            Err(ClientError::Failed(reply.text))
        }
    }

    /// Sends a live channel to a dialplan extension after setting its
    /// variables (checked by `Transfer::validate` first): `uuid_setvar` for
    /// each, then `uuid_transfer`. A channel gone meanwhile fails the step
    /// it is gone at, with FreeSWITCH's words.
    pub async fn transfer(&self, t: &crate::switch::driver::Transfer) -> Result<(), ClientError> {
        t.validate()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        for command in super::mapping::transfer_commands(t) {
            let reply = Reply::parse(&self.api(&command).await?);
            if !reply.ok {
                return Err(ClientError::Failed(reply.text));
            }
        }
        Ok(())
    }

    /// The switch's live channels, for rebuilding call state.
    pub async fn live_channels(&self) -> Result<Vec<LiveChannel>, ClientError> {
        let body = self.api("show channels as json").await?;
        parse_show_channels(&body)
    }

    /// Says goodbye to the switch and stops reconnecting.
    pub async fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown).await;
    }
}

/// An authenticated, subscribed connection.
struct Conn {
    side: ReadSide,
    write: OwnedWriteHalf,
}

const READ_CHUNK: usize = 1024 * 1024;

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

async fn establish(config: &EslClientConfig) -> Result<(Conn, Vec<EslEvent>), ClientError> {
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

/// Why a connection ended.
enum Ended {
    Lost(String),
    Shutdown,
}

async fn supervise(
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

struct Reader {
    side: ReadSide,
    routes: Arc<Mutex<Routes>>,
    notices: mpsc::Sender<SwitchNotice>,
    liveness: Duration,
}

impl Reader {
    /// Runs until the connection ends; returns why.
    async fn run(self) -> String {
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
struct ReadSide {
    read: OwnedReadHalf,
    buf: BytesMut,
    codec: EslClientCodec,
}

impl ReadSide {
    /// The next frame, reading in large chunks as needed; `Ok(None)` is a
    /// clean EOF.
    async fn next_frame(&mut self, timeout: Duration) -> Result<Option<EslFrame>, ClientError> {
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
