//! Inbound ESL sessions as mod_event_socket runs them (`listener_run`,
//! `parse_command`, `api_exec`): the `auth/request` greeting, the commands
//! with their exact replies, and the listener's queued events written
//! between commands. An `api` command blocks its session until it is done,
//! as it does in FreeSWITCH, so events that arrive meanwhile wait in the
//! queue and follow the reply.

use super::api::{self, ApiRun, Job};
use super::bus::{Listener, SimEvent, event_id, lock};
use super::core::Core;
use super::wire;
use crate::switch::esl::command::ClientCommand;
use crate::switch::esl::event::EslEvent;
use crate::switch::esl::{EslServerCodec, EventFormat};
use crate::switch::headers::Headers;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

/// Accepts connections until the switch shuts down.
pub async fn serve(core: Arc<Core>, listener: TcpListener) {
    crate::switch::sim::core::accept_loop(core, listener, "ESL", session).await;
}

async fn session(core: Arc<Core>, sock: TcpStream) {
    let id = core.next_listener_id();
    let token = core.shutdown.child_token();
    core.add_session(id, token.clone());
    let (listener, rx) = Listener::new(id);
    core.bus.add(listener.clone());
    // Cancelling the token drops the socket at once, mid-frame if need be:
    // that is what a network cut looks like to the client.
    tokio::select! {
        // Checked first: once cut, not one more byte goes out.
        biased;
        _ = token.cancelled() => {}
        r = Session::new(core.clone(), sock, listener, rx).run() => {
            if let Err(e) = r {
                tracing::debug!(session = id, error = %e, "ESL session ended");
            }
        }
    }
    core.bus.remove(id);
    core.remove_session(id);
}

/// What to do after a command.
enum Next {
    Continue,
    /// Send the goodbye notice and close (`exit`, failed `auth`).
    Close,
}

struct Session {
    core: Arc<Core>,
    cmds: FramedRead<tokio::net::tcp::OwnedReadHalf, EslServerCodec>,
    out: OwnedWriteHalf,
    listener: Arc<Listener>,
    rx: tokio::sync::mpsc::Receiver<Arc<SimEvent>>,
    authed: bool,
    logging: bool,
}

/// mod_event_socket's `strip_cr`: the command ends at the first CR or LF.
fn strip_cr(s: &str) -> &str {
    s.split(['\r', '\n']).next().unwrap_or("")
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn log_level(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return (n <= 7).then_some(n);
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "console" => 0,
        "alert" => 1,
        "crit" => 2,
        "err" | "error" => 3,
        "warning" => 4,
        "notice" => 5,
        "info" => 6,
        "debug" => 7,
        _ => return None,
    })
}

/// The channel events `myevents` subscribes to.
const MYEVENTS: &[&str] = &[
    "CHANNEL_ANSWER",
    "CHANNEL_APPLICATION",
    "CHANNEL_BRIDGE",
    "CHANNEL_CREATE",
    "CHANNEL_DATA",
    "CHANNEL_DESTROY",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_UNPARK",
    "DETECTED_SPEECH",
    "DTMF",
    "NOTALK",
    "TALK",
];

impl Session {
    fn new(
        core: Arc<Core>,
        sock: TcpStream,
        listener: Arc<Listener>,
        rx: tokio::sync::mpsc::Receiver<Arc<SimEvent>>,
    ) -> Session {
        // mod_event_socket sets TCP_NODELAY on every listener socket.
        let _ = sock.set_nodelay(true);
        let (rd, out) = sock.into_split();
        Session {
            core,
            cmds: FramedRead::new(rd, EslServerCodec),
            out,
            listener,
            rx,
            authed: false,
            logging: false,
        }
    }

