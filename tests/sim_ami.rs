//! The simulated Asterisk over real TCP, read with dialpop's own AMI codec
//! and compared with what Asterisk 22.10.1 really sent
//! (`../shared/fixtures/real/asterisk_*.txt`).

use bytes::BytesMut;
use dialpop::switch::ami::codec::encode_action;
use dialpop::switch::ami::mapping::call_event;
use dialpop::switch::ami::{AmiClientCodec, AmiMessage, AmiPacket, PacketKind};
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, Scan, scan_frame};
use dialpop::switch::esl::{EslFrame, EslMessage};
use dialpop::switch::sim::{Scenario, SimConfig, SimProtocol, SimSwitch};
use dialpop::switch::{CallEventKind, HangupCause};
use futures::StreamExt;
use md5::{Digest, Md5};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;
use tokio_util::codec::{Decoder, FramedRead};

const WAIT: Duration = Duration::from_secs(15);

fn fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p} is required: {e}"))
}

fn config(speed: f64, scenario: Option<&str>) -> SimConfig {
    SimConfig {
        protocol: SimProtocol::Ami,
        speed,
        scenario: match scenario {
            Some(text) => Scenario::from_toml(text).expect("test scenario is valid"),
            None => Scenario::default(),
        },
        ..SimConfig::default()
    }
}

async fn switch_with(speed: f64, scenario: Option<&str>) -> SimSwitch {
    SimSwitch::start(config(speed, scenario))
        .await
        .expect("switch starts")
}

/// Every packet of a capture of what Asterisk sent (the banner dropped).
fn capture_packets(bytes: &[u8]) -> Vec<AmiPacket> {
    let mut buf = BytesMut::from(bytes);
    let mut codec = AmiClientCodec::default();
    let mut out = Vec::new();
    while let Some(m) = codec.decode(&mut buf).expect("capture decodes") {
        if let AmiMessage::Packet(p) = m {
            out.push(p);
        }
    }
    assert!(buf.is_empty(), "capture ends with a whole packet");
    out
}

/// The packets a client sent, as raw text blocks (each with its blank line).
fn sent_blocks(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split("\r\n\r\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| format!("{b}\r\n\r\n"))
        .collect()
}

fn action(pairs: &[(&str, &str)]) -> String {
    let mut b = BytesMut::new();
    encode_action(pairs, &mut b).expect("valid action");
    String::from_utf8_lossy(&b).into_owned()
}

fn get(p: &AmiPacket, k: &str) -> String {
    p.get_str(k).map(|v| v.into_owned()).unwrap_or_default()
}

fn keys(p: &AmiPacket) -> Vec<String> {
    p.headers
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn event_name(p: &AmiPacket) -> Option<String> {
    match p.kind() {
        PacketKind::Event(e) => Some(e),
        _ => None,
    }
}

fn is_event(p: &AmiPacket, name: &str) -> bool {
    event_name(p).as_deref() == Some(name)
}

struct Client {
    rd: FramedRead<OwnedReadHalf, AmiClientCodec>,
    wr: OwnedWriteHalf,
}

impl Client {
    /// Connected, banner checked.
    async fn connect(sw: &SimSwitch) -> Client {
        let s = TcpStream::connect(sw.local_addr()).await.expect("connect");
        let (rd, wr) = s.into_split();
        let mut c = Client {
            rd: FramedRead::new(rd, AmiClientCodec::default()),
            wr,
        };
        match timeout(WAIT, c.rd.next()).await.expect("banner in time") {
            Some(Ok(AmiMessage::Banner(b))) => assert_eq!(b, "Asterisk Call Manager/11.0.0"),
            other => panic!("expected the banner, got {other:?}"),
        }
        c
    }

    /// Logged in as the default user with `events`; the reply checked, and
    /// FullyBooted and SuccessfulAuth read when the mask takes them.
    async fn login(sw: &SimSwitch, events: &str) -> Client {
        let mut c = Client::connect(sw).await;
        c.send(&action(&[
            ("Action", "Login"),
            ("ActionID", "login"),
            ("Username", "dialpop"),
            ("Secret", "ClueCon"),
            ("Events", events),
        ]))
        .await;
        let r = c.packet().await;
        assert_eq!(get(&r, "Message"), "Authentication accepted", "{r:?}");
        if events == "on" {
            assert!(is_event(&c.packet().await, "FullyBooted"));
            assert!(is_event(&c.packet().await, "SuccessfulAuth"));
        }
        c
    }

    async fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).await.expect("send");
    }

    /// The next packet; `None` at the end of the stream.
    async fn next(&mut self) -> Option<AmiPacket> {
        match timeout(WAIT, self.rd.next())
            .await
            .expect("a packet in time")
        {
            None => None,
            Some(Ok(AmiMessage::Packet(p))) => Some(p),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }

    async fn packet(&mut self) -> AmiPacket {
        self.next()
            .await
            .expect("a packet, not the end of the stream")
    }

    /// The next Response, skipping the events before it.
    async fn response(&mut self) -> AmiPacket {
        loop {
            let p = self.packet().await;
            if matches!(p.kind(), PacketKind::Response(_)) {
                return p;
            }
        }
    }

    async fn eof(&mut self) {
        assert!(self.next().await.is_none(), "expected the switch to close");
    }

    /// Packets up to and including the first for which `done` holds.
    async fn until(&mut self, mut done: impl FnMut(&AmiPacket) -> bool) -> Vec<AmiPacket> {
        let mut out = Vec::new();
        loop {
            let p = self.packet().await;
            let stop = done(&p);
            out.push(p);
            if stop {
                return out;
            }
        }
    }

    /// Every event of the call whose ;1 is `id`, up to its last Hangup.
    async fn call_events(&mut self, id: &str) -> Vec<AmiPacket> {
        let mut out = Vec::new();
        let mut hangups = 0;
        let mut halves = 0;
        loop {
            let p = self.packet().await;
            let mine = [
                "Uniqueid",
                "Linkedid",
                "DestLinkedid",
                "LocalOneLinkedid",
                "UniqueID",
            ]
            .iter()
            .any(|k| {
                let v = get(&p, k);
                v == id || v == format!("{id};2")
            });
            // Bridge events carry no channel ids (one call at a time here).
            let bridge = matches!(
                event_name(&p).as_deref(),
                Some("BridgeCreate" | "BridgeDestroy")
            );
            if !mine && !bridge {
                continue;
            }
            if is_event(&p, "Newchannel") {
                halves += 1;
            }
            if is_event(&p, "Hangup") {
                hangups += 1;
            }
            out.push(p);
            if hangups > 0 && hangups == halves {
                // The Cdrs of a failed call may follow the last Hangup.
                return out;
            }
        }
    }
}

/// What of a packet must match the capture: every key in order, and every
/// value except ids, times and addresses; channel names without their
/// sequence number; ids as the order they first appear in.
fn normalize(p: &AmiPacket, ids: &mut HashMap<String, String>) -> Vec<String> {
    const VOLATILE: &[&str] = &[
        "Uptime",
        "LastReload",
        "EventTV",
        "SessionID",
        "LocalAddress",
        "RemoteAddress",
        "SessionTV",
        "StartTime",
        "AnswerTime",
        "EndTime",
        "Duration",
        "BillableSeconds",
        "Timestamp",
        "AccountID",
    ];
    let seq = regex::Regex::new(r"-[0-9a-f]{8}(;[12])?").expect("regex");
    let var = get(p, "Variable");
    let timed = [
        "ANSWEREDTIME",
        "ANSWEREDTIME_MS",
        "DIALEDTIME",
        "DIALEDTIME_MS",
    ];
    let noop = get(p, "Application") == "NoOp";
    p.headers
        .iter()
        .map(|(k, v)| {
            let k = String::from_utf8_lossy(k).into_owned();
            let v = String::from_utf8_lossy(v).into_owned();
            let v = if VOLATILE.contains(&k.as_str()) {
                "<volatile>".to_string()
            } else if k.ends_with("Uniqueid") || k.ends_with("Linkedid") || k == "UniqueID" {
                let n = ids.len();
                ids.entry(v).or_insert_with(|| format!("<id{n}>")).clone()
            } else if k == "Value" && timed.contains(&var.as_str()) && !v.is_empty() {
                "<time>".to_string()
            } else if k == "AppData" && noop {
                // The lab's dialplan says what each number does in its own words.
                "<noop text>".to_string()
            } else {
                seq.replace_all(&v, "-N$1").into_owned()
            };
            format!("{k}: {v}")
        })
        .collect()
}

fn assert_same_packets(got: &[AmiPacket], want: &[AmiPacket]) {
    let (mut gi, mut wi) = (HashMap::new(), HashMap::new());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (normalize(g, &mut gi), normalize(w, &mut wi));
        assert_eq!(g, w, "packet {i} differs from the capture");
    }
    let names = |ps: &[AmiPacket]| -> Vec<String> {
        ps.iter()
            .map(|p| event_name(p).unwrap_or_else(|| format!("Response: {}", get(p, "Response"))))
            .collect()
    };
    assert_eq!(names(got), names(want), "same packets in the same order");
}

