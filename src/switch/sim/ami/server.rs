//! AMI sessions as manager.c runs them (`session_do`, `process_message` and
//! the actions): the banner, Login (plain and MD5), the replies with their
//! exact messages, and, once logged in, every event the session's mask takes,
//! written between the replies.

mod channels;
mod login;
#[cfg(test)]
mod tests;

use super::bus::{self, AmiEvent, AmiListener};
use super::call::{self, Reply};
use super::originate::{AmiOriginate, header};
use crate::switch::HangupCause;
use crate::switch::ami::{AmiPacket, AmiServerCodec};
use crate::switch::sim::clock;
use crate::switch::sim::core::Core;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use md5::{Digest, Md5};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

/// `AMI_VERSION` of Asterisk 22.
pub const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";
/// manager.conf's `authtimeout` default: an unauthenticated session is
/// closed after this long.
const AUTH_TIMEOUT: Duration = Duration::from_secs(30);
/// `action_login` sleeps this long before it says "Authentication failed".
const FAILED_LOGIN_DELAY: Duration = Duration::from_secs(1);
/// Events written in one go at most (they are queued faster than a socket
/// takes them under load).
const WRITE_BATCH: usize = 64 * 1024;

/// Accepts connections until the switch shuts down.
pub async fn serve(core: Arc<Core>, listener: TcpListener) {
    crate::switch::sim::core::accept_loop(core, listener, "AMI", session).await;
}

async fn session(core: Arc<Core>, sock: TcpStream) {
    let id = core.next_listener_id();
    let token = core.shutdown.child_token();
    core.add_session(id, token.clone());
    tokio::select! {
        // Checked first: once cut, not one more byte goes out.
        biased;
        _ = token.cancelled() => {}
        r = Session::new(core.clone(), sock, id).run() => {
            if let Err(e) = r {
                tracing::debug!(session = id, error = %e, "AMI session ended");
            }
        }
    }
    core.ami.bus.remove(id);
    core.remove_session(id);
}

/// The project's server codec reads actions as Asterisk reads them (a line
/// without a colon is kept as `Malformed-Line: …`, so an action that is
/// nothing but such a line gets "Missing action in request").
type Actions = AmiServerCodec;

/// What to do after an action.
enum Next {
    Continue,
    /// Close the socket (Logoff, failed Login: the action returned -1).
    Close,
}

struct Session {
    core: Arc<Core>,
    id: u64,
    actions: FramedRead<OwnedReadHalf, Actions>,
    out: OwnedWriteHalf,
    listener: Arc<AmiListener>,
    /// The session's events; there only once it is logged in.
    rx: Option<mpsc::UnboundedReceiver<Arc<AmiEvent>>>,
    pending_rx: Option<mpsc::UnboundedReceiver<Arc<AmiEvent>>>,
    authed: bool,
    challenge: Option<String>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    started_us: i64,
}

