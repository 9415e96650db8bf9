//! The simulated switch over real TCP, read with dialpop's own ESL decoder
//! and compared with what FreeSWITCH 1.10.12 really sent
//! (`../shared/fixtures/real/freeswitch_answered.txt`).

use bytes::{Bytes, BytesMut};
use dialpop::switch::HangupCause;
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, Scan, scan_frame};
use dialpop::switch::esl::{EslEvent, EslFrame, EslMessage};
use dialpop::switch::sim::{Scenario, SimConfig, SimSwitch};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);
const GOODBYE: &[u8] = b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";

async fn switch_with(speed: f64, scenario: Option<&str>) -> SimSwitch {
    let scenario = match scenario {
        Some(text) => Scenario::from_toml(text).expect("test scenario is valid"),
        None => Scenario::default(),
    };
    SimSwitch::start(SimConfig {
        speed,
        scenario,
        heartbeat_interval: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await
    .expect("switch starts")
}

fn to_message(raw: Bytes) -> EslMessage {
    let Ok(Scan::Frame(bounds)) = scan_frame(&raw, DEFAULT_MAX_CONTENT_LENGTH) else {
        panic!("not a whole frame: {raw:?}");
    };
    let frame = EslFrame::from_bytes(raw, &bounds).expect("frame headers parse");
    EslMessage::from_frame(frame).expect("frame body parses")
}

/// Every frame of a capture, as raw bytes.
fn split_frames(mut data: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let Ok(Scan::Frame(b)) = scan_frame(data, DEFAULT_MAX_CONTENT_LENGTH) else {
            panic!("capture does not split into frames");
        };
        out.push(Bytes::copy_from_slice(&data[..b.total()]));
        data = &data[b.total()..];
    }
    out
}

struct Client {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
}

impl Client {
    async fn connect(sw: &SimSwitch) -> Client {
        let s = TcpStream::connect(sw.local_addr()).await.expect("connect");
        let (rd, wr) = s.into_split();
        Client {
            rd,
            wr,
            buf: BytesMut::new(),
        }
    }

    /// Connected, authenticated, greeting and reply checked.
    async fn login(sw: &SimSwitch) -> Client {
        let mut c = Client::connect(sw).await;
        assert_eq!(
            c.raw().await.as_deref(),
            Some(&b"Content-Type: auth/request\n\n"[..])
        );
        c.send("auth ClueCon\n\n").await;
        assert_eq!(c.reply().await, "+OK accepted");
        c
    }

    async fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).await.expect("send");
    }

    /// The next frame's bytes; `None` at end of stream.
    async fn raw(&mut self) -> Option<Bytes> {
        loop {
            match scan_frame(&self.buf, DEFAULT_MAX_CONTENT_LENGTH).expect("well-formed frame") {
                Scan::Frame(b) => return Some(self.buf.split_to(b.total()).freeze()),
                Scan::NeedHeaders | Scan::NeedBody(_) => {}
            }
            let n = timeout(WAIT, self.rd.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            if n == 0 {
                assert!(self.buf.is_empty(), "stream ends inside a frame");
                return None;
            }
        }
    }

    async fn msg(&mut self) -> EslMessage {
        to_message(
            self.raw()
                .await
                .expect("a frame, not the end of the stream"),
        )
    }

    async fn eof(&mut self) {
        assert_eq!(self.raw().await, None, "expected the switch to close");
    }

    /// The next frame, which must be a command/reply: its Reply-Text.
    async fn reply(&mut self) -> String {
        match self.msg().await {
            EslMessage::CommandReply { headers, .. } => headers
                .get_str("Reply-Text")
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            other => panic!("expected command/reply, got {other:?}"),
        }
    }

    /// The next command/reply, skipping the events that came before it.
    async fn reply_after_events(&mut self) -> String {
        loop {
            match self.msg().await {
                EslMessage::CommandReply { headers, .. } => {
                    return headers
                        .get_str("Reply-Text")
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                }
                EslMessage::Event(_) => {}
                other => panic!("expected command/reply, got {other:?}"),
            }
        }
    }

    /// Reads whatever was already on its way, then the end of the stream.
    async fn closed(&mut self) {
        while let Some(raw) = self.raw().await {
            assert!(
                matches!(to_message(raw), EslMessage::Event(_)),
                "only events may still arrive"
            );
        }
    }

    /// Sends `api <cmd>` and returns the api/response body, skipping events.
    async fn api(&mut self, cmd: &str) -> String {
        self.send(&format!("api {cmd}\n\n")).await;
        loop {
            match self.msg().await {
                EslMessage::ApiResponse { body } => {
                    return String::from_utf8_lossy(&body).into_owned();
                }
                EslMessage::Event(_) => {}
                other => panic!("expected api/response, got {other:?}"),
            }
        }
    }

    async fn event(&mut self) -> EslEvent {
        match self.msg().await {
            EslMessage::Event(e) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Events up to and including the first for which `done` holds.
    async fn events_until(&mut self, mut done: impl FnMut(&EslEvent) -> bool) -> Vec<EslEvent> {
        let mut out = Vec::new();
        loop {
            let e = self.event().await;
            let stop = done(&e);
            out.push(e);
            if stop {
                return out;
            }
        }
    }
}

fn hv(e: &EslEvent, name: &str) -> String {
    e.get_str(name).map(|v| v.into_owned()).unwrap_or_default()
}

fn name(e: &EslEvent) -> String {
    hv(e, "Event-Name")
}

fn body(e: &EslEvent) -> String {
    e.body
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The last event of a leg: CHANNEL_STATE CS_DESTROY.
fn is_destroyed(e: &EslEvent, uuid: &str) -> bool {
    name(e) == "CHANNEL_STATE"
        && hv(e, "Channel-State") == "CS_DESTROY"
        && hv(e, "Unique-ID") == uuid
}

// ---------------------------------------------------------------------------
// The real capture.

fn real_capture(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What must be equal between a real frame and a simulated one: everything
/// except ids, times and counters.
#[derive(Debug, PartialEq)]
enum Shape {
    Reply {
        raw: String,
    },
    Event {
        name: String,
        header_names: Vec<String>,
        values: Vec<(String, String)>,
        body: Option<String>,
    },
}

/// Values that differ between any two runs.
fn varies(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    name == "Event-Sequence"
        || name.starts_with("Event-Date")
        || name.ends_with("-Time")
        || name == "Core-UUID"
        || n.contains("unique-id")
        || n.contains("uuid")
        || n.contains("session_id")
        || n.contains("stamp")
        || n.contains("epoch")
        || n.ends_with("sec")
        || n.contains("duration")
}

fn shape(raw: Bytes, leg_uuid: &str) -> Shape {
    match to_message(raw.clone()) {
        EslMessage::Event(e) => Shape::Event {
            name: name(&e),
            header_names: e
                .headers
                .iter()
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect(),
            values: e
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .filter(|(k, _)| !varies(k))
                .collect(),
            body: e
                .body
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).replace(leg_uuid, "<a-leg uuid>")),
        },
        _ => Shape::Reply {
            raw: String::from_utf8_lossy(&raw).into_owned(),
        },
    }
}

fn unique_id(raw: &Bytes) -> Option<String> {
    match to_message(raw.clone()) {
        EslMessage::Event(e) => e.get_str("Unique-ID").map(|u| u.into_owned()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_like_the_real_one_gets_the_frames_of_the_real_one() {
    let real = split_frames(&real_capture("freeswitch_answered.txt"));
    let sent = String::from_utf8(real_capture("freeswitch_answered.sent.txt")).expect("text");
    let commands: Vec<String> = sent
        .split("\n\n")
        .filter(|c| !c.trim().is_empty())
        .map(|c| format!("{c}\n\n"))
        .collect();
    assert_eq!(commands.len(), 4, "auth, event, bgapi originate, exit");

    // The real a-leg: the channel the originate created (its uuid is the one
    // BACKGROUND_JOB reports). The loopback b-leg is not simulated.
    let real_a = real
        .iter()
        .filter_map(|f| match to_message(f.clone()) {
            EslMessage::Event(e) if name(&e) == "BACKGROUND_JOB" => {
                Some(body(&e).trim_start_matches("+OK ").trim().to_string())
            }
            _ => None,
        })
        .next()
        .expect("the capture has the originate's result");
    let expected: Vec<Shape> = real
        .iter()
        .filter(|f| unique_id(f).is_none_or(|u| u == real_a))
        .map(|f| shape(f.clone(), &real_a))
        .collect();
    assert_eq!(
        expected.len(),
        33,
        "4 replies, 27 a-leg events, bye, notice"
    );

    // 1001 answers after 1 s and hangs up after 5 s; at speed 10 that is 0.6 s.
    let sw = switch_with(10.0, None).await;
    let mut c = Client::connect(&sw).await;
    let mut got = vec![c.raw().await.expect("greeting")];
    for cmd in &commands[..3] {
        c.send(cmd).await;
    }
    let mut sim_a = None;
    loop {
        let raw = c.raw().await.expect("frames until the call is over");
        let id = unique_id(&raw);
        if sim_a.is_none() {
            sim_a.clone_from(&id);
        }
        let last = match to_message(raw.clone()) {
            EslMessage::Event(e) => sim_a.as_deref().is_some_and(|a| is_destroyed(&e, a)),
            _ => false,
        };
        got.push(raw);
        if last {
            break;
        }
    }
    c.send(&commands[3]).await;
    while let Some(raw) = c.raw().await {
        got.push(raw);
    }
    let sim_a = sim_a.expect("the call had channel events");
    assert!(
        got.iter().all(|f| unique_id(f).is_none_or(|u| u == sim_a)),
        "one channel only"
    );
    let got: Vec<Shape> = got.into_iter().map(|f| shape(f, &sim_a)).collect();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "frame {} differs from the real one", i + 1);
    }
    assert_eq!(got.len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leg_carries_one_uuid_and_consistent_times() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain ALL\n\n").await;
    assert_eq!(c.reply().await, "+OK event listener enabled plain");
    let id = "c0ffee00-0000-4000-8000-000000000001";
    c.send(&format!(
        "bgapi originate {{origination_uuid={id},dialpop_task=7}}sofia/gateway/gw1/15551001 &park()\n\n"
    ))
    .await;
    assert!(c.reply().await.starts_with("+OK Job-UUID: "));
    let evs = c.events_until(|e| is_destroyed(e, id)).await;
    let channel: Vec<&EslEvent> = evs
        .iter()
        .filter(|e| e.get("Unique-ID").is_some())
        .collect();
    for e in &channel {
        assert_eq!(hv(e, "Unique-ID"), id);
        assert_eq!(hv(e, "Channel-Call-UUID"), id);
        assert_eq!(hv(e, "Channel-Name"), "sofia/external/15551001");
    }
    let create = channel
        .iter()
        .find(|e| name(e) == "CHANNEL_CREATE")
        .expect("create");
    assert_eq!(hv(create, "Caller-Destination-Number"), "15551001");
    assert_eq!(hv(create, "variable_dialpop_task"), "7");
    assert_eq!(hv(create, "variable_origination_uuid"), id);
    let seqs: Vec<u64> = evs
        .iter()
        .filter(|e| name(e) != "API")
        .map(|e| hv(e, "Event-Sequence").parse().expect("sequence number"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence grows: {seqs:?}"
    );
    let done = channel
        .iter()
        .find(|e| name(e) == "CHANNEL_HANGUP_COMPLETE")
        .expect("hangup complete");
    let n = |h: &str| hv(done, h).parse::<i64>().expect(h);
    assert_eq!(
        n("variable_billusec"),
        n("variable_end_uepoch") - n("variable_answer_uepoch")
    );
    assert_eq!(
        n("variable_uduration"),
        n("variable_end_uepoch") - n("variable_start_uepoch")
    );
    // 5 s of talk at speed 10.
    assert!(
        (450_000..2_000_000).contains(&n("variable_billusec")),
        "{}",
        n("variable_billusec")
    );
    assert_eq!(hv(done, "variable_hangup_cause_q850"), "16");
    assert_eq!(sw.live_calls(), 0);
    assert_eq!(sw.originates().counts.get(id), Some(&1));
}

// ---------------------------------------------------------------------------
// Sessions and commands.

#[tokio::test]
async fn wrong_password_gets_invalid_then_the_notice_then_eof() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::connect(&sw).await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(&b"Content-Type: auth/request\n\n"[..])
    );
    c.send("auth CluCon\n\n").await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(&b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"[..])
    );
    assert_eq!(c.raw().await.as_deref(), Some(GOODBYE));
    c.eof().await;
}

#[tokio::test]
async fn before_auth_only_auth_and_exit_work() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::connect(&sw).await;
    c.raw().await;
    for cmd in ["api status", "event plain ALL", "bgapi status", "nonsense"] {
        c.send(&format!("{cmd}\n\n")).await;
        assert_eq!(
            c.raw().await.as_deref(),
            Some(&b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"[..]),
            "{cmd}"
        );
    }
    // Still there and still unauthenticated: auth works now (CRLF too).
    c.send("auth ClueCon\r\n\r\n").await;
    assert_eq!(c.reply().await, "+OK accepted");
    assert!(
        c.api("status")
            .await
            .starts_with("UP 0 years, 0 days, 0 hours, 0 minutes")
    );

    let mut c = Client::connect(&sw).await;
    c.raw().await;
    c.send("exit\n\n").await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(&b"Content-Type: command/reply\nReply-Text: +OK bye\n\n"[..])
    );
    assert_eq!(c.raw().await.as_deref(), Some(GOODBYE));
    c.eof().await;
}

#[tokio::test]
async fn unknown_and_malformed_commands() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("fly me to the moon\n\n").await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(&b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"[..])
    );
    c.send("api foo bar baz\n\n").await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(
            &b"Content-Type: api/response\nContent-Length: 28\n\n-ERR foo Command not found!\n"[..]
        )
    );
    for (cmd, reply) in [
        ("event plain", "-ERR no keywords supplied"),
        ("event", "-ERR no keywords supplied"),
        ("noevents", "-ERR not listening for events"),
        ("nixevent", "-ERR no keywords supplied"),
        ("filter Unique-ID", "-ERR invalid syntax"),
        ("linger", "-ERR not controlling a session"),
        ("nolog", "-ERR not loging"),
        (
            "myevents 00000000-0000-0000-0000-000000000000",
            "-ERR invalid uuid",
        ),
        ("sendmsg nosuch", "-ERR invalid session id [nosuch]"),
        ("auth ClueCon", "-ERR command not found"),
        (
            "event json CHANNEL_ANSWER",
            "+OK event listener enabled json",
        ),
        (
            "events plain CHANNEL_HANGUP",
            "+OK event listener enabled plain",
        ),
        ("nixevent CHANNEL_ANSWER", "+OK events nixed"),
        ("noevents", "+OK no longer listening for events"),
        ("log info", "+OK log level info [6]"),
        ("nolog", "+OK no longer logging"),
    ] {
        c.send(&format!("{cmd}\n\n")).await;
        assert_eq!(c.reply().await, reply, "{cmd}");
    }
    for (arg, reply) in [
        (
            "",
            "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n",
        ),
        (
            "sofia/gateway/gw1/1001",
            "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n",
        ),
        (
            "{origination_uuid=x sofia/gateway/gw1/1001 &park()",
            "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n",
        ),
        ("pigeon/1001 &park()", "-ERR CHAN_NOT_IMPLEMENTED\n"),
        ("15551001 &park()", "-ERR CHAN_NOT_IMPLEMENTED\n"),
        ("sofia/gateway/gw1 &park()", "-ERR INVALID_URL\n"),
        ("error/user_busy &park()", "-ERR USER_BUSY\n"),
    ] {
        assert_eq!(
            c.api(&format!("originate {arg}")).await,
            reply,
            "originate {arg}"
        );
    }
    assert_eq!(sw.live_calls(), 0);
    // A frame that is not a command closes that session only.
    let mut bad = Client::login(&sw).await;
    bad.send("api status\nthis line has no colon\n\n").await;
    bad.eof().await;
    assert!(c.api("status").await.starts_with("UP "));
    let mut other = Client::login(&sw).await;
    assert_eq!(other.api("hostname").await, "vm");
}