/// Plays `sent` (the capture's client side) against the switch: every
/// action but the last at once, the last (Logoff) once as many Hangups as
/// the capture has came; returns everything up to the end of the stream.
async fn replay(sw: &SimSwitch, sent: &[String], hangups: usize) -> Vec<AmiPacket> {
    let mut c = Client::connect(sw).await;
    let (logoff, rest) = sent.split_last().expect("a session");
    c.send(&rest.concat()).await;
    let mut seen = 0;
    let mut got = c
        .until(|p| {
            if is_event(p, "Hangup") {
                seen += 1;
            }
            seen == hangups
        })
        .await;
    c.send(logoff).await;
    while let Some(p) = c.next().await {
        got.push(p);
    }
    got
}

fn with_channel_id(originate: &str, id: &str) -> String {
    let body = originate.trim_end_matches("\r\n");
    format!("{body}\r\nChannelId: {id}\r\n\r\n")
}

// ---------------------------------------------------------------------------
// Against the captures.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_like_the_real_one_gets_the_packets_of_the_real_one() {
    let want = capture_packets(&fixture("real/asterisk_answered.txt"));
    let sent = sent_blocks(&fixture("real/asterisk_answered.sent.txt"));
    assert_eq!(sent.len(), 3, "Login, Originate, Logoff");
    let hangups = want.iter().filter(|p| is_event(p, "Hangup")).count();
    let sw = SimSwitch::start(SimConfig {
        ami_username: "dialer".into(),
        password: "dialer".into(),
        ..config(10.0, None)
    })
    .await
    .expect("start");
    let started = Instant::now();
    let got = replay(&sw, &sent, hangups).await;
    assert_same_packets(&got, &want);
    // 1 s of ring and 5 s of talk at speed 10.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // The same with a ChannelId: the same packets, and the ;1 is the id.
    let id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let mut sent2 = sent.clone();
    sent2[1] = with_channel_id(&sent[1], id);
    let got = replay(&sw, &sent2, hangups).await;
    assert_same_packets(&got, &want);
    let newchannels: Vec<&AmiPacket> = got.iter().filter(|p| is_event(p, "Newchannel")).collect();
    assert_eq!(get(newchannels[0], "Uniqueid"), id);
    assert_eq!(get(newchannels[1], "Uniqueid"), format!("{id};2"));
    assert_eq!(get(newchannels[1], "Linkedid"), id);
    let response = got
        .iter()
        .find(|p| is_event(p, "OriginateResponse"))
        .expect("OriginateResponse");
    assert_eq!(get(response, "Uniqueid"), id);
    assert_eq!(get(response, "ActionID"), "dialer-answered-1001");
    assert_eq!(sw.live_calls(), 0);
    assert_eq!(sw.originates().counts.get(id), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_bridge_like_the_real_one() {
    let want = capture_packets(&fixture("real/asterisk_agent_bridge.txt"));
    let sent = sent_blocks(&fixture("real/asterisk_agent_bridge.sent.txt"));
    let hangups = want.iter().filter(|p| is_event(p, "Hangup")).count();
    assert_eq!(hangups, 4);
    // The lab: 5XXX answers after 2 s and stays 60 s, the agent answers at
    // once and hangs up after 10 s; agents/connect dials Local/8001@agents.
    let scenario = r#"
        [[rule]]
        pattern = "*5XXX"
        ring = 2.0
        talk = 60.0

        [[rule]]
        pattern = "*8XXX"
        ring = 0.0
        talk = 10.0

        [[extension]]
        name = "connect"
        context = "agents"
        app = "bridge"
        data = "Local/8001@agents,20"
    "#;
    let sw = SimSwitch::start(SimConfig {
        ami_username: "dialer".into(),
        password: "dialer".into(),
        ..config(10.0, Some(scenario))
    })
    .await
    .expect("start");
    let got = replay(&sw, &sent, hangups).await;
    assert_same_packets(&got, &want);
    assert_eq!(sw.live_calls(), 0);
    assert_eq!(sw.live_channels(), 0);
}

// ---------------------------------------------------------------------------
// Outcomes and the mapping of their events.

/// `Event[ half][ key=value…]` for the keys that tell the story.
fn signature(p: &AmiPacket) -> String {
    let mut s = event_name(p).unwrap_or_default();
    let channel = get(p, "Channel");
    if let Some(half) = channel.rsplit(';').next().filter(|_| channel.contains(';')) {
        s.push_str(&format!(" ;{half}"));
    }
    for k in [
        "Application",
        "ChannelStateDesc",
        "DialStatus",
        "Cause",
        "Response",
        "Reason",
        "Disposition",
    ] {
        let v = get(p, k);
        let show = match (event_name(p).as_deref(), k) {
            (Some("Newexten"), "Application") => true,
            (Some("Newstate"), "ChannelStateDesc") => true,
            (_, "Application" | "ChannelStateDesc") => false,
            _ => !v.is_empty(),
        };
        if show {
            s.push_str(&format!(" {k}={v}"));
        }
    }
    s
}

fn originate_action(id: &str, number: &str, action_id: &str) -> String {
    action(&[
        ("Action", "Originate"),
        ("ActionID", action_id),
        ("Channel", &format!("Local/{number}@customers")),
        ("Application", "Wait"),
        ("Data", "10"),
        ("CallerID", "\"Dialer\" <5550100>"),
        ("Timeout", "15000"),
        ("Async", "true"),
        ("ChannelId", id),
        ("Variable", &format!("dialpop_call_id={id}")),
    ])
}

/// The mapped events of the call `id` (its ;1), in order.
fn mapped(events: &[AmiPacket], id: &str) -> Vec<CallEventKind> {
    events
        .iter()
        .filter_map(call_event)
        .filter(|e| e.call_id.0 == id)
        .map(|e| e.kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_no_answer_and_congestion_end_as_on_the_real_switch() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw, "on").await;
    let mut tails = HashMap::new();
    let mut maps = HashMap::new();
    for (n, number) in ["1001", "2001", "3001", "4001"].iter().enumerate() {
        let id = format!("outcome-{n}");
        c.send(&originate_action(&id, number, &format!("a-{n}")))
            .await;
        let r = c.packet().await;
        assert_eq!(get(&r, "Message"), "Originate successfully queued");
        assert_eq!(get(&r, "ActionID"), format!("a-{n}"));
        let events = c.call_events(&id).await;
        // The Cdr and OriginateResponse of a failed call may come after
        // the last Hangup: collect until both are there.
        let mut events = events;
        while !events.iter().any(|p| is_event(p, "OriginateResponse"))
            || events.iter().filter(|p| is_event(p, "Cdr")).count() < 2
        {
            let p = c.packet().await;
            if get(&p, "UniqueID").starts_with(&id) || get(&p, "Uniqueid").starts_with(&id) {
                events.push(p);
            }
        }
        let start = events
            .iter()
            .position(|p| is_event(p, "DialBegin"))
            .expect("DialBegin");
        tails.insert(
            *number,
            events[start..].iter().map(signature).collect::<Vec<_>>(),
        );
        maps.insert(*number, mapped(&events, &id));
    }
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        tails["1001"],
        v(&[
            "DialBegin",
            "Newexten ;2 Application=NoOp",
            "Newexten ;2 Application=Ringing",
            "Newstate ;1 ChannelStateDesc=Ringing",
            "Newexten ;2 Application=Wait",
            "DialState DialStatus=RINGING",
            "Newexten ;2 Application=Answer",
            "Newstate ;2 ChannelStateDesc=Up",
            "Newstate ;1 ChannelStateDesc=Up",
            "DialEnd DialStatus=ANSWER",
            "OriginateResponse ;1 Response=Success Reason=4",
            "Newexten ;2 Application=Wait",
            "Newexten ;2 Application=Hangup",
            "SoftHangupRequest ;2 Cause=16",
            "HangupRequest ;1 Cause=16",
            "Hangup ;2 Cause=16",
            "Cdr ;2 Disposition=ANSWERED",
            "Cdr ;1 Disposition=ANSWERED",
            "Hangup ;1 Cause=16",
        ])
    );
    // PROTOCOLS.md §5: busy.
    assert_eq!(
        tails["2001"],
        v(&[
            "DialBegin",
            "Newexten ;2 Application=NoOp",
            "Newexten ;2 Application=Busy",
            "Newstate ;2 ChannelStateDesc=Busy",
            "DialEnd DialStatus=BUSY",
            "HangupRequest ;2 Cause=0",
            "Cdr ;1 Disposition=BUSY",
            "OriginateResponse Response=Failure Reason=5",
            "Hangup ;1 Cause=0",
            "Cdr ;2 Disposition=BUSY",
            "Hangup ;2 Cause=17",
        ])
    );
    // No answer: no DialEnd; at the Timeout (15 s, 1.5 s here).
    assert_eq!(
        tails["3001"],
        v(&[
            "DialBegin",
            "Newexten ;2 Application=NoOp",
            "Newexten ;2 Application=Ringing",
            "Newstate ;1 ChannelStateDesc=Ringing",
            "Newexten ;2 Application=Wait",
            "DialState DialStatus=RINGING",
            "HangupRequest ;2 Cause=19",
            "OriginateResponse Response=Failure Reason=3",
            "Hangup ;1 Cause=19",
            "Hangup ;2 Cause=19",
            "Cdr ;1 Disposition=NO ANSWER",
            "Cdr ;2 Disposition=NO ANSWER",
        ])
    );
    assert_eq!(
        tails["4001"],
        v(&[
            "DialBegin",
            "Newexten ;2 Application=NoOp",
            "Newexten ;2 Application=Congestion",
            "Newstate ;2 ChannelStateDesc=Busy",
            "DialEnd DialStatus=CONGESTION",
            "HangupRequest ;2 Cause=0",
            "OriginateResponse Response=Failure Reason=8",
            "Cdr ;1 Disposition=FAILED",
            "Hangup ;1 Cause=0",
            "Cdr ;2 Disposition=FAILED",
            "Hangup ;2 Cause=34",
        ])
    );
    // dialpop's mapping of these events, keyed by the ChannelId.
    assert_eq!(
        maps["1001"],
        vec![
            CallEventKind::Originated,
            CallEventKind::Ringing,
            CallEventKind::Answered,
            CallEventKind::HungUp {
                cause: HangupCause::NormalClearing
            },
        ]
    );
    let failed = |cause| CallEventKind::OriginateFailed { cause };
    let hung_up_unknown = CallEventKind::HungUp {
        cause: HangupCause::Unspecified,
    };
    assert_eq!(
        maps["2001"],
        vec![
            CallEventKind::Originated,
            failed(HangupCause::UserBusy),
            hung_up_unknown.clone()
        ]
    );
    assert_eq!(
        maps["3001"],
        vec![
            CallEventKind::Originated,
            CallEventKind::Ringing,
            failed(HangupCause::NoAnswer),
            CallEventKind::HungUp {
                cause: HangupCause::NoAnswer
            },
        ]
    );
    assert_eq!(
        maps["4001"],
        vec![
            CallEventKind::Originated,
            failed(HangupCause::NormalCircuitCongestion),
            hung_up_unknown
        ]
    );
    // A failed originate reports the channel asked for and the ChannelId.
    assert_eq!(sw.live_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_bridge_through_dialpop_connect_maps_to_bridged() {
    let sw = switch_with(20.0, None).await;
    let mut c = Client::login(&sw, "on").await;
    let id = "bridge-1";
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "b1"),
        ("Channel", "Local/15551001@customers"),
        ("Context", "dialpop"),
        ("Exten", "dialpop_connect"),
        ("Priority", "1"),
        ("CallerID", "\"Dialer\" <5550100>"),
        ("Async", "true"),
        ("ChannelId", id),
        ("Variable", "DIALPOP_AGENT_DIAL=PJSIP/8001"),
        ("Variable", "dialpop_task_id=42"),
    ]))
    .await;
    assert_eq!(
        get(&c.response().await, "Message"),
        "Originate successfully queued"
    );
    let events = c.call_events(id).await;
    let names: Vec<String> = events.iter().map(signature).collect();
    let agent: Vec<&AmiPacket> = events
        .iter()
        .filter(|p| get(p, "Channel").starts_with("PJSIP/8001-"))
        .collect();
    assert!(!agent.is_empty(), "the agent's channel: {names:#?}");
    assert!(
        events.iter().any(|p| is_event(p, "Newexten")
            && get(p, "Application") == "Dial"
            && get(p, "AppData") == "PJSIP/8001"),
        "{names:#?}"
    );
    let begin = events
        .iter()
        .find(|p| is_event(p, "DialBegin") && get(p, "DestChannel").starts_with("PJSIP/8001-"))
        .expect("DialBegin to the agent");
    assert_eq!(get(begin, "Uniqueid"), id, "dialled from the customer's ;1");
    assert_eq!(get(begin, "DialString"), "8001");
    let order: Vec<&str> = events
        .iter()
        .filter_map(|p| match event_name(p).as_deref() {
            Some("BridgeCreate") => Some("BridgeCreate"),
            Some("BridgeEnter") => Some("BridgeEnter"),
            Some("BridgeLeave") => Some("BridgeLeave"),
            Some("BridgeDestroy") => Some("BridgeDestroy"),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "BridgeCreate",
            "BridgeEnter",
            "BridgeEnter",
            "BridgeLeave",
            "BridgeLeave",
            "BridgeDestroy"
        ]
    );
    // The customer (15551001: 1 s ring, 5 s talk) leaves first; the agent
    // (8XXX: stays) is hung up by Dial.
    let kinds = mapped(&events, id);
    assert_eq!(
        kinds,
        vec![
            CallEventKind::Originated,
            CallEventKind::Ringing,
            CallEventKind::Answered,
            CallEventKind::Bridged { other_leg: None },
            CallEventKind::HungUp {
                cause: HangupCause::NormalClearing
            },
        ],
        "{names:#?}"
    );
    assert_eq!(
        sw.originates().variables_of_each()[0][1],
        ("dialpop_task_id".to_string(), "42".to_string())
    );
    let deadline = Instant::now() + WAIT;
    while sw.live_channels() > 0 {
        assert!(Instant::now() < deadline, "channels left");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// Login and the replies to actions.

#[tokio::test]
async fn wrong_secret_fails_after_a_second_and_closes() {
    let sw = switch_with(1.0, None).await;
    for (user, secret) in [("dialpop", "wrong"), ("nobody", "ClueCon")] {
        let mut c = Client::connect(&sw).await;
        let t = Instant::now();
        c.send(&action(&[
            ("Action", "Login"),
            ("ActionID", "l1"),
            ("Username", user),
            ("Secret", secret),
        ]))
        .await;
        let r = c.packet().await;
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "Asterisk sleeps 1 s"
        );
        assert_eq!(keys(&r), ["Response", "ActionID", "Message"]);
        assert_eq!(get(&r, "Response"), "Error");
        assert_eq!(get(&r, "ActionID"), "l1");
        assert_eq!(get(&r, "Message"), "Authentication failed");
        c.eof().await;
    }
}

