//! The simulated FreeSWITCH's predictive-dialer extensions over real TCP:
//! `dialpop_hold` (answer, AMD, the CUSTOM `dialpop::amd` verdict, park),
//! `uuid_setvar` + `uuid_transfer` to `dialpop_connect` (the agent's leg,
//! the bridge) and to `dialpop_abandon` (playback, hangup NORMAL_CLEARING).
//! Only the order of events is asserted, never how long they took.

use bytes::{Bytes, BytesMut};
use dialpop::switch::esl::frame::{DEFAULT_MAX_CONTENT_LENGTH, Scan, scan_frame};
use dialpop::switch::esl::{EslEvent, EslFrame, EslMessage};
use dialpop::switch::sim::{Scenario, SimConfig, SimSwitch};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(15);

/// 7XXX is an answering machine, everything else a human; both stay until
/// hung up. Agents (8XXX) answer at once.
const LAB: &str = r#"
playback = 2.0

[[rule]]
prefix = "7"
ring = 0.5
outcome = "machine"

[[rule]]
pattern = "*8XXX"
ring = 0.0

[default]
ring = 0.5

[amd]
detect = 1.0
"#;

async fn switch(scenario: &str, seed: u64) -> SimSwitch {
    SimSwitch::start(SimConfig {
        speed: 10.0,
        seed,
        scenario: Scenario::from_toml(scenario).expect("test scenario is valid"),
        heartbeat_interval: Duration::from_secs(3600),
        ..SimConfig::default()
    })
    .await
    .expect("switch starts")
}

struct Client {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
}

impl Client {
    async fn login(sw: &SimSwitch, events: &str) -> Client {
        let s = TcpStream::connect(sw.local_addr()).await.expect("connect");
        let (rd, wr) = s.into_split();
        let mut c = Client {
            rd,
            wr,
            buf: BytesMut::new(),
        };
        assert!(matches!(c.msg().await, EslMessage::AuthRequest));
        c.send("auth ClueCon\n\n").await;
        assert_eq!(c.reply().await, "+OK accepted");
        c.send(&format!("event plain {events}\n\n")).await;
        assert_eq!(c.reply().await, "+OK event listener enabled plain");
        c
    }