    /// Writes a frame unless the listener is killed meanwhile (a client
    /// that does not read would otherwise hold the write forever).
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        tokio::select! {
            r = self.out.write_all(bytes) => r,
            _ = self.listener.killed.cancelled() => Err(std::io::Error::other("listener killed")),
        }
    }

    async fn goodbye(&mut self, text: &str) {
        let notice = wire::disconnect_notice(text);
        let _ = tokio::time::timeout(Duration::from_millis(200), self.out.write_all(&notice)).await;
        let _ = self.out.shutdown().await;
    }

    async fn run(mut self) -> std::io::Result<()> {
        self.out.write_all(wire::AUTH_REQUEST).await?;
        loop {
            tokio::select! {
                _ = self.listener.killed.cancelled() => {
                    tracing::warn!(session = self.listener.id, "killed listener because of lost events");
                    self.goodbye(wire::LOST_EVENTS).await;
                    return Ok(());
                }
                ev = self.rx.recv() => {
                    if let Some(ev) = ev {
                        let format = lock(&self.listener.sub).format;
                        self.write(&ev.frame(format)).await?;
                    }
                }
                cmd = self.cmds.next() => match cmd {
                    None => return Ok(()),
                    Some(Err(e)) => {
                        // Bytes that are not a command: this session only is closed.
                        tracing::debug!(session = self.listener.id, error = %e, "malformed command");
                        return Ok(());
                    }
                    Some(Ok(cmd)) => {
                        if let Next::Close = self.command(cmd).await? {
                            self.goodbye(wire::GOODBYE).await;
                            return Ok(());
                        }
                    }
                },
            }
        }
    }

    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.write(&wire::command_reply(text)).await
    }

    async fn command(&mut self, cmd: ClientCommand) -> std::io::Result<Next> {
        let line = strip_cr(&cmd.line).to_string();
        if starts_with_ci(&line, "exit") || line.starts_with("...") {
            self.reply("+OK bye").await?;
            return Ok(Next::Close);
        }
        if !self.authed {
            if starts_with_ci(&line, "auth ") {
                if line[5..] == self.core.password {
                    self.authed = true;
                    self.reply("+OK accepted").await?;
                    return Ok(Next::Continue);
                }
                self.reply("-ERR invalid").await?;
                return Ok(Next::Close);
            }
            if starts_with_ci(&line, "userauth ") {
                // No directory users here, so no user can authenticate.
                self.reply("-ERR invalid").await?;
                return Ok(Next::Close);
            }
            self.reply("-ERR command not found").await?;
            return Ok(Next::Continue);
        }
        let text = if starts_with_ci(&line, "filter ") {
            lock(&self.listener.sub).filter_command(&line)
        } else if starts_with_ci(&line, "myevents ") {
            self.myevents(&line)
        } else if starts_with_ci(&line, "divert_events") {
            "-ERR not controlling a session.".into()
        } else if starts_with_ci(&line, "sendmsg") {
            self.sendmsg(&line, &cmd.headers)
        } else if starts_with_ci(&line, "sendevent") {
            self.sendevent(&line, &cmd)
        } else if starts_with_ci(&line, "api ") {
            self.api(&line).await?;
            return Ok(Next::Continue);
        } else if starts_with_ci(&line, "bgapi ") {
            self.bgapi(&line, &cmd.headers).await?;
            return Ok(Next::Continue);
        } else if starts_with_ci(&line, "log") {
            let level = line.get(4..).unwrap_or("");
            match log_level(if level.is_empty() { "debug" } else { level }) {
                Some(n) => {
                    self.logging = true;
                    format!("+OK log level {level} [{n}]")
                }
                None => "-ERR invalid log level".into(),
            }
        } else if starts_with_ci(&line, "linger") || starts_with_ci(&line, "nolinger") {
            "-ERR not controlling a session".into()
        } else if starts_with_ci(&line, "nolog") {
            if std::mem::take(&mut self.logging) {
                "+OK no longer logging".into()
            } else {
                "-ERR not loging".into()
            }
        } else if starts_with_ci(&line, "event") {
            lock(&self.listener.sub).event_command(&line)
        } else if starts_with_ci(&line, "nixevent") {
            lock(&self.listener.sub).nixevent_command(&line)
        } else if starts_with_ci(&line, "noevents") {
            let text = lock(&self.listener.sub).noevents_command();
            // flush_listener: what was queued is dropped.
            while self.rx.try_recv().is_ok() {}
            text
        } else {
            "-ERR command not found".into()
        };
        self.reply(&text).await?;
        Ok(Next::Continue)
    }

    fn myevents(&self, line: &str) -> String {
        let mut sub = lock(&self.listener.sub);
        if sub.my_uuid.is_some() {
            return "-ERR aready enabled.".into();
        }
        let rest = line.get(9..).unwrap_or("").trim();
        let (uuid, format) = match rest.split_once(' ') {
            Some((u, f)) => (u, Some(f)),
            None => (rest, None),
        };
        if !self.core.channel_exists(uuid) {
            return "-ERR invalid uuid".into();
        }
        sub.my_uuid = Some(uuid.to_string());
        let names = MYEVENTS.join(" ");
        sub.event_command(&format!("event {names}"));
        if let Some(f) = format.and_then(|f| EventFormat::parse(&f.to_ascii_lowercase())) {
            sub.format = f;
        }
        "+OK Events Enabled".into()
    }

    /// `sendmsg <uuid>`: a `call-command: hangup` hangs the channel up; the
    /// other messages are accepted and have no effect here.
    fn sendmsg(&self, line: &str, headers: &Headers) -> String {
        let uuid = line.get(7..).unwrap_or("").trim().to_string();
        let uuid = if uuid.is_empty() {
            headers
                .get_str("session-id")
                .map(|u| u.into_owned())
                .unwrap_or_default()
        } else {
            uuid
        };
        if uuid.is_empty() || !self.core.channel_exists(&uuid) {
            return format!("-ERR invalid session id [{uuid}]");
        }
        let command = headers.get_str("call-command").unwrap_or_default();
        if command.eq_ignore_ascii_case("hangup") {
            let cause = headers
                .get_str("hangup-cause")
                .and_then(|c| api::str2cause(&c))
                .unwrap_or(crate::switch::HangupCause::NormalClearing);
            self.core.kill(&uuid, cause);
        }
        "+OK".into()
    }

    /// `sendevent <NAME>`: fires the client's headers (and body) as an event.
    fn sendevent(&self, line: &str, cmd: &ClientCommand) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        let name = line.get(9..).unwrap_or("").trim();
        let id = event_id(name).unwrap_or(1);
        let mut h = Headers::from_pairs([("Command", line)]);
        for (k, v) in cmd.headers.iter() {
            if !k.eq_ignore_ascii_case(b"Content-Length") {
                h.push_owned(k, v);
            }
        }
        h.push_owned(b"Event-UUID", uuid.as_bytes());
        let stamp = self.core.stamp();
        let event_name = super::bus::EVENT_NAMES.get(id).copied().unwrap_or("CLONE");
        for (k, v) in [
            ("Event-Name", event_name.to_string()),
            ("Core-UUID", self.core.core_uuid.clone()),
            ("FreeSWITCH-Hostname", super::templates::HOSTNAME.into()),
            ("Event-Date-Local", super::clock::local_stamp(stamp.micros)),
            ("Event-Date-GMT", super::clock::gmt_stamp(stamp.micros)),
            ("Event-Date-Timestamp", stamp.micros.to_string()),
            ("Event-Calling-File", "mod_event_socket.c".into()),
            ("Event-Calling-Function", "parse_command".into()),
            ("Event-Sequence", stamp.seq.to_string()),
        ] {
            h.push_owned(k.as_bytes(), v.as_bytes());
        }
        let subclass = cmd
            .headers
            .get_str("Event-Subclass")
            .map(|s| s.into_owned());
        let body = cmd.body.clone().filter(|b| !b.is_empty());
        self.core
            .fire(SimEvent::new(id, subclass, EslEvent { headers: h, body }));
        format!("+OK {uuid}")
    }

    fn split_api(line: &str, skip: usize) -> (String, Option<String>) {
        let rest = line.get(skip..).unwrap_or("");
        match rest.split_once(' ') {
            Some((c, a)) => (c.to_string(), Some(a.to_string())),
            None => (rest.to_string(), None),
        }
    }

    /// `api`: runs the command and waits for its output; the session reads
    /// no other command and writes no event meanwhile.
    async fn api(&mut self, line: &str) -> std::io::Result<()> {
        let (command, arg) = Self::split_api(line, 4);
        let (tx, rx) = oneshot::channel();
        let run = ApiRun::new(&self.core, &command, arg.as_deref(), Job::Api(tx));
        api::execute(&self.core, run);
        let shutdown = self.core.shutdown.clone();
        let output = tokio::select! {
            o = rx => o.unwrap_or_else(|_| "-ERR no reply\n".to_string()),
            _ = shutdown.cancelled() => return Ok(()),
        };
        self.write(&wire::api_response(&output)).await
    }

    /// `bgapi`: replies with the job id at once; the output follows as a
    /// BACKGROUND_JOB event.
    async fn bgapi(&mut self, line: &str, headers: &Headers) -> std::io::Result<()> {
        let (command, arg) = Self::split_api(line, 6);
        let job_uuid = headers
            .get_str("job-uuid")
            .map(|j| j.into_owned())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.write(&wire::bgapi_reply(&job_uuid)).await?;
        let run = ApiRun::new(&self.core, &command, arg.as_deref(), Job::Bg { job_uuid });
        api::execute(&self.core, run);
        Ok(())
    }
}