#[tokio::test]
async fn md5_login_with_the_challenge() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::connect(&sw).await;
    c.send(&action(&[("Action", "Challenge"), ("ActionID", "c0")]))
        .await;
    let r = c.packet().await;
    assert_eq!(
        (get(&r, "Response"), get(&r, "Message")),
        ("Error".into(), "Must specify AuthType".into())
    );
    c.send(&action(&[
        ("Action", "Challenge"),
        ("ActionID", "c1"),
        ("AuthType", "md5"),
    ]))
    .await;
    let r = c.packet().await;
    assert_eq!(keys(&r), ["Response", "ActionID", "Challenge"]);
    let challenge = get(&r, "Challenge");
    assert!(!challenge.is_empty() && challenge.bytes().all(|b| b.is_ascii_digit()));
    let key: String = Md5::digest(format!("{challenge}ClueCon").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    c.send(&action(&[
        ("Action", "Login"),
        ("ActionID", "l2"),
        ("AuthType", "MD5"),
        ("Username", "DialPop"),
        ("Key", &key),
        ("Events", "off"),
    ]))
    .await;
    let r = c.packet().await;
    assert_eq!(get(&r, "Message"), "Authentication accepted");
    // Events off: no FullyBooted; the session works.
    c.send(&action(&[("Action", "Ping"), ("ActionID", "p")]))
        .await;
    assert_eq!(get(&c.packet().await, "Ping"), "Pong");

    // A key made from another challenge fails.
    let mut d = Client::connect(&sw).await;
    d.send(&action(&[("Action", "Challenge"), ("AuthType", "MD5")]))
        .await;
    let _ = d.packet().await;
    d.send(&action(&[
        ("Action", "Login"),
        ("AuthType", "MD5"),
        ("Username", "dialpop"),
        ("Key", &key),
    ]))
    .await;
    assert_eq!(get(&d.packet().await, "Message"), "Authentication failed");
    d.eof().await;
}