#[tokio::test]
async fn bgapi_with_and_without_a_job_uuid() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain BACKGROUND_JOB\n\n").await;
    assert_eq!(c.reply().await, "+OK event listener enabled plain");

    let job = "11111111-2222-3333-4444-555555555555";
    c.send(&format!("bgapi status\nJob-UUID: {job}\n\n")).await;
    assert_eq!(
        c.raw().await.as_deref(),
        Some(
            format!(
                "Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n"
            )
            .as_bytes()
        )
    );
    let e = c.event().await;
    assert_eq!(name(&e), "BACKGROUND_JOB");
    assert_eq!(hv(&e, "Job-UUID"), job);
    assert_eq!(hv(&e, "Job-Command"), "status");
    assert!(e.get("Job-Command-Arg").is_none(), "no argument, no header");
    assert!(
        e.get("Job-Owner-UUID").is_none(),
        "inbound sessions own no channel"
    );
    assert!(body(&e).starts_with("UP 0 years"), "{}", body(&e));

    c.send("bgapi uuid_kill 1234\n\n").await;
    let job = match c.msg().await {
        EslMessage::CommandReply { reply, headers } => {
            let job = headers
                .get_str("Job-UUID")
                .map(|j| j.into_owned())
                .unwrap_or_default();
            assert_eq!(reply.text, format!("Job-UUID: {job}"));
            job
        }
        other => panic!("expected the bgapi reply, got {other:?}"),
    };
    assert!(uuid::Uuid::parse_str(&job).is_ok(), "a fresh uuid: {job}");
    let e = c.event().await;
    assert_eq!(hv(&e, "Job-UUID"), job);
    assert_eq!(hv(&e, "Job-Command"), "uuid_kill");
    assert_eq!(hv(&e, "Job-Command-Arg"), "1234");
    assert_eq!(body(&e), "-ERR No such channel!\n");
}

