//! AMI sessions as manager.c runs them (`session_do`, `process_message` and
//! the actions): the banner, Login (plain and MD5), the replies with their
//! exact messages, and, once logged in, every event the session's mask takes,
//! written between the replies.

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

/// `IPV4/TCP/127.0.0.1/5038`, as security events write addresses.
fn address(a: Option<SocketAddr>) -> String {
    match a {
        Some(SocketAddr::V4(v4)) => format!("IPV4/TCP/{}/{}", v4.ip(), v4.port()),
        Some(SocketAddr::V6(v6)) => format!("IPV6/TCP/{}/{}", v6.ip(), v6.port()),
        None => "IPV4/TCP/0.0.0.0/0".into(),
    }
}

/// `2026-11-24T21:05:53.623+0000`.
fn event_tv(micros: i64) -> String {
    use chrono::{Local, TimeZone};
    Local
        .timestamp_micros(micros)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
        .unwrap_or_default()
}

fn hex_md5(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What `ast_channel_get_by_name` and the regex form of `Hangup` find.
enum Pattern {
    Name(String),
    Regex(regex::Regex),
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

    /// `authenticate`: the user, then the MD5 key or the secret.
    fn authenticate(&self, p: &AmiPacket) -> bool {
        let user = header(p, "Username");
        if !user.eq_ignore_ascii_case(&self.core.ami.username) {
            return false;
        }
        let secret = &self.core.password;
        if header(p, "AuthType").eq_ignore_ascii_case("MD5") {
            let key = header(p, "Key");
            match &self.challenge {
                Some(ch) if !key.is_empty() => hex_md5(&format!("{ch}{secret}")) == key,
                _ => false,
            }
        } else {
            header(p, "Secret") == *secret
        }
    }

    async fn login(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        if self.authed {
            return self.ack(id, "Already authenticated").await;
        }
        if !self.authenticate(p) {
            tokio::time::sleep(FAILED_LOGIN_DELAY).await;
            self.write(&response("Error", id, None, Some("Authentication failed")))
                .await?;
            return Ok(Next::Close);
        }
        self.authed = true;
        if let Some(mask) = bus::strings_to_mask(&header(p, "Events")) {
            self.listener.set_mask(mask);
        }
        let mut out =
            BytesMut::from(&response("Success", id, None, Some("Authentication accepted"))[..]);
        if self.listener.mask() & bus::SYSTEM == bus::SYSTEM {
            let up = self.core.started.elapsed().as_secs().to_string();
            let t = self
                .core
                .ami
                .templates
                .get(super::templates::Kind::FullyBooted);
            out.put_slice(&t.render(&[], &[("Uptime", Some(&up)), ("LastReload", Some(&up))]));
        }
        self.write(&out).await?;
        // From now on the session takes events (those before were skipped).
        self.rx = self.pending_rx.take();
        self.core.ami.bus.add(self.listener.clone());
        self.successful_auth();
        Ok(Next::Continue)
    }

    /// The security event every session taking `security` events gets.
    fn successful_auth(&self) {
        let t = self
            .core
            .ami
            .templates
            .get(super::templates::Kind::SuccessfulAuth);
        if !self.core.ami.bus.wants(t.category) {
            return;
        }
        let now = event_tv(clock::now_micros());
        let session_tv = event_tv(self.started_us);
        let session_id = format!("0x7f65{:08x}", 0x1800_0000u64 + self.id * 0x40);
        let bytes = t.render(
            &[],
            &[
                ("EventTV", Some(&now)),
                ("AccountID", Some(&self.core.ami.username)),
                ("SessionID", Some(&session_id)),
                ("LocalAddress", Some(&address(self.local))),
                ("RemoteAddress", Some(&address(self.peer))),
                ("SessionTV", Some(&session_tv)),
            ],
        );
        self.core.ami.bus.dispatch(Arc::new(AmiEvent {
            category: t.category,
            bytes,
        }));
    }

    async fn challenge(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        if !header(p, "AuthType").eq_ignore_ascii_case("MD5") {
            return self.error(id, "Must specify AuthType").await;
        }
        let ch = self
            .challenge
            .get_or_insert_with(|| (rand::random::<u32>() & 0x7fff_ffff).to_string())
            .clone();
        let mut r = String::from("Response: Success\r\n");
        if !id.is_empty() {
            let _ = write!(r, "ActionID: {id}\r\n");
        }
        let _ = write!(r, "Challenge: {ch}\r\n\r\n");
        self.write(r.as_bytes()).await?;
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

    async fn originate(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        let o = match AmiOriginate::from_packet(p) {
            Ok(o) => o,
            Err(msg) => return self.error(id, &msg).await,
        };
        if !o.is_async && o.application.is_empty() && o.priority == 0 {
            return self
                .error(
                    id,
                    "Originate with 'Exten' requires 'Context' and 'Priority'",
                )
                .await;
        }
        match self.core.refusal() {
            Some(crate::switch::sim::Refusal::AmiError { message }) => {
                return self.error(id, &message).await;
            }
            Some(crate::switch::sim::Refusal::AmiNoChannel) if o.is_async => {
                let reply = Reply::Event {
                    action_id: o.action_id.clone(),
                };
                call::refuse(&self.core, &o, reply);
                return self.ack(id, "Originate successfully queued").await;
            }
            _ => {}
        }
        if o.is_async {
            let reply = Reply::Event {
                action_id: o.action_id.clone(),
            };
            // The call's events are queued for this session too, but they
            // are written after this reply (this task writes both).
            call::start(&self.core, o, reply);
            return self.ack(id, "Originate successfully queued").await;
        }
        // Without Async the action waits for the outcome; events queue up
        // meanwhile and follow the reply.
        let (tx, rx) = oneshot::channel();
        call::start(&self.core, o, Reply::Wait(tx));
        let shutdown = self.core.shutdown.clone();
        let answered = tokio::select! {
            r = rx => r.unwrap_or(false),
            _ = shutdown.cancelled() => return Ok(Next::Close),
        };
        if answered {
            self.ack(id, "Originate successfully queued").await
        } else {
            self.error(id, "Originate failed").await
        }
    }

    /// `ast_manager_hangup_helper`.
    async fn hangup(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        let target = header(p, "Channel");
        if target.is_empty() {
            return self.error(id, "No channel specified").await;
        }
        let cause_text = header(p, "Cause");
        // strtol over the whole value, 0..127; anything else hangs up
        // without setting a cause.
        let code = cause_text
            .parse::<u16>()
            .ok()
            .filter(|c| *c <= 127)
            .unwrap_or(0);
        let cause = if code == 0 {
            HangupCause::NormalClearing
        } else {
            HangupCause::from_q850(code)
        };
        let pattern = if let Some(inner) = target.strip_prefix('/') {
            let Some(expr) = inner.strip_suffix('/') else {
                return self
                    .error(id, "Regex format invalid, Channel param should be /regex/")
                    .await;
            };
            match regex::Regex::new(expr) {
                Ok(r) => Pattern::Regex(r),
                Err(_) => {
                    let msg = format!("Regex compile failed on: {target}");
                    return self.error(id, &msg).await;
                }
            }
        } else {
            Pattern::Name(target.clone())
        };
        if let Pattern::Name(name) = &pattern
            && self.core.channel_exists(name)
        {
            // A Uniqueid (what dialpop knows, its ChannelId): no need to
            // list every channel to find it.
            return if self.core.kill(name, cause) {
                self.ack(id, "Channel Hungup").await
            } else {
                self.error(id, "No such channel").await
            };
        }
        let channels: Vec<(String, String)> = self
            .core
            .rows()
            .into_iter()
            .filter_map(|row| {
                let get = |k: &str| row.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                Some((get("Uniqueid")?, get("Channel")?))
            })
            .collect();
        match pattern {
            Pattern::Name(name) => {
                let found = channels
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(&name))
                    .or_else(|| channels.iter().find(|(u, _)| *u == name));
                match found {
                    Some((uniqueid, _)) if self.core.kill(uniqueid, cause) => {
                        self.ack(id, "Channel Hungup").await
                    }
                    _ => self.error(id, "No such channel").await,
                }
            }
            Pattern::Regex(re) => {
                let mut out = String::from_utf8_lossy(&response(
                    "Success",
                    id,
                    Some("start"),
                    Some("Channels hung up will follow"),
                ))
                .into_owned();
                let mut n = 0;
                for (uniqueid, name) in &channels {
                    if !re.is_match(name) || !self.core.kill(uniqueid, cause.clone()) {
                        continue;
                    }
                    n += 1;
                    let _ = write!(out, "Event: ChannelHungup\r\nChannel: {name}\r\n");
                    if !id.is_empty() {
                        let _ = write!(out, "ActionID: {id}\r\n");
                    }
                    out.push_str("\r\n");
                }
                out.push_str(&list_complete("ChannelsHungupListComplete", id, n));
                self.write(out.as_bytes()).await?;
                Ok(Next::Continue)
            }
        }
    }

    /// `action_coreshowchannels`: one CoreShowChannel per channel (the
    /// snapshot, Application, ApplicationData, Duration, BridgeId).
    async fn core_show_channels(&mut self, id: &str) -> std::io::Result<Next> {
        let mut out = String::from_utf8_lossy(&response(
            "Success",
            id,
            Some("start"),
            Some("Channels will follow"),
        ))
        .into_owned();
        let rows = self.core.rows();
        let now = clock::now_micros();
        let mut n = 0;
        for row in &rows {
            let get = |k: &str| {
                row.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            if get("Uniqueid").is_empty() {
                continue;
            }
            out.push_str("Event: CoreShowChannel\r\n");
            if !id.is_empty() {
                let _ = write!(out, "ActionID: {id}\r\n");
            }
            for key in super::templates::SNAPSHOT_KEYS {
                let _ = write!(out, "{key}: {}\r\n", get(key));
            }
            let secs = get("Created")
                .parse::<i64>()
                .map(|c| ((now - c) / 1_000_000).max(0))
                .unwrap_or(0);
            let _ = write!(
                out,
                "Application: {}\r\nApplicationData: {}\r\nDuration: {:02}:{:02}:{:02}\r\nBridgeId: {}\r\n\r\n",
                get("Application"),
                get("ApplicationData"),
                secs / 3600,
                secs % 3600 / 60,
                secs % 60,
                get("BridgeId"),
            );
            n += 1;
        }
        out.push_str(&list_complete("CoreShowChannelsComplete", id, n));
        self.write(out.as_bytes()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::codec::Decoder;

    #[test]
    fn lines_without_a_colon_are_kept_not_fatal() {
        let mut codec = Actions::default();
        let mut buf = BytesMut::from(
            &b"Action: Ping\r\ngarbage here\r\nActionID: 1\r\n\r\nnonsense\r\n\r\n"[..],
        );
        let p = codec.decode(&mut buf).expect("decodes").expect("a packet");
        assert_eq!(header(&p, "Action"), "Ping");
        assert_eq!(header(&p, "ActionID"), "1");
        let p = codec.decode(&mut buf).expect("decodes").expect("a packet");
        assert_eq!(header(&p, "Action"), "");
        assert_eq!(header(&p, "Malformed-Line"), "nonsense");
        assert!(buf.is_empty());
    }

    #[test]
    fn responses_as_astman_writes_them() {
        assert_eq!(
            &response("Success", "login-1", None, Some("Authentication accepted"))[..],
            b"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n"
        );
        assert_eq!(
            &response("Error", "", None, Some("Permission denied"))[..],
            b"Response: Error\r\nMessage: Permission denied\r\n\r\n"
        );
        assert_eq!(
            &response("Success", "7", Some("start"), Some("Channels will follow"))[..],
            b"Response: Success\r\nActionID: 7\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
        );
        assert_eq!(
            list_complete("CoreShowChannelsComplete", "7", 2),
            "Event: CoreShowChannelsComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
        );
        // RFC 1321's test vector.
        assert_eq!(hex_md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