#[tokio::test]
async fn before_login_only_login_challenge_and_logoff() {
    let sw = switch_with(1.0, None).await;
    let mut c = Client::connect(&sw).await;
    for a in ["Ping", "Originate", "CoreShowChannels", "Bogus"] {
        c.send(&action(&[("Action", a), ("ActionID", "x")])).await;
        let r = c.packet().await;
        assert_eq!(keys(&r), ["Response", "ActionID", "Message"]);
        assert_eq!(
            (get(&r, "Response"), get(&r, "Message")),
            ("Error".into(), "Permission denied".into()),
            "{a}"
        );
    }
    // No Action at all: that is said first, logged in or not.
    c.send("ActionID: y\r\nFoo: bar\r\n\r\n").await;
    let r = c.packet().await;
    assert_eq!(get(&r, "Message"), "Missing action in request");
    assert_eq!(get(&r, "ActionID"), "y");
    c.send("Action: \r\nActionID: z\r\n\r\n").await;
    assert_eq!(
        get(&c.packet().await, "Message"),
        "Missing action in request"
    );
    // A line without a colon is no header Asterisk looks up, not an error.
    c.send("this is not a header\r\n\r\n").await;
    assert_eq!(
        get(&c.packet().await, "Message"),
        "Missing action in request"
    );
    c.send("Action: Ping\r\nnonsense\r\nActionID: w\r\n\r\n")
        .await;
    let r = c.packet().await;
    assert_eq!(
        (get(&r, "ActionID"), get(&r, "Message")),
        ("w".into(), "Permission denied".into())
    );
    // Keys are case-insensitive; Logoff works before login.
    c.send("action: logoff\r\nactionid: bye\r\n\r\n").await;
    let r = c.packet().await;
    assert_eq!(keys(&r), ["Response", "ActionID", "Message"]);
    assert_eq!(get(&r, "Response"), "Goodbye");
    assert_eq!(get(&r, "ActionID"), "bye");
    assert_eq!(get(&r, "Message"), "Thanks for all the fish.");
    c.eof().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_to_actions() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw, "on").await;
    c.send(&action(&[
        ("Action", "Login"),
        ("ActionID", "again"),
        ("Username", "dialpop"),
        ("Secret", "ClueCon"),
    ]))
    .await;
    assert_eq!(get(&c.response().await, "Message"), "Already authenticated");

    c.send(&action(&[("Action", "FooBar"), ("ActionID", "u1")]))
        .await;
    let r = c.response().await;
    assert_eq!(get(&r, "Response"), "Error");
    assert_eq!(get(&r, "ActionID"), "u1");
    assert_eq!(
        get(&r, "Message"),
        "Invalid/unknown command: FooBar. Use Action: ListCommands to show available commands."
    );
    c.send("Action: ping\r\nActionID: p1\r\n\r\n").await;
    let r = c.response().await;
    assert_eq!(keys(&r), ["Response", "ActionID", "Ping", "Timestamp"]);
    assert_eq!(get(&r, "Ping"), "Pong");
    let ts = get(&r, "Timestamp");
    let (secs, micros) = ts.split_once('.').expect("seconds.micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{ts}");

    for (channel, message) in [
        ("", "Channel not specified"),
        ("15551001", "Invalid channel"),
    ] {
        c.send(&action(&[
            ("Action", "Originate"),
            ("ActionID", "o"),
            ("Channel", channel),
            ("Application", "Wait"),
            ("Async", "true"),
        ]))
        .await;
        let r = c.response().await;
        assert_eq!(
            (get(&r, "Response"), get(&r, "Message")),
            ("Error".into(), message.into()),
            "{channel}"
        );
        assert_eq!(get(&r, "ActionID"), "o");
    }
    c.send(&action(&[
        ("Action", "Originate"),
        ("Channel", "Local/1@c"),
        ("Timeout", "soon"),
    ]))
    .await;
    assert_eq!(get(&c.response().await, "Message"), "Invalid timeout");
    c.send(&action(&[
        ("Action", "Originate"),
        ("Channel", "Local/1@c"),
        ("Exten", "1"),
        ("Context", "c"),
    ]))
    .await;
    assert_eq!(
        get(&c.response().await, "Message"),
        "Originate with 'Exten' requires 'Context' and 'Priority'"
    );
    // An unknown driver: queued, then OriginateResponse Failure Reason 0
    // with the channel asked for and the ChannelId.
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "nodriver"),
        ("Channel", "Pigeon/1001"),
        ("Application", "Wait"),
        ("Async", "true"),
        ("ChannelId", "pigeon-1"),
    ]))
    .await;
    assert_eq!(
        get(&c.response().await, "Message"),
        "Originate successfully queued"
    );
    let r = c.until(|p| is_event(p, "OriginateResponse")).await;
    let r = r.last().expect("event");
    assert_eq!(
        (
            get(r, "Response"),
            get(r, "Reason"),
            get(r, "Channel"),
            get(r, "Uniqueid"),
            get(r, "ActionID")
        ),
        (
            "Failure".into(),
            "0".into(),
            "Pigeon/1001".into(),
            "pigeon-1".into(),
            "nodriver".into()
        )
    );
    // A synchronous originate answers when the call is answered.
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "sync"),
        ("Channel", "Local/1001@customers"),
        ("Application", "Wait"),
        ("Data", "1"),
    ]))
    .await;
    let t = Instant::now();
    let r = c.response().await;
    assert_eq!(
        (get(&r, "ActionID"), get(&r, "Message")),
        ("sync".into(), "Originate successfully queued".into())
    );
    assert!(
        t.elapsed() >= Duration::from_millis(90),
        "waited for the 0.1 s ring"
    );
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "sync2"),
        ("Channel", "Local/2001@customers"),
        ("Application", "Wait"),
    ]))
    .await;
    let r = c.response().await;
    assert_eq!(
        (get(&r, "Response"), get(&r, "Message")),
        ("Error".into(), "Originate failed".into())
    );

    c.send(&action(&[
        ("Action", "Events"),
        ("ActionID", "e1"),
        ("EventMask", "off"),
    ]))
    .await;
    let r = c.response().await;
    assert_eq!(keys(&r), ["Response", "ActionID", "Events"]);
    assert_eq!(get(&r, "Events"), "Off");
    c.send(&action(&[
        ("Action", "Events"),
        ("ActionID", "e2"),
        ("EventMask", ""),
    ]))
    .await;
    assert_eq!(get(&c.response().await, "Message"), "Invalid event mask");
    c.send(&action(&[("Action", "Events"), ("EventMask", "call,cdr")]))
        .await;
    assert_eq!(get(&c.response().await, "Events"), "On");

    c.send(&action(&[("Action", "Logoff"), ("ActionID", "bye")]))
        .await;
    let r = c.response().await;
    assert_eq!(
        (get(&r, "Response"), get(&r, "Message")),
        ("Goodbye".into(), "Thanks for all the fish.".into())
    );
    // Only events may come before the end of the stream.
    while let Some(p) = c.next().await {
        assert!(event_name(&p).is_some(), "{p:?}");
    }
}