/// `Response: <kind>`, the ActionID if the action had one, an optional
/// `EventList`, and `Message` (`astman_send_response_full`).
pub fn response(kind: &str, action_id: &str, list: Option<&str>, message: Option<&str>) -> Bytes {
    let mut out = String::with_capacity(96);
    let _ = write!(out, "Response: {kind}\r\n");
    if !action_id.is_empty() {
        let _ = write!(out, "ActionID: {action_id}\r\n");
    }
    if let Some(l) = list {
        let _ = write!(out, "EventList: {l}\r\n");
    }
    if let Some(m) = message {
        let _ = write!(out, "Message: {m}\r\n");
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// `astman_send_list_complete_start` + `_end`.
fn list_complete(event: &str, action_id: &str, count: usize) -> String {
    let mut out = format!("Event: {event}\r\n");
    if !action_id.is_empty() {
        let _ = write!(out, "ActionID: {action_id}\r\n");
    }
    let _ = write!(out, "EventList: Complete\r\nListItems: {count}\r\n\r\n");
    out
}

/// The first non-empty `Action` (`GET_HEADER_SKIP_EMPTY`).
fn action_name(p: &AmiPacket) -> Option<String> {
    p.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(b"Action"))
        .map(|(_, v)| String::from_utf8_lossy(v).trim_start().to_string())
        .find(|v| !v.is_empty())
}

impl Session {
    fn new(core: Arc<Core>, sock: TcpStream, id: u64) -> Session {
        let _ = sock.set_nodelay(true);
        let local = sock.local_addr().ok();
        let peer = sock.peer_addr().ok();
        let (rd, out) = sock.into_split();
        let (listener, rx) = AmiListener::new(id, bus::ALL);
        Session {
            core,
            id,
            actions: FramedRead::new(rd, Actions::default()),
            out,
            listener,
            rx: None,
            pending_rx: Some(rx),
            authed: false,
            challenge: None,
            local,
            peer,
            started_us: clock::now_micros(),
        }
    }

    /// `send_string` with the session's `writetimeout`: a write that makes
    /// no progress for that long ends the session.
    async fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let limit = self.core.ami.write_timeout;
        while !bytes.is_empty() {
            match tokio::time::timeout(limit, self.out.write(bytes)).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "write timed out (the client does not read)",
                    ));
                }
            }
        }
        Ok(())
    }

    async fn run(mut self) -> std::io::Result<()> {
        self.write(BANNER).await?;
        let auth_deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
        loop {
            tokio::select! {
                ev = next_event(&mut self.rx) => {
                    if let Some(ev) = ev {
                        self.write_events(ev).await?;
                    }
                }
                p = self.actions.next() => match p {
                    None => return Ok(()),
                    Some(Err(e)) => {
                        tracing::debug!(session = self.id, error = %e, "malformed action");
                        return Ok(());
                    }
                    Some(Ok(p)) => {
                        if let Next::Close = self.action(&p).await? {
                            let _ = self.out.shutdown().await;
                            return Ok(());
                        }
                        // process_message ends with process_events: what
                        // is queued goes out before the next action is read.
                        if header(&p, "SuppressEvents").is_empty() {
                            self.flush_events().await?;
                        }
                    }
                },
                _ = tokio::time::sleep_until(auth_deadline), if !self.authed => {
                    tracing::debug!(session = self.id, "not logged in within authtimeout");
                    return Ok(());
                }
            }
        }
    }

    /// Writes whatever is queued now.
    async fn flush_events(&mut self) -> std::io::Result<()> {
        while let Some(Ok(first)) = self.rx.as_mut().map(|rx| rx.try_recv()) {
            self.write_events(first).await?;
        }
        Ok(())
    }

    /// Writes `first` and whatever else is queued, in one go.
    async fn write_events(&mut self, first: Arc<AmiEvent>) -> std::io::Result<()> {
        let Some(rx) = self.rx.as_mut() else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&first.bytes[..]);
        while buf.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(ev) => buf.put_slice(&ev.bytes),
                Err(_) => break,
            }
        }
        self.write(&buf).await
    }

    async fn action(&mut self, p: &AmiPacket) -> std::io::Result<Next> {
        let id = header(p, "ActionID");
        let Some(action) = action_name(p) else {
            return self.error(&id, "Missing action in request").await;
        };
        let lower = action.to_ascii_lowercase();
        if !self.authed && !matches!(lower.as_str(), "login" | "logoff" | "challenge") {
            return self.error(&id, "Permission denied").await;
        }
        match lower.as_str() {
            "login" => self.login(p, &id).await,
            "logoff" => {
                let r = response("Goodbye", &id, None, Some("Thanks for all the fish."));
                self.write(&r).await?;
                Ok(Next::Close)
            }
            "challenge" => self.challenge(p, &id).await,
            "ping" => {
                let now = clock::now_micros();
                let mut r = String::from("Response: Success\r\n");
                if !id.is_empty() {
                    let _ = write!(r, "ActionID: {id}\r\n");
                }
                let _ = write!(
                    r,
                    "Ping: Pong\r\nTimestamp: {}.{:06}\r\n\r\n",
                    now / 1_000_000,
                    now % 1_000_000
                );
                self.write(r.as_bytes()).await?;
                Ok(Next::Continue)
            }
            "events" => self.events(p, &id).await,
            "originate" => self.originate(p, &id).await,
            "hangup" => self.hangup(p, &id).await,
            "setvar" => {
                let r = super::actions::setvar(&self.core, p, &id);
                self.write(&r).await?;
                Ok(Next::Continue)
            }
            "redirect" => {
                let r = super::actions::redirect(&self.core, p, &id);
                self.write(&r).await?;
                Ok(Next::Continue)
            }
            "coreshowchannels" => self.core_show_channels(&id).await,
            _ => {
                let msg = format!(
                    "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                );
                self.error(&id, &msg).await
            }
        }
    }

    async fn error(&mut self, id: &str, message: &str) -> std::io::Result<Next> {
        self.write(&response("Error", id, None, Some(message)))
            .await?;
        Ok(Next::Continue)
    }

    async fn ack(&mut self, id: &str, message: &str) -> std::io::Result<Next> {
        self.write(&response("Success", id, None, Some(message)))
            .await?;
        Ok(Next::Continue)
    }

    /// `action_events`: `Events: On`/`Off` after ActionID, no Message.
    async fn events(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        let Some(mask) = bus::strings_to_mask(&header(p, "EventMask")) else {
            return self.error(id, "Invalid event mask").await;
        };
        self.listener.set_mask(mask);
        let mut r = String::from("Response: Success\r\n");
        if !id.is_empty() {
            let _ = write!(r, "ActionID: {id}\r\n");
        }
        r.push_str(if mask > 0 {
            "Events: On\r\n\r\n"
        } else {
            "Events: Off\r\n\r\n"
        });
        self.write(r.as_bytes()).await?;
        Ok(Next::Continue)
    }
}

async fn next_event(
    rx: &mut Option<mpsc::UnboundedReceiver<Arc<AmiEvent>>>,
) -> Option<Arc<AmiEvent>> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}