    async fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).await.expect("send");
    }

    async fn raw(&mut self) -> Bytes {
        loop {
            if let Scan::Frame(b) =
                scan_frame(&self.buf, DEFAULT_MAX_CONTENT_LENGTH).expect("well-formed frame")
            {
                return self.buf.split_to(b.total()).freeze();
            }
            let n = timeout(WAIT, self.rd.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(n > 0, "the switch closed the session");
        }
    }

    async fn msg(&mut self) -> EslMessage {
        let raw = self.raw().await;
        let Ok(Scan::Frame(bounds)) = scan_frame(&raw, DEFAULT_MAX_CONTENT_LENGTH) else {
            panic!("not a whole frame");
        };
        let frame = EslFrame::from_bytes(raw, &bounds).expect("frame headers parse");
        EslMessage::from_frame(frame).expect("frame body parses")
    }

    /// The next command/reply's Reply-Text, events before it skipped.
    async fn reply(&mut self) -> String {
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

    /// `api <cmd>`: the api/response body; events read meanwhile are kept.
    async fn api(&mut self, cmd: &str, seen: &mut Vec<EslEvent>) -> String {
        self.send(&format!("api {cmd}\n\n")).await;
        loop {
            match self.msg().await {
                EslMessage::ApiResponse { body } => {
                    return String::from_utf8_lossy(&body).into_owned();
                }
                EslMessage::Event(e) => seen.push(e),
                other => panic!("expected api/response, got {other:?}"),
            }
        }
    }

    /// Events up to and including the first for which `done` holds.
    async fn until(&mut self, mut done: impl FnMut(&EslEvent) -> bool) -> Vec<EslEvent> {
        let mut out = Vec::new();
        loop {
            match self.msg().await {
                EslMessage::Event(e) => {
                    let stop = done(&e);
                    out.push(e);
                    if stop {
                        return out;
                    }
                }
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    async fn originate(&mut self, id: &str, number: &str) {
        self.send(&format!(
            "bgapi originate {{origination_uuid={id}}}loopback/{number}/customers dialpop_hold XML dialpop\n\n"
        ))
        .await;
        assert!(self.reply().await.starts_with("+OK Job-UUID: "));
    }
}

fn hv(e: &EslEvent, name: &str) -> String {
    e.get_str(name).map(|v| v.into_owned()).unwrap_or_default()
}

fn name(e: &EslEvent) -> String {
    hv(e, "Event-Name")
}

fn of(e: &EslEvent, event: &str, uuid: &str) -> bool {
    name(e) == event && hv(e, "Unique-ID") == uuid
}

fn is_verdict(e: &EslEvent, uuid: &str) -> bool {
    of(e, "CUSTOM", uuid) && hv(e, "Event-Subclass") == "dialpop::amd"
}

fn executes(e: &EslEvent, uuid: &str, app: &str) -> bool {
    of(e, "CHANNEL_EXECUTE", uuid) && hv(e, "Application") == app
}

/// Where the first event for which `f` holds is.
fn at(events: &[EslEvent], f: impl Fn(&EslEvent) -> bool) -> usize {
    events.iter().position(f).unwrap_or_else(|| {
        panic!(
            "event not among {:?}",
            events.iter().map(name).collect::<Vec<_>>()
        )
    })
}

const EVENTS: &str = "CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_PARK CHANNEL_UNPARK CHANNEL_BRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CUSTOM dialpop::amd";

/// The verdict event of a call originated to dialpop_hold, and what came
/// before it.
async fn verdict_of(c: &mut Client, id: &str, number: &str) -> (Vec<EslEvent>, EslEvent) {
    c.originate(id, number).await;
    let mut events = c.until(|e| is_verdict(e, id)).await;
    let verdict = events.pop().expect("the verdict");
    (events, verdict)
}

#[tokio::test]
async fn a_human_is_held_then_connected_to_an_agent() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, EVENTS).await;
    let id = "hold-human-1001";
    let (before, verdict) = verdict_of(&mut c, id, "1001").await;
    let answer = at(&before, |e| of(e, "CHANNEL_ANSWER", id));
    let job = at(&before, |e| name(e) == "BACKGROUND_JOB");
    let amd = at(&before, |e| executes(e, id, "amd"));
    assert!(
        answer < job && job < amd,
        "answer, the originate's result, then amd"
    );
    assert!(before[..amd].iter().any(|e| executes(e, id, "answer")));
    assert_eq!(hv(&verdict, "Event-Name"), "CUSTOM");
    assert_eq!(hv(&verdict, "dialpop_amd_result"), "HUMAN");
    assert_eq!(hv(&verdict, "dialpop_amd_cause"), "HUMAN");
    assert_eq!(hv(&verdict, "variable_amd_result"), "HUMAN");
    assert_eq!(hv(&verdict, "Caller-Destination-Number"), "dialpop_hold");
    assert_eq!(hv(&verdict, "Caller-Context"), "dialpop");
    // The event app's headers come before the channel data, as it adds them.
    let keys: Vec<String> = verdict
        .headers
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    let pos = |k: &str| keys.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(pos("Event-Sequence") < pos("Event-Name"), "{keys:?}");
    assert!(pos("Event-Name") < pos("Event-Subclass"));
    assert!(pos("dialpop_amd_cause") < pos("Channel-State"));
    // The event application runs it: its CHANNEL_EXECUTE comes first.
    assert!(before.last().is_some_and(|e| executes(e, id, "event")));
    c.until(|e| of(e, "CHANNEL_PARK", id)).await;

    let mut seen = Vec::new();
    let set = c
        .api(
            &format!("uuid_setvar {id} dialpop_agent_dial loopback/8001/agents"),
            &mut seen,
        )
        .await;
    assert_eq!(set, "+OK\n");
    let moved = c
        .api(
            &format!("uuid_transfer {id} dialpop_connect XML dialpop"),
            &mut seen,
        )
        .await;
    assert_eq!(moved, "+OK\n");
    seen.extend(c.until(|e| of(e, "CHANNEL_BRIDGE", id)).await);
    let unpark = at(&seen, |e| of(e, "CHANNEL_UNPARK", id));
    let bridge_app = at(&seen, |e| executes(e, id, "bridge"));
    let agent_answer = at(&seen, |e| {
        name(e) == "CHANNEL_ANSWER" && hv(e, "Unique-ID") != id
    });
    assert!(unpark < bridge_app && bridge_app < agent_answer);
    assert_eq!(
        hv(&seen[bridge_app], "Application-Data"),
        "loopback/8001/agents"
    );
    let bridged = seen.last().expect("CHANNEL_BRIDGE");
    assert_eq!(hv(bridged, "Bridge-A-Unique-ID"), id);
    assert_eq!(
        hv(bridged, "variable_dialpop_agent_dial"),
        "loopback/8001/agents"
    );
    assert_eq!(hv(bridged, "Caller-Destination-Number"), "dialpop_connect");
    assert_eq!(hv(bridged, "Caller-RDNIS"), "dialpop_hold");
    assert_eq!(hv(bridged, "Other-Leg-Destination-Number"), "8001");

    assert_eq!(c.api(&format!("uuid_kill {id}"), &mut seen).await, "+OK\n");
    c.until(|e| of(e, "CHANNEL_HANGUP_COMPLETE", id)).await;
}

#[tokio::test]
async fn unknown_channels_and_bad_arguments_get_mod_commands_replies() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, "BACKGROUND_JOB").await;
    let mut seen = Vec::new();
    for (cmd, reply) in [
        (
            "uuid_setvar nope dialpop_agent_dial x",
            "-ERR No such channel!\n",
        ),
        (
            "uuid_transfer nope dialpop_connect XML dialpop",
            "-ERR No Such Channel!\n",
        ),
        (
            "uuid_transfer nope -bleg dialpop_connect",
            "-ERR No Such Channel!\n",
        ),
        ("uuid_setvar nope", "-USAGE: <uuid> <var> [value]\n"),
        (
            "uuid_transfer nope",
            "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n",
        ),
    ] {
        assert_eq!(c.api(cmd, &mut seen).await, reply, "{cmd}");
    }
    c.send("bgapi uuid_transfer nope dialpop_connect\nJob-UUID: j-1\n\n")
        .await;
    assert_eq!(c.reply().await, "+OK Job-UUID: j-1");
    let job = c.until(|e| name(e) == "BACKGROUND_JOB").await;
    let body = job[0]
        .body
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    assert_eq!(body.as_deref(), Some("-ERR No Such Channel!\n"));
}