// ---------------------------------------------------------------------------
// Channels: listing, hanging up, ids and variables.

const STAYS: &str = "[[rule]]\nring = 0.0\n";

async fn originate_and_wait(c: &mut Client, id: &str, number: &str) {
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", id),
        ("Channel", &format!("Local/{number}@customers")),
        ("Application", "Echo"),
        ("Async", "true"),
        ("ChannelId", id),
    ]))
    .await;
    c.until(|p| is_event(p, "OriginateResponse") && get(p, "ActionID") == id)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_show_channels_lists_both_halves() {
    let sw = switch_with(10.0, Some(STAYS)).await;
    let mut c = Client::login(&sw, "off").await;
    c.send(&action(&[
        ("Action", "CoreShowChannels"),
        ("ActionID", "empty"),
    ]))
    .await;
    let r = c.packet().await;
    assert_eq!(keys(&r), ["Response", "ActionID", "EventList", "Message"]);
    assert_eq!(
        (get(&r, "EventList"), get(&r, "Message")),
        ("start".into(), "Channels will follow".into())
    );
    let done = c.packet().await;
    assert_eq!(keys(&done), ["Event", "ActionID", "EventList", "ListItems"]);
    assert_eq!(
        (
            event_name(&done),
            get(&done, "EventList"),
            get(&done, "ListItems")
        ),
        (
            Some("CoreShowChannelsComplete".into()),
            "Complete".into(),
            "0".into()
        )
    );

    let mut w = Client::login(&sw, "call").await;
    originate_and_wait(&mut w, "csc-1", "1001").await;
    c.send(&action(&[
        ("Action", "CoreShowChannels"),
        ("ActionID", "list"),
    ]))
    .await;
    let r = c.packet().await;
    assert_eq!(get(&r, "ActionID"), "list");
    let mut items = Vec::new();
    loop {
        let p = c.packet().await;
        if is_event(&p, "CoreShowChannelsComplete") {
            assert_eq!(get(&p, "ListItems"), "2");
            assert_eq!(get(&p, "ActionID"), "list");
            break;
        }
        assert!(is_event(&p, "CoreShowChannel"), "{p:?}");
        items.push(p);
    }
    assert_eq!(items.len(), 2);
    let mut want_keys = vec!["Event", "ActionID"];
    want_keys.extend([
        "Channel",
        "ChannelState",
        "ChannelStateDesc",
        "CallerIDNum",
        "CallerIDName",
        "ConnectedLineNum",
        "ConnectedLineName",
        "Language",
        "AccountCode",
        "Context",
        "Exten",
        "Priority",
        "Uniqueid",
        "Linkedid",
        "Application",
        "ApplicationData",
        "Duration",
        "BridgeId",
    ]);
    let ids: HashSet<String> = items.iter().map(|p| get(p, "Uniqueid")).collect();
    assert_eq!(
        ids,
        HashSet::from(["csc-1".to_string(), "csc-1;2".to_string()])
    );
    for p in &items {
        assert_eq!(keys(p), want_keys);
        assert_eq!(get(p, "ActionID"), "list");
        assert_eq!(get(p, "ChannelStateDesc"), "Up");
        assert_eq!(get(p, "Linkedid"), "csc-1");
        assert_eq!(get(p, "Duration"), "00:00:00");
        assert_eq!(get(p, "Application"), "Echo");
    }
    assert!(items.iter().any(|p| get(p, "Channel").ends_with(";1")));
    assert_eq!(sw.live_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_by_name_by_uniqueid_and_by_regex() {
    let sw = switch_with(10.0, Some(STAYS)).await;
    let mut c = Client::login(&sw, "on").await;
    c.send(&action(&[("Action", "Hangup"), ("ActionID", "h0")]))
        .await;
    assert_eq!(get(&c.response().await, "Message"), "No channel specified");

    originate_and_wait(&mut c, "h-1", "1001").await;
    let list = {
        c.send(&action(&[("Action", "CoreShowChannels")])).await;
        c.until(|p| is_event(p, "CoreShowChannelsComplete")).await
    };
    let name = list
        .iter()
        .map(|p| get(p, "Channel"))
        .find(|n| n.ends_with(";1"))
        .expect("the ;1");
    // By name, case-insensitively, with a cause.
    c.send(&action(&[
        ("Action", "Hangup"),
        ("ActionID", "h1"),
        ("Channel", &name.to_lowercase()),
        ("Cause", "21"),
    ]))
    .await;
    let mut got = c
        .until(|p| is_event(p, "Hangup") && get(p, "Uniqueid") == "h-1;2")
        .await;
    let r = got
        .iter()
        .position(|p| matches!(p.kind(), PacketKind::Response(_)))
        .map(|i| got.remove(i))
        .expect("the reply");
    assert_eq!(
        (get(&r, "Response"), get(&r, "ActionID"), get(&r, "Message")),
        ("Success".into(), "h1".into(), "Channel Hungup".into())
    );
    let hangup = got
        .iter()
        .find(|p| is_event(p, "Hangup") && get(p, "Uniqueid") == "h-1")
        .expect("Hangup ;1");
    assert_eq!(
        (get(hangup, "Cause"), get(hangup, "Cause-txt")),
        ("21".into(), "Call Rejected".into())
    );
    let request = got
        .iter()
        .find(|p| is_event(p, "HangupRequest"))
        .expect("HangupRequest");
    assert_eq!(
        (get(request, "Uniqueid"), get(request, "Cause")),
        ("h-1;2".into(), "21".into())
    );
    assert_eq!(
        mapped(&got, "h-1").last(),
        Some(&CallEventKind::HungUp {
            cause: HangupCause::CallRejected
        })
    );
    c.send(&action(&[
        ("Action", "Hangup"),
        ("ActionID", "h2"),
        ("Channel", &name),
    ]))
    .await;
    assert_eq!(get(&c.response().await, "Message"), "No such channel");

    // By Uniqueid (the ChannelId dialpop chose).
    originate_and_wait(&mut c, "h-2", "1002").await;
    c.send(&action(&[
        ("Action", "Hangup"),
        ("ActionID", "h3"),
        ("Channel", "h-2"),
    ]))
    .await;
    assert_eq!(get(&c.response().await, "Message"), "Channel Hungup");

    // By regex: a list of the channels hung up.
    originate_and_wait(&mut c, "h-3", "1003").await;
    originate_and_wait(&mut c, "h-4", "1004").await;
    c.send(&action(&[
        ("Action", "Hangup"),
        ("ActionID", "rx"),
        ("Channel", "/^Local/100[34]@customers-.*;1$/"),
    ]))
    .await;
    let r = c.response().await;
    assert_eq!(
        (get(&r, "EventList"), get(&r, "Message")),
        ("start".into(), "Channels hung up will follow".into())
    );
    let list = c.until(|p| is_event(p, "ChannelsHungupListComplete")).await;
    let hung: Vec<String> = list
        .iter()
        .filter(|p| is_event(p, "ChannelHungup"))
        .map(|p| {
            assert_eq!(keys(p), ["Event", "Channel", "ActionID"]);
            get(p, "Channel")
        })
        .collect();
    assert_eq!(hung.len(), 2, "{hung:?}");
    let done = list.last().expect("complete");
    assert_eq!(
        (get(done, "ListItems"), get(done, "ActionID")),
        ("2".into(), "rx".into())
    );
    c.send(&action(&[("Action", "Hangup"), ("Channel", "/(/")]))
        .await;
    assert_eq!(
        get(&c.response().await, "Message"),
        "Regex compile failed on: /(/"
    );
    c.send(&action(&[("Action", "Hangup"), ("Channel", "/abc")]))
        .await;
    assert_eq!(
        get(&c.response().await, "Message"),
        "Regex format invalid, Channel param should be /regex/"
    );
    let deadline = Instant::now() + WAIT;
    while sw.live_calls() > 0 {
        assert!(Instant::now() < deadline, "{} calls left", sw.live_calls());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_ids_and_variables() {
    let sw = switch_with(10.0, None).await;
    let mut c = Client::login(&sw, "on").await;
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "v"),
        ("Channel", "Local/1001@customers"),
        ("Application", "Wait"),
        ("Data", "10"),
        ("Async", "yes"),
        ("ChannelId", "one"),
        ("OtherChannelId", "two"),
        ("Variable", "dialpop_call_id=one"),
        ("Variable", "dialpop_task_id=7,dialpop_campaign=\"a,b\""),
    ]))
    .await;
    let events = c.call_events("one").await;
    let newchannels: Vec<(String, String)> = events
        .iter()
        .filter(|p| is_event(p, "Newchannel"))
        .map(|p| (get(p, "Uniqueid"), get(p, "Linkedid")))
        .collect();
    assert_eq!(
        newchannels,
        [
            ("one".to_string(), "one".to_string()),
            ("two".to_string(), "one".to_string())
        ]
    );
    let varsets: Vec<(String, String, String)> = events
        .iter()
        .filter(|p| is_event(p, "VarSet"))
        .map(|p| (get(p, "Uniqueid"), get(p, "Variable"), get(p, "Value")))
        .collect();
    let want: Vec<(String, String, String)> = ["one", "two"]
        .iter()
        .flat_map(|id| {
            [
                ("dialpop_call_id", "one"),
                ("dialpop_task_id", "7"),
                ("dialpop_campaign", "a,b"),
            ]
            .map(|(k, v)| (id.to_string(), k.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(varsets, want);
    let log = sw.originates();
    assert_eq!(log.counts.get("one"), Some(&1));
    assert_eq!(log.actions[0].other_channel_id.as_deref(), Some("two"));
    assert_eq!(log.call_id_of_each(), [Some("one".to_string())]);
    assert_eq!(
        log.variables_of_each(),
        [vec![
            ("dialpop_call_id".to_string(), "one".to_string()),
            ("dialpop_task_id".to_string(), "7".to_string()),
            ("dialpop_campaign".to_string(), "a,b".to_string()),
        ]]
    );
    // A ChannelId in use cannot make a channel: Failure, Reason 0.
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "dup"),
        ("Channel", "Local/5001@customers"),
        ("Application", "Wait"),
        ("Async", "true"),
        ("ChannelId", "long"),
    ]))
    .await;
    c.until(|p| is_event(p, "Newchannel") && get(p, "Uniqueid") == "long")
        .await;
    c.send(&action(&[
        ("Action", "Originate"),
        ("ActionID", "dup2"),
        ("Channel", "Local/1001@customers"),
        ("Application", "Wait"),
        ("Async", "true"),
        ("ChannelId", "long"),
    ]))
    .await;
    let r = c
        .until(|p| is_event(p, "OriginateResponse") && get(p, "ActionID") == "dup2")
        .await;
    let r = r.last().expect("event");
    assert_eq!(
        (get(r, "Response"), get(r, "Reason"), get(r, "Uniqueid")),
        ("Failure".into(), "0".into(), "long".into())
    );
}

