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

mod calls;
mod handshake;
mod reader;
mod supervisor;

use super::command::EslCommand;
use super::frame::DEFAULT_MAX_CONTENT_LENGTH;
use super::mapping::JobResult;
use super::message::Reply;
use super::{EslError, EslEvent};
use crate::switch::call::OriginateRequest;
use bytes::Bytes;
pub use calls::{LiveChannel, originate_command, parse_show_channels};
use handshake::establish;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use supervisor::supervise;
use tokio::sync::{mpsc, oneshot};

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