#[tokio::test]
async fn a_machine_is_reported_and_sent_to_the_message_then_hung_up() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, EVENTS).await;
    let id = "hold-machine-7001";
    let (_, verdict) = verdict_of(&mut c, id, "7001").await;
    assert_eq!(hv(&verdict, "dialpop_amd_result"), "MACHINE");
    assert!(
        ["INITIALSILENCE", "LONGGREETING", "MAXWORDS"]
            .contains(&hv(&verdict, "dialpop_amd_cause").as_str()),
        "{}",
        hv(&verdict, "dialpop_amd_cause")
    );
    c.until(|e| of(e, "CHANNEL_PARK", id)).await;
    let mut seen = Vec::new();
    let set = c
        .api(
            &format!("uuid_setvar {id} dialpop_message_file /tmp/sorry.wav"),
            &mut seen,
        )
        .await;
    assert_eq!(set, "+OK\n");
    // Dialplan and context default to the leg's own (XML, dialpop).
    let moved = c
        .api(&format!("uuid_transfer {id} dialpop_abandon"), &mut seen)
        .await;
    assert_eq!(moved, "+OK\n");
    seen.extend(c.until(|e| of(e, "CHANNEL_HANGUP_COMPLETE", id)).await);
    let unpark = at(&seen, |e| of(e, "CHANNEL_UNPARK", id));
    let play = at(&seen, |e| executes(e, id, "playback"));
    let played = at(&seen, |e| {
        of(e, "CHANNEL_EXECUTE_COMPLETE", id) && hv(e, "Application") == "playback"
    });
    let hangup_app = at(&seen, |e| executes(e, id, "hangup"));
    let hangup = at(&seen, |e| of(e, "CHANNEL_HANGUP", id));
    assert!(unpark < play && play < played && played < hangup_app && hangup_app < hangup);
    assert_eq!(hv(&seen[play], "Application-Data"), "/tmp/sorry.wav");
    assert_eq!(hv(&seen[hangup_app], "Application-Data"), "NORMAL_CLEARING");
    assert_eq!(hv(&seen[hangup], "Hangup-Cause"), "NORMAL_CLEARING");
    let complete = seen.last().expect("CHANNEL_HANGUP_COMPLETE");
    assert_eq!(hv(complete, "variable_hangup_cause"), "NORMAL_CLEARING");
    assert_eq!(hv(complete, "Caller-Destination-Number"), "dialpop_abandon");
}