// ---------------------------------------------------------------------------
// Sessions: everyone gets every call's events; the test hooks.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_gets_every_calls_events_by_its_mask() {
    let sw = switch_with(10.0, None).await;
    let mut a = Client::login(&sw, "on").await;
    let mut b = Client::login(&sw, "on").await;
    // a sees b's SuccessfulAuth: security events go to everyone too.
    assert!(is_event(&a.packet().await, "SuccessfulAuth"));
    let mut calls_only = Client::login(&sw, "call").await;
    let mut none = Client::login(&sw, "off").await;
    a.send(&originate_action("shared-1", "1001", "from-a"))
        .await;
    assert_eq!(get(&a.response().await, "ActionID"), "from-a");
    let seen_a = a.call_events("shared-1").await;
    let seen_b = b.call_events("shared-1").await;
    let names = |ps: &[AmiPacket]| ps.iter().map(signature).collect::<Vec<_>>();
    assert_eq!(names(&seen_a), names(&seen_b));
    let resp = seen_b
        .iter()
        .find(|p| is_event(p, "OriginateResponse"))
        .expect("b gets the OriginateResponse");
    assert_eq!(
        get(resp, "ActionID"),
        "from-a",
        "with the originator's ActionID"
    );
    let seen_calls = calls_only.call_events("shared-1").await;
    let want: Vec<String> = seen_a
        .iter()
        .filter(|p| {
            !matches!(
                event_name(p).as_deref(),
                Some("Newexten" | "VarSet" | "Cdr")
            )
        })
        .map(signature)
        .collect();
    assert_eq!(names(&seen_calls), want, "only the call category");
    // Events: off gets nothing: the next packet is the reply to Ping.
    none.send(&action(&[("Action", "Ping"), ("ActionID", "n")]))
        .await;
    let r = none.packet().await;
    assert_eq!(get(&r, "Ping"), "Pong");
    // ... until it asks for events.
    none.send(&action(&[("Action", "Events"), ("EventMask", "on")]))
        .await;
    assert_eq!(get(&none.packet().await, "Events"), "On");
    a.send(&originate_action("shared-2", "1001", "from-a-2"))
        .await;
    assert!(!none.call_events("shared-2").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_connections_hangup_all_and_live_calls() {
    let sw = switch_with(10.0, Some(STAYS)).await;
    let mut a = Client::login(&sw, "on").await;
    let mut b = Client::login(&sw, "on").await;
    let _ = a.packet().await; // b's SuccessfulAuth
    originate_and_wait(&mut a, "live-1", "1001").await;
    originate_and_wait(&mut a, "live-2", "1002").await;
    assert_eq!(sw.live_calls(), 2);
    assert_eq!(sw.live_channels(), 4);
    assert_eq!(sw.sessions(), 2);
    assert_eq!(sw.drop_connections(), 2);
    assert_eq!(sw.sessions(), 0);
    // Emitted after the cut: must not reach the dropped sessions.
    assert_eq!(sw.hangup_all(HangupCause::NormalClearing), 4);
    for c in [&mut a, &mut b] {
        let mut rest = Vec::new();
        while let Ok(Some(Ok(m))) = timeout(WAIT, c.rd.next()).await {
            rest.push(m);
        }
        assert!(
            !rest
                .iter()
                .any(|m| matches!(m, AmiMessage::Packet(p) if is_event(p, "Hangup"))),
            "nothing after the cut: {rest:?}"
        );
    }
    let deadline = Instant::now() + WAIT;
    while sw.live_calls() > 0 || sw.live_channels() > 0 {
        assert!(Instant::now() < deadline, "{} calls left", sw.live_calls());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A new session works; calls go on across the cut.
    let mut c = Client::login(&sw, "on").await;
    originate_and_wait(&mut c, "live-3", "1001").await;
    let mut d = Client::login(&sw, "on").await;
    assert_eq!(sw.drop_connections(), 2);
    assert_eq!(sw.live_calls(), 1, "the call outlives the connection");
    let mut e = Client::login(&sw, "on").await;
    assert_eq!(sw.hangup_all(HangupCause::UserBusy), 2);
    // e came after the call started: it sees the call's end only.
    let events = e
        .until(|p| is_event(p, "Hangup") && get(p, "Uniqueid") == "live-3")
        .await;
    let hangup = events.last().expect("the ;1's Hangup");
    assert_eq!(get(hangup, "Cause"), "17");
    d.eof().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_does_not_read_is_closed_not_waited_for() {
    const CALLS: usize = 1500;
    // A second of no progress closes a session: the stalled one makes none,
    // while the test's own watching session (a debug build parsing every
    // event on a busy machine) may pause for longer than the 100 ms default.
    let sw = SimSwitch::start(SimConfig {
        ami_write_timeout: Duration::from_secs(1),
        ..config(1000.0, Some("[[rule]]\nring = 0.0\ntalk = 1.0\n"))
    })
    .await
    .expect("switch starts");
    let stalled = TcpStream::connect(sw.local_addr()).await.expect("connect");
    let mut stalled = stalled;
    stalled
        .write_all(
            action(&[
                ("Action", "Login"),
                ("Username", "dialpop"),
                ("Secret", "ClueCon"),
            ])
            .as_bytes(),
        )
        .await
        .expect("login");
    let mut c = Client::login(&sw, "off").await;
    let mut watch = Client::login(&sw, "call").await;
    let mut batch = String::new();
    for i in 0..CALLS {
        batch.push_str(&originate_action(
            &format!("s-{i}"),
            "1001",
            &format!("s-{i}"),
        ));
    }
    c.send(&batch).await;
    let started = Instant::now();
    let mut ended = 0;
    while ended < CALLS {
        let p = watch.packet().await;
        if is_event(&p, "Hangup") && !get(&p, "Uniqueid").ends_with(";2") {
            ended += 1;
        }
    }
    let deadline = Instant::now() + WAIT;
    while sw.sessions() > 2 {
        assert!(
            Instant::now() < deadline,
            "the stalled session is still open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "{CALLS} calls in {:?}; stalled session closed",
        started.elapsed()
    );
    // Its socket is closed (after whatever the buffers held).
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match timeout(WAIT, stalled.read(&mut buf))
            .await
            .expect("closed in time")
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The same scenario and seed give the same outcomes as on ESL.

async fn esl_api(sock: &mut TcpStream, buf: &mut BytesMut, cmd: &str) -> String {
    sock.write_all(format!("api {cmd}\n\n").as_bytes())
        .await
        .expect("send");
    loop {
        if let Scan::Frame(b) = scan_frame(buf, DEFAULT_MAX_CONTENT_LENGTH).expect("frame") {
            let raw = buf.split_to(b.total()).freeze();
            let frame = EslFrame::from_bytes(raw, &b).expect("frame");
            match EslMessage::from_frame(frame).expect("message") {
                EslMessage::ApiResponse { body } => {
                    return String::from_utf8_lossy(&body).into_owned();
                }
                _ => continue,
            }
        }
        let n = timeout(WAIT, sock.read_buf(buf))
            .await
            .expect("in time")
            .expect("read");
        assert!(n > 0, "ESL switch closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_scenario_and_seed_same_outcomes_as_esl() {
    let scenario = r#"
        [[rule]]
        ring = 0.1
        talk = 0.1
        outcomes = [
          { outcome = "answer", weight = 40 },
          { outcome = "busy", weight = 30 },
          { outcome = "congestion", weight = 30 },
        ]
    "#;
    let numbers: Vec<String> = (0..30).map(|i| format!("155500{:02}", i % 5)).collect();
    let esl = SimSwitch::start(SimConfig {
        seed: 7,
        ..SimConfig {
            protocol: SimProtocol::Esl,
            ..config(100.0, Some(scenario))
        }
    })
    .await
    .expect("esl");
    let mut sock = TcpStream::connect(esl.local_addr()).await.expect("connect");
    let mut buf = BytesMut::new();
    sock.write_all(b"auth ClueCon\n\n").await.expect("auth");
    let mut esl_outcomes = Vec::new();
    for n in &numbers {
        let out = esl_api(
            &mut sock,
            &mut buf,
            &format!("originate sofia/gateway/gw/{n} &park()"),
        )
        .await;
        esl_outcomes.push(match out.trim() {
            o if o.starts_with("+OK") => "answered".to_string(),
            "-ERR USER_BUSY" => "busy".to_string(),
            "-ERR NORMAL_CIRCUIT_CONGESTION" => "congestion".to_string(),
            other => other.to_string(),
        });
    }
    let ami = SimSwitch::start(SimConfig {
        seed: 7,
        ..config(100.0, Some(scenario))
    })
    .await
    .expect("ami");
    let mut c = Client::login(&ami, "call").await;
    let mut ami_outcomes = Vec::new();
    for (i, n) in numbers.iter().enumerate() {
        let id = format!("x-{i}");
        c.send(&action(&[
            ("Action", "Originate"),
            ("ActionID", &id),
            ("Channel", &format!("PJSIP/{n}@trunk")),
            ("Application", "Park"),
            ("Async", "true"),
            ("ChannelId", &id),
        ]))
        .await;
        let r = c
            .until(|p| is_event(p, "OriginateResponse") && get(p, "ActionID") == id)
            .await;
        let r = r.last().expect("event");
        ami_outcomes.push(match get(r, "Reason").as_str() {
            "4" => "answered".to_string(),
            "5" => "busy".to_string(),
            "8" => "congestion".to_string(),
            other => format!("reason {other}"),
        });
    }
    assert_eq!(ami_outcomes, esl_outcomes);
    let distinct: HashSet<&String> = ami_outcomes.iter().collect();
    assert!(distinct.len() > 1, "the weights are used: {ami_outcomes:?}");
}

// ---------------------------------------------------------------------------
// Scale.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls() {
    const CALLS: usize = 10_000;
    // Every number answers after 1 s and talks for a day: no call ends on its
    // own however slow the machine, so all are up at once until the test
    // hangs them all up.
    let sw = SimSwitch::start(SimConfig {
        // A debug-build client reading 100 MB of events may pause longer
        // than Asterisk's 100 ms writetimeout on a busy machine.
        ami_write_timeout: Duration::from_secs(5),
        ..config(10.0, Some("[[rule]]\nring = 1.0\ntalk = 86400.0\n"))
    })
    .await
    .expect("start");
    let started = Instant::now();
    let mut dialer = Client::login(&sw, "off").await;
    let mut watch = Client::login(&sw, "call").await;
    let mut batch = String::with_capacity(CALLS * 200);
    for i in 0..CALLS {
        batch.push_str(&action(&[
            ("Action", "Originate"),
            ("ActionID", &format!("load-{i}")),
            ("Channel", &format!("Local/1555{:04}@customers", i % 10_000)),
            ("Application", "Park"),
            ("Async", "true"),
            ("ChannelId", &format!("load-{i}")),
        ]));
    }
    let writer = tokio::spawn(async move {
        dialer.send(&batch).await;
        for _ in 0..CALLS {
            let r = dialer.packet().await;
            assert_eq!(get(&r, "Message"), "Originate successfully queued");
        }
        dialer
    });
    let mut answered = 0;
    let mut ended = 0;
    let mut peak = 0;
    let mut causes: HashMap<String, usize> = HashMap::new();
    while ended < CALLS {
        let p = watch.packet().await;
        match event_name(&p).as_deref() {
            Some("OriginateResponse") => {
                assert_eq!(get(&p, "Response"), "Success");
                assert_eq!(get(&p, "Uniqueid"), get(&p, "ActionID"));
                answered += 1;
                if answered == CALLS {
                    peak = sw.live_calls();
                    println!(
                        "all {CALLS} answered after {:?}; {peak} live at once",
                        started.elapsed()
                    );
                    // Each call is a Local channel pair.
                    assert_eq!(sw.hangup_all(HangupCause::NormalClearing), 2 * CALLS);
                }
            }
            Some("Hangup") if !get(&p, "Uniqueid").ends_with(";2") => {
                *causes.entry(get(&p, "Cause")).or_default() += 1;
                ended += 1;
            }
            _ => {}
        }
    }
    println!("all {CALLS} ended after {:?}", started.elapsed());
    assert_eq!(peak, CALLS, "every call was up at the same time");
    assert_eq!(causes, HashMap::from([("16".to_string(), CALLS)]));
    let _dialer = writer.await.expect("dialer task");
    let deadline = Instant::now() + WAIT;
    while sw.live_calls() > 0 || sw.live_channels() > 0 {
        assert!(Instant::now() < deadline, "{} calls left", sw.live_calls());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sw.originates().counts.len(), CALLS);
}