/// Starts `originate <arg>` with bgapi and returns the call's events (all
/// of them, BACKGROUND_JOB included) until its channel is destroyed.
async fn bg_call(c: &mut Client, id: &str, dial: &str, extra_vars: &str) -> Vec<EslEvent> {
    c.send(&format!(
        "bgapi originate {{origination_uuid={id}{extra_vars}}}{dial} &park()\nJob-UUID: job-{id}\n\n"
    ))
    .await;
    assert_eq!(c.reply().await, format!("+OK Job-UUID: job-{id}"));
    c.events_until(|e| is_destroyed(e, id)).await
}

fn names(evs: &[EslEvent]) -> Vec<String> {
    evs.iter().map(name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_congestion_and_no_answer_end_as_on_the_real_switch() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain ALL\n\n").await;
    c.reply().await;

    let busy = bg_call(&mut c, "busy-1", "loopback/2001/customers", "").await;
    assert_eq!(
        names(&busy),
        [
            "CODEC",
            "CODEC",
            "CHANNEL_OUTGOING",
            "CHANNEL_STATE",
            "CHANNEL_CREATE",
            "CHANNEL_ORIGINATE",
            "CHANNEL_STATE",
            "CHANNEL_STATE",
            "CHANNEL_HANGUP",
            "CHANNEL_STATE",
            "CHANNEL_CALLSTATE",
            "API",
            "BACKGROUND_JOB",
            "CHANNEL_STATE",
            "CHANNEL_HANGUP_COMPLETE",
            "CHANNEL_DESTROY",
            "CHANNEL_STATE",
        ]
    );
    let hangup = &busy[8];
    assert_eq!(hv(hangup, "Hangup-Cause"), "USER_BUSY");
    assert_eq!(hv(hangup, "Answer-State"), "hangup");
    let bg = &busy[12];
    assert_eq!(hv(bg, "Job-UUID"), "job-busy-1");
    assert_eq!(hv(bg, "Job-Command"), "originate");
    assert_eq!(
        hv(bg, "Job-Command-Arg"),
        "{origination_uuid=busy-1}loopback/2001/customers &park()"
    );
    assert_eq!(body(bg), "-ERR USER_BUSY\n");
    let done = &busy[14];
    assert_eq!(hv(done, "Hangup-Cause"), "USER_BUSY");
    assert_eq!(hv(done, "variable_hangup_cause_q850"), "17");
    assert_eq!(hv(done, "variable_billsec"), "0");
    assert!(done.get("variable_answer_stamp").is_none());

    let congested = bg_call(&mut c, "cong-1", "loopback/4001/customers", "").await;
    let bg = congested
        .iter()
        .find(|e| name(e) == "BACKGROUND_JOB")
        .expect("job");
    assert_eq!(body(bg), "-ERR NORMAL_CIRCUIT_CONGESTION\n");

    // 3001 rings until originate_timeout: 2 s at speed 10.
    let started = Instant::now();
    let unanswered = bg_call(
        &mut c,
        "noans-1",
        "loopback/3001/customers",
        ",originate_timeout=2",
    )
    .await;
    let n = names(&unanswered);
    assert_eq!(&n[8..10], ["CHANNEL_PROGRESS", "CHANNEL_CALLSTATE"]);
    assert!(!n.contains(&"CHANNEL_ANSWER".to_string()));
    assert_eq!(hv(&unanswered[9], "Channel-Call-State"), "RINGING");
    let hangup = unanswered
        .iter()
        .find(|e| name(e) == "CHANNEL_HANGUP")
        .expect("hangup");
    assert_eq!(hv(hangup, "Hangup-Cause"), "NO_ANSWER");
    let bg = unanswered
        .iter()
        .find(|e| name(e) == "BACKGROUND_JOB")
        .expect("job");
    assert_eq!(body(bg), "-ERR NO_ANSWER\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );

    // No channel at all: only API and BACKGROUND_JOB.
    c.send("bgapi originate {origination_uuid=nochan}pigeon/1 &park()\nJob-UUID: j-nochan\n\n")
        .await;
    c.reply().await;
    let evs = c
        .events_until(|e| name(e) == "BACKGROUND_JOB" && hv(e, "Job-UUID") == "j-nochan")
        .await;
    assert_eq!(names(&evs), ["API", "BACKGROUND_JOB"]);
    assert_eq!(body(&evs[1]), "-ERR CHAN_NOT_IMPLEMENTED\n");
    assert_eq!(sw.live_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_originate_blocks_until_answer_or_failure() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n")
        .await;
    c.reply().await;
    assert_eq!(
        c.api("originate {origination_uuid=sync-busy}loopback/2002/customers &park()")
            .await,
        "-ERR USER_BUSY\n"
    );
    // The session was blocked: the call's events follow the reply.
    c.send("api originate {origination_uuid=sync-ok}loopback/1002/customers &park()\n\n")
        .await;
    let mut before_reply = Vec::new();
    let reply = loop {
        match c.msg().await {
            EslMessage::ApiResponse { body } => break String::from_utf8_lossy(&body).into_owned(),
            EslMessage::Event(e) => before_reply.push(hv(&e, "Unique-ID")),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(reply, "+OK sync-ok\n");
    assert!(
        !before_reply.iter().any(|u| u == "sync-ok"),
        "events of the call came before the reply"
    );
    let evs = c
        .events_until(|e| name(e) == "CHANNEL_HANGUP_COMPLETE" && hv(e, "Unique-ID") == "sync-ok")
        .await;
    let ok: Vec<String> = evs
        .iter()
        .filter(|e| hv(e, "Unique-ID") == "sync-ok")
        .map(name)
        .collect();
    assert_eq!(
        ok,
        [
            "CHANNEL_CREATE",
            "CHANNEL_ANSWER",
            "CHANNEL_HANGUP_COMPLETE"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_pass_only_matching_events() {
    // Call B outlives call A, so it is still up when the filters go.
    let scenario = "[[rule]]\nprefix = \"1call-b\"\nring = 0.1\ntalk = 1.5\n\n[[rule]]\nring = 0.1\ntalk = 0.3\n";
    let sw = switch_with(1.0, Some(scenario)).await;
    // Only call A, and (for `both`) every BACKGROUND_JOB.
    let mut only_a = Client::login(&sw).await;
    let mut both = Client::login(&sw).await;
    for c in [&mut only_a, &mut both] {
        c.send("event plain ALL\n\n").await;
        c.reply().await;
        c.send("filter Unique-ID call-a\n\n").await;
        assert_eq!(c.reply().await, "+OK filter added. [Unique-ID]=[call-a]");
    }
    both.send("filter Event-Name BACKGROUND_JOB\n\n").await;
    assert_eq!(
        both.reply().await,
        "+OK filter added. [Event-Name]=[BACKGROUND_JOB]"
    );
    let mut json = Client::login(&sw).await;
    json.send("event json CHANNEL_ANSWER\n\n").await;
    assert_eq!(json.reply().await, "+OK event listener enabled json");

    let mut dialer = Client::login(&sw).await;
    for id in ["call-a", "call-b"] {
        dialer
            .send(&format!(
                "bgapi originate {{origination_uuid={id}}}sofia/gateway/gw/1{id} &park()\nJob-UUID: job-{id}\n\n"
            ))
            .await;
        dialer.reply().await;
    }
    let a = only_a.events_until(|e| is_destroyed(e, "call-a")).await;
    assert!(a.len() >= 20);
    assert!(
        a.iter().all(|e| hv(e, "Unique-ID") == "call-a"),
        "{:?}",
        names(&a)
    );
    assert!(!names(&a).contains(&"BACKGROUND_JOB".to_string()));

    let mut jobs = HashSet::new();
    let mut destroyed = false;
    while !(destroyed && jobs.len() == 2) {
        let e = both.event().await;
        if name(&e) == "BACKGROUND_JOB" {
            jobs.insert(hv(&e, "Job-UUID"));
        } else {
            assert_eq!(hv(&e, "Unique-ID"), "call-a");
            destroyed |= is_destroyed(&e, "call-a");
        }
    }
    assert_eq!(
        jobs,
        HashSet::from(["job-call-a".into(), "job-call-b".into()])
    );

    // event-json framing, parsed by the client's JSON reader.
    let mut answered = HashSet::new();
    while answered.len() < 2 {
        let raw = json.raw().await.expect("json event");
        assert!(raw.starts_with(b"Content-Length: "));
        assert!(
            raw.windows(31)
                .any(|w| w == b"\nContent-Type: text/event-json\n")
        );
        let e = match to_message(raw) {
            EslMessage::Event(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(&e), "CHANNEL_ANSWER");
        assert_eq!(hv(&e, "Answer-State"), "answered");
        answered.insert(hv(&e, "Unique-ID"));
    }
    // Deleting the filters lets everything through again.
    only_a.send("filter delete all\n\n").await;
    loop {
        match only_a.msg().await {
            EslMessage::CommandReply { reply, .. } => {
                assert_eq!(reply.text, "filter deleted. [all][]");
                break;
            }
            EslMessage::Event(e) => assert_eq!(hv(&e, "Unique-ID"), "call-a"),
            other => panic!("{other:?}"),
        }
    }
    let b_end = only_a.events_until(|e| is_destroyed(e, "call-b")).await;
    assert!(b_end.iter().any(|e| hv(e, "Unique-ID") == "call-b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_channels_as_json_follows_the_call() {
    let scenario = "[[rule]]\nring = 0.4\n";
    let sw = switch_with(1.0, Some(scenario)).await;
    let mut c = Client::login(&sw).await;
    assert_eq!(c.api("show channels as json").await, "{\"row_count\":0}");
    assert_eq!(c.api("show channels").await, "\n0 total.\n");
    c.send("event plain CHANNEL_PROGRESS CHANNEL_PARK\n\n")
        .await;
    c.reply().await;
    c.send("bgapi originate {origination_uuid=show-1,origination_caller_id_number=5550100}sofia/gateway/gw/15557777 &park()\n\n").await;
    c.reply().await;
    let e = c.event().await;
    assert_eq!(name(&e), "CHANNEL_PROGRESS");
    let rows: serde_json::Value =
        serde_json::from_str(&c.api("show channels as json").await).expect("JSON");
    assert_eq!(rows["row_count"], 1);
    let row = &rows["rows"][0];
    assert_eq!(row["uuid"], "show-1");
    assert_eq!(row["direction"], "outbound");
    assert_eq!(row["name"], "sofia/external/15557777");
    assert_eq!(row["dest"], "15557777");
    assert_eq!(row["cid_num"], "5550100");
    assert_eq!(row["callstate"], "RINGING");
    assert_eq!(row["state"], "CS_CONSUME_MEDIA");
    assert_eq!(row["application"], "");
    assert!(
        row["created_epoch"]
            .as_str()
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    let keys: Vec<&String> = row
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 38, "the channels table's columns: {keys:?}");
    let e = c.event().await;
    assert_eq!(name(&e), "CHANNEL_PARK");
    let rows: serde_json::Value =
        serde_json::from_str(&c.api("show channels as json").await).expect("JSON");
    let row = &rows["rows"][0];
    assert_eq!(row["callstate"], "ACTIVE");
    assert_eq!(row["state"], "CS_EXECUTE");
    assert_eq!(row["application"], "park");
    let plain = c.api("show channels").await;
    assert!(plain.starts_with("uuid,direction,created,created_epoch,name,state,"));
    assert!(plain.contains("\nshow-1,outbound,"));
    assert!(plain.ends_with("\n\n1 total.\n"));
    assert_eq!(c.api("uuid_kill show-1").await, "+OK\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_kill_hupall_and_the_test_hooks() {
    // 8XXX answers at once and stays up.
    let sw = switch_with(1.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain CHANNEL_PARK CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB\n\n")
        .await;
    c.reply().await;
    for id in ["k1", "k2", "k3", "k4"] {
        c.send(&format!(
            "bgapi originate {{origination_uuid={id},campaign=c{}}}user/8001 &park()\n\n",
            if id == "k4" { 2 } else { 1 }
        ))
        .await;
    }
    // Replies and the calls' events interleave.
    let (mut replies, mut parked) = (0, 0);
    while replies < 4 || parked < 4 {
        match c.msg().await {
            EslMessage::CommandReply { reply, .. } if reply.ok => replies += 1,
            EslMessage::Event(e) if name(&e) == "CHANNEL_PARK" => parked += 1,
            EslMessage::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sw.live_calls(), 4);
    assert_eq!(c.api("uuid_exists k1").await, "true");
    assert_eq!(c.api("uuid_kill k1").await, "+OK\n");
    let evs = c
        .events_until(|e| name(e) == "CHANNEL_HANGUP_COMPLETE" && hv(e, "Unique-ID") == "k1")
        .await;
    let hangup = evs
        .iter()
        .find(|e| name(e) == "CHANNEL_HANGUP")
        .expect("hangup");
    assert_eq!(hv(hangup, "Hangup-Cause"), "NORMAL_CLEARING");
    assert_eq!(c.api("uuid_kill k2 USER_BUSY").await, "+OK\n");
    let evs = c
        .events_until(|e| name(e) == "CHANNEL_HANGUP_COMPLETE" && hv(e, "Unique-ID") == "k2")
        .await;
    assert_eq!(hv(&evs[evs.len() - 1], "Hangup-Cause"), "USER_BUSY");
    // Gone once destroyed.
    let deadline = Instant::now() + WAIT;
    while c.api("uuid_exists k1").await != "false" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.api("uuid_kill k1").await, "-ERR No such channel!\n");
    assert_eq!(c.api("uuid_kill").await, "-USAGE: <uuid> [cause]\n");
    assert_eq!(
        c.api("hupall NORMAL_CLEARING campaign c2").await,
        "+OK hangup all channels matching [campaign]=[c2] with cause: NORMAL_CLEARING\n"
    );
    c.events_until(|e| name(e) == "CHANNEL_HANGUP_COMPLETE" && hv(e, "Unique-ID") == "k4")
        .await;
    assert_eq!(
        c.api("hupall").await,
        "+OK hangup all channels with cause MANAGER_REQUEST\n"
    );
    let evs = c
        .events_until(|e| name(e) == "CHANNEL_HANGUP_COMPLETE" && hv(e, "Unique-ID") == "k3")
        .await;
    assert_eq!(hv(&evs[evs.len() - 1], "Hangup-Cause"), "MANAGER_REQUEST");

    // Hooks: originate log, network cut, hangup_all.
    let log = sw.originates();
    assert_eq!(log.commands.len(), 4);
    assert_eq!(log.counts.get("k1"), Some(&1));
    assert_eq!(log.commands[3].variable("campaign"), Some("c2"));
    c.send("bgapi originate {origination_uuid=k5}user/8001 &park()\n\n")
        .await;
    c.reply_after_events().await;
    c.send("bgapi originate {origination_uuid=k5}user/8001 &park()\nJob-UUID: dup\n\n")
        .await;
    c.reply_after_events().await;
    let evs = c
        .events_until(|e| name(e) == "BACKGROUND_JOB" && hv(e, "Job-UUID") == "dup")
        .await;
    assert_eq!(body(&evs[evs.len() - 1]), "-ERR DESTINATION_OUT_OF_ORDER\n");
    assert_eq!(sw.originates().counts.get("k5"), Some(&2));
    let mut other = Client::login(&sw).await;
    assert_eq!(sw.sessions(), 2);
    assert_eq!(sw.drop_connections(), 2);
    c.closed().await;
    other.closed().await;
    assert_eq!(sw.live_calls(), 1, "a network cut ends no call");
    assert_eq!(sw.hangup_all(HangupCause::NormalClearing), 1);
    let deadline = Instant::now() + WAIT;
    while sw.live_calls() > 0 {
        assert!(Instant::now() < deadline, "call did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_adds_the_agent_leg_and_bridge_events() {
    // 5001 answers after 2 s and talks 60 s; 8001 answers at once: at speed
    // 60 the customer hangs up after 1 s.
    let sw = switch_with(60.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain ALL\n\n").await;
    c.reply().await;
    c.send("bgapi originate {origination_uuid=br-1}loopback/5001/customers &bridge(loopback/8001/agents)\n\n").await;
    c.reply().await;
    let evs = c.events_until(|e| is_destroyed(e, "br-1")).await;
    let bridge = evs
        .iter()
        .find(|e| name(e) == "CHANNEL_BRIDGE")
        .expect("bridge event");
    let agent = hv(bridge, "Bridge-B-Unique-ID");
    assert_eq!(hv(bridge, "Bridge-A-Unique-ID"), "br-1");
    assert_eq!(hv(bridge, "Unique-ID"), "br-1");
    assert_eq!(hv(bridge, "Other-Leg-Unique-ID"), agent);
    assert_eq!(hv(bridge, "Other-Type"), "originatee");
    assert_eq!(hv(bridge, "Other-Leg-Channel-Name"), "loopback/8001-a");
    let unbridge = evs
        .iter()
        .find(|e| name(e) == "CHANNEL_UNBRIDGE")
        .expect("unbridge");
    assert_eq!(hv(unbridge, "Bridge-B-Unique-ID"), agent);
    let agent_events: Vec<String> = evs
        .iter()
        .filter(|e| hv(e, "Unique-ID") == agent)
        .map(name)
        .collect();
    for expected in [
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
    ] {
        assert!(
            agent_events.contains(&expected.to_string()),
            "agent leg lacks {expected}: {agent_events:?}"
        );
    }
    let agent_create = evs
        .iter()
        .find(|e| name(e) == "CHANNEL_CREATE" && hv(e, "Unique-ID") == agent)
        .expect("agent create");
    assert_eq!(hv(agent_create, "Channel-Call-UUID"), "br-1");
    assert_eq!(hv(agent_create, "Other-Type"), "originator");
    assert_eq!(hv(agent_create, "Caller-Destination-Number"), "8001");
    let bg = evs
        .iter()
        .find(|e| name(e) == "BACKGROUND_JOB")
        .expect("job");
    assert_eq!(body(bg), "+OK br-1\n");
    let order: Vec<String> = evs
        .iter()
        .filter(|e| hv(e, "Unique-ID") == "br-1")
        .map(name)
        .filter(|n| n != "CHANNEL_STATE" && n != "CHANNEL_CALLSTATE" && n != "CODEC")
        .collect();
    assert_eq!(
        order,
        [
            "CHANNEL_OUTGOING",
            "CHANNEL_CREATE",
            "CHANNEL_ORIGINATE",
            "CHANNEL_PROGRESS",
            "CHANNEL_ANSWER",
            "CALL_UPDATE",
            "CHANNEL_EXECUTE",
            "CHANNEL_BRIDGE",
            "CHANNEL_HANGUP",
            "CHANNEL_UNBRIDGE",
            "CHANNEL_EXECUTE_COMPLETE",
            "CHANNEL_HANGUP_COMPLETE",
            "CHANNEL_DESTROY",
        ]
    );
    let deadline = Instant::now() + WAIT;
    while sw.live_channels() > 0 {
        assert!(Instant::now() < deadline, "agent leg left behind");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_outcomes() {
    let scenario = r#"
        [[rule]]
        ring = 0.0
        outcomes = [
          { outcome = "answer", weight = 1, talk = 0.0 },
          { outcome = "busy", weight = 1 },
          { outcome = "fail", cause = "NO_ROUTE_DESTINATION", weight = 1 },
        ]
    "#;
    let mut runs = Vec::new();
    for seed in [7, 7, 8] {
        let sw = SimSwitch::start(SimConfig {
            seed,
            scenario: Scenario::from_toml(scenario).expect("scenario"),
            heartbeat_interval: Duration::from_secs(3600),
            ..SimConfig::default()
        })
        .await
        .expect("start");
        let mut c = Client::login(&sw).await;
        let mut outcomes = Vec::new();
        for i in 0..24 {
            let out = c
                .api(&format!(
                    "originate sofia/gateway/gw/155500{:02} &park()",
                    i % 6
                ))
                .await;
            outcomes.push(if out.starts_with("+OK ") {
                "+OK".to_string()
            } else {
                out
            });
        }
        let distinct: HashSet<&String> = outcomes.iter().collect();
        assert!(distinct.len() > 1, "the weights are used: {outcomes:?}");
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
}

// ---------------------------------------------------------------------------
// Scale.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls() {
    const CALLS: usize = 10_000;
    // Every number answers after 1 s and talks for a day: no call ends on its
    // own however slow the machine, so all are up at once until the test
    // hangs them all up.
    let scenario = "[[rule]]\nring = 1.0\ntalk = 86400.0\n";
    let sw = switch_with(10.0, Some(scenario)).await;
    let started = Instant::now();

    // A session that subscribes to everything and never reads: it must be
    // dropped (lost events), not slow the switch down.
    let mut stalled = Client::login(&sw).await;
    stalled.send("event plain ALL\n\n").await;
    assert_eq!(stalled.reply().await, "+OK event listener enabled plain");

    let mut watch = Client::login(&sw).await;
    watch
        .send("event plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE\n\n")
        .await;
    assert_eq!(watch.reply().await, "+OK event listener enabled plain");

    // The dialer writes all originates at once from its own task.
    let mut dialer = Client::login(&sw).await;
    let mut commands = String::with_capacity(CALLS * 120);
    for i in 0..CALLS {
        commands.push_str(&format!(
            "bgapi originate {{origination_uuid=load-{i}}}sofia/gateway/gw/1555{:04} &park()\nJob-UUID: job-{i}\n\n",
            i % 10_000
        ));
    }
    let writer = tokio::spawn(async move {
        dialer.send(&commands).await;
        let mut replies = 0;
        while replies < CALLS {
            match dialer.msg().await {
                EslMessage::CommandReply { reply, .. } if reply.ok => replies += 1,
                other => panic!("{other:?}"),
            }
        }
        dialer
    });

    let mut ok = 0;
    let mut ended = 0;
    let mut peak = 0;
    let mut sessions_then = 0;
    let mut results: HashMap<String, usize> = HashMap::new();
    while ended < CALLS {
        let e = watch.event().await;
        match name(&e).as_str() {
            "BACKGROUND_JOB" => {
                assert_eq!(
                    body(&e),
                    format!("+OK {}\n", hv(&e, "Job-UUID").replace("job-", "load-"))
                );
                ok += 1;
                if ok == CALLS {
                    peak = sw.live_calls();
                    sessions_then = sw.sessions();
                    println!(
                        "all {CALLS} answered after {:?}; {peak} live at once",
                        started.elapsed()
                    );
                    assert_eq!(sw.hangup_all(HangupCause::NormalClearing), CALLS);
                }
            }
            "CHANNEL_HANGUP_COMPLETE" => {
                *results.entry(hv(&e, "Hangup-Cause")).or_default() += 1;
                ended += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    println!("all {CALLS} ended after {:?}", started.elapsed());
    assert_eq!(ok, CALLS);
    assert_eq!(peak, CALLS, "every call was up at the same time");
    assert_eq!(
        results,
        HashMap::from([("NORMAL_CLEARING".to_string(), CALLS)])
    );
    let dialer = writer.await.expect("dialer task");
    drop(dialer);
    let deadline = Instant::now() + WAIT;
    while sw.live_calls() > 0 || sw.live_channels() > 0 {
        assert!(Instant::now() < deadline, "{} calls left", sw.live_calls());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sw.originates().counts.len(), CALLS);
    // The stalled session was killed for losing events: its socket closes,
    // possibly in the middle of a frame (the switch stopped writing to it).
    let mut tail = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = timeout(WAIT, stalled.rd.read(&mut chunk))
            .await
            .expect("the stalled session is closed, not left hanging")
            .expect("read");
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        let keep = tail.len().saturating_sub(200);
        tail.drain(..keep);
    }
    println!(
        "stalled session closed after {:?} (disconnect notice delivered: {})",
        started.elapsed(),
        tail.ends_with(b"killed listener because of lost events\n")
    );
    assert_eq!(
        sessions_then, 2,
        "by the time all calls were up the stalled session was dropped, the others kept"
    );
    assert_eq!(sw.sessions(), 1, "only the watching session is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_media_extensions_heartbeat_and_sendevent() {
    let scenario = r#"
        [[rule]]
        prefix = "7"
        ring = 0.05
        early_media = true
        talk = 0.05

        [[rule]]
        ring = 0.05
        talk = 0.05

        [[extension]]
        name = "connect"
        context = "agents"
        app = "park"
    "#;
    let sw = SimSwitch::start(SimConfig {
        scenario: Scenario::from_toml(scenario).expect("scenario"),
        heartbeat_interval: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await
    .expect("start");
    let mut c = Client::login(&sw).await;
    c.send("event plain ALL\n\n").await;
    c.reply().await;

    let evs = bg_call(&mut c, "em-1", "sofia/gateway/gw/7001", "").await;
    let n = names(&evs);
    let at = n
        .iter()
        .position(|x| x == "CHANNEL_PROGRESS_MEDIA")
        .expect("early media");
    assert_eq!(n[at - 2], "CHANNEL_PROGRESS");
    assert_eq!(hv(&evs[at], "Answer-State"), "early");
    assert_eq!(n[at + 1], "CHANNEL_CALLSTATE");
    assert_eq!(hv(&evs[at + 1], "Channel-Call-State"), "EARLY");
    assert_eq!(hv(&evs[at + 1], "Original-Channel-Call-State"), "RINGING");
    let done = evs
        .iter()
        .find(|e| name(e) == "CHANNEL_HANGUP_COMPLETE")
        .expect("done");
    assert!(done.get("variable_progress_media_stamp").is_some());

    // An extension: the leg is transferred, then runs what the scenario says.
    c.send(
        "bgapi originate {origination_uuid=ext-1}loopback/1001/customers connect XML agents\n\n",
    )
    .await;
    c.reply().await;
    let evs = c.events_until(|e| is_destroyed(e, "ext-1")).await;
    let leg: Vec<&EslEvent> = evs
        .iter()
        .filter(|e| hv(e, "Unique-ID") == "ext-1")
        .collect();
    let routing = leg
        .iter()
        .position(|e| {
            name(e) == "CHANNEL_STATE"
                && hv(e, "Channel-State") == "CS_ROUTING"
                && hv(e, "Answer-State") == "answered"
        })
        .expect("transfer to the dialplan");
    let r = leg[routing];
    assert_eq!(hv(r, "Caller-Destination-Number"), "connect");
    assert_eq!(hv(r, "Caller-Context"), "agents");
    assert_eq!(hv(r, "Caller-RDNIS"), "1001");
    assert!(hv(r, "Caller-Transfer-Source").ends_with(":bl_xfer:connect/agents/XML"));
    assert_eq!(hv(r, "Caller-Profile-Index"), "2");
    let after: Vec<String> = leg[routing + 1..].iter().map(|e| name(e)).collect();
    assert_eq!(
        &after[..4],
        [
            "CALL_UPDATE",
            "CHANNEL_STATE",
            "CHANNEL_EXECUTE",
            "CHANNEL_PARK"
        ]
    );
    // The result went out before the transfer, as in the real bridge capture.
    let bg = evs
        .iter()
        .position(|e| name(e) == "BACKGROUND_JOB")
        .expect("job");
    let transfer = evs
        .iter()
        .position(|e| std::ptr::eq(e, leg[routing]))
        .expect("in the stream");
    assert!(bg < transfer);

    // Heartbeats, each followed by RE_SCHEDULE, with the captured headers.
    let hb = c.events_until(|e| name(e) == "HEARTBEAT").await;
    let hb = &hb[hb.len() - 1];
    assert_eq!(hv(hb, "Event-Info"), "System Ready");
    assert_eq!(hv(hb, "FreeSWITCH-Version"), "1.10.12-release~64bit");
    assert_eq!(hv(hb, "Session-Count"), "0");
    assert!(hv(hb, "Up-Time").starts_with("0 years, 0 days, 0 hours, 0 minutes, "));
    let next = c.event().await;
    assert_eq!(name(&next), "RE_SCHEDULE");
    assert_eq!(hv(&next, "Task-Desc"), "heartbeat");

    // sendevent: the client's own event, to those subscribed to it.
    let mut custom = Client::login(&sw).await;
    custom.send("event plain CUSTOM dialpop::test\n\n").await;
    assert_eq!(custom.reply().await, "+OK event listener enabled plain");
    c.send("sendevent CUSTOM\nEvent-Subclass: dialpop::test\nX-Thing: 42\n\n")
        .await;
    let reply = loop {
        match c.msg().await {
            EslMessage::CommandReply { reply, .. } => break reply,
            EslMessage::Event(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(
        reply.ok && uuid::Uuid::parse_str(&reply.text).is_ok(),
        "{reply:?}"
    );
    let e = custom.event().await;
    assert_eq!(name(&e), "CUSTOM");
    assert_eq!(hv(&e, "X-Thing"), "42");
    assert_eq!(hv(&e, "Event-UUID"), reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_gets_replies_not_panics() {
    let sw = switch_with(1000.0, None).await;
    let mut c = Client::login(&sw).await;
    c.send("event plain ALL\n\n").await;
    c.reply().await;
    let odd = [
        "api originate {",
        "api originate }{ &",
        "api originate {a}loopback/1 &park()",
        "api originate {a=b,,=c}loopback/1001/x &park(",
        "api originate loopback/ &park()",
        "api originate sofia/gateway//1 &park()",
        "api originate sofia/ 1000",
        "api originate user/@ &park()",
        "api originate 'loopback/1001 &park()",
        "api originate loopback/1001 &bridge(pigeon/1)",
        "api originate loopback/1001 &bridge()",
        "api originate loopback/1001 &park() XML default a b 999999999999999999999",
        "api originate {originate_timeout=-5}loopback/1001 &park()",
        "api originate {originate_timeout=99999999999999999999}loopback/3001 &park()",
        "api originate {origination_uuid=}loopback/1001 &park()",
        "api originate loopback/1001 &park() a b c d e f g h",
        "api originate ünïcødé/1 &pärk()",
        "api uuid_kill",
        "api uuid_kill  ",
        "api uuid_kill x 9999",
        "api hupall 12345 a",
        "api show",
        "api show channels as xml",
        "api show channels as",
        "api ",
        "api  status",
        "bgapi ",
        "filter",
        "filter ",
        "filter delete",
        "filter delete ",
        "filter add",
        "filter Event-Name /(unclosed/",
        "filter Event-Name /[/i",
        "event xml",
        "event CUSTOM",
        "nixevent CUSTOM a b",
        "myevents",
        "myevents  ",
        "sendmsg",
        "sendevent",
        "sendevent \u{1F600}",
        "log 99",
        "log \u{1F600}",
        "divert_events on",
        "\u{1F600}",
    ];
    for cmd in odd {
        c.send(&format!("{cmd}\n\n")).await;
        // Every command gets exactly one answer; events may come between.
        loop {
            match c.msg().await {
                EslMessage::CommandReply { .. } | EslMessage::ApiResponse { .. } => break,
                EslMessage::Event(_) => {}
                other => panic!("{cmd}: {other:?}"),
            }
        }
    }
    c.send("event plain BACKGROUND_JOB\n\n").await;
    c.reply_after_events().await;
    assert_eq!(c.api("hostname").await, "vm");
    // A very long line and a huge Content-Length end only this session.
    let mut big = Client::login(&sw).await;
    big.send(&format!("api {}\n\n", "x".repeat(200_000))).await;
    big.closed().await;
    let mut huge = Client::login(&sw).await;
    huge.send("sendevent CUSTOM\nContent-Length: 99999999999\n\n")
        .await;
    huge.closed().await;
    assert_eq!(c.api("hostname").await, "vm");
    sw.hangup_all(HangupCause::NormalClearing);
}