#[tokio::test]
async fn wrong_one_flips_every_verdict() {
    let sw = switch(&format!("{LAB}wrong = 1.0\n"), 1).await;
    let mut c = Client::login(&sw, EVENTS).await;
    let (_, human) = verdict_of(&mut c, "flip-1001", "1001").await;
    assert_eq!(hv(&human, "dialpop_amd_result"), "MACHINE");
    let (_, machine) = verdict_of(&mut c, "flip-7001", "7001").await;
    assert_eq!(hv(&machine, "dialpop_amd_result"), "HUMAN");
    assert_eq!(hv(&machine, "dialpop_amd_cause"), "HUMAN");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_verdicts() {
    let scenario = format!("{LAB}wrong = 0.5\n");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sw = switch(&scenario, 42).await;
        let mut c = Client::login(&sw, EVENTS).await;
        let mut verdicts = Vec::new();
        for n in 0..8 {
            let number = format!("{}", 1000 + n);
            let (_, v) = verdict_of(&mut c, &format!("seed-{n}"), &number).await;
            verdicts.push(hv(&v, "dialpop_amd_result"));
        }
        runs.push(verdicts);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn a_call_hung_up_before_the_verdict_has_none() {
    // 100 s of detection at speed 10: the hang-up comes first.
    let sw = switch(&LAB.replace("detect = 1.0", "detect = 1000.0"), 1).await;
    let mut c = Client::login(&sw, EVENTS).await;
    // A second session subscribed to another subclass (the words after
    // CUSTOM are subclasses) never gets the verdict.
    let mut other = Client::login(&sw, "CHANNEL_HANGUP_COMPLETE CUSTOM other::thing").await;
    let id = "early-hangup";
    c.originate(id, "1001").await;
    let mut seen = c.until(|e| executes(e, id, "amd")).await;
    assert_eq!(c.api(&format!("uuid_kill {id}"), &mut seen).await, "+OK\n");
    seen.extend(c.until(|e| of(e, "CHANNEL_HANGUP_COMPLETE", id)).await);
    assert!(!seen.iter().any(|e| name(e) == "CUSTOM"));
    let amd_done = at(&seen, |e| {
        of(e, "CHANNEL_EXECUTE_COMPLETE", id) && hv(e, "Application") == "amd"
    });
    assert!(at(&seen, |e| of(e, "CHANNEL_HANGUP", id)) < amd_done);
    let theirs = other.until(|e| of(e, "CHANNEL_HANGUP_COMPLETE", id)).await;
    assert!(!theirs.iter().any(|e| name(e) == "CUSTOM"));
}

#[tokio::test]
async fn the_verdict_goes_only_to_its_subscribers() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, EVENTS).await;
    let mut other = Client::login(&sw, "CHANNEL_PARK CUSTOM other::thing").await;
    let mut all = Client::login(&sw, "ALL").await;
    let id = "subscribers";
    verdict_of(&mut c, id, "1001").await;
    let theirs = other.until(|e| of(e, "CHANNEL_PARK", id)).await;
    assert!(!theirs.iter().any(|e| name(e) == "CUSTOM"));
    let everything = all.until(|e| of(e, "CHANNEL_PARK", id)).await;
    assert!(everything.iter().any(|e| is_verdict(e, id)));
}

#[test]
fn bad_amd_settings_are_refused_with_what_is_wrong() {
    for (bad, says) in [
        (
            "[amd]\nwrong = 2.0",
            "[amd]: wrong must be a share between 0 and 1, not 2",
        ),
        (
            "[amd]\nnotsure = -1.0",
            "[amd]: notsure must be a share between 0 and 1, not -1",
        ),
        (
            "[amd]\ndetect = nan",
            "[amd]: detect must be a number of seconds >= 0, not NaN",
        ),
        (
            "playback = -1.0",
            "playback: must be a number of seconds >= 0, not -1",
        ),
        (
            "[[rule]]\noutcome = \"robot\"",
            "rule 1: unknown outcome \"robot\" (answer, machine, busy, no_answer, rejected, congestion, fail)",
        ),
    ] {
        let e = Scenario::from_toml(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(e, says, "{bad:?}");
    }
}
