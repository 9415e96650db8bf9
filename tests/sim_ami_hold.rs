//! The simulated Asterisk's predictive-dialer extensions over real TCP:
//! `dialpop_hold` (Answer, AMD, UserEvent DialpopAMD, Wait), `Setvar` +
//! `Redirect` to `dialpop_connect` (Dial of the agent, the bridge) and to
//! `dialpop_abandon` (Playback, Hangup(16)). Only the order of events is
//! asserted, never how long they took.

use bytes::BytesMut;
use dialpop::switch::ami::codec::encode_action;
use dialpop::switch::ami::{AmiClientCodec, AmiMessage, AmiPacket, PacketKind};
use dialpop::switch::sim::{Scenario, SimConfig, SimProtocol, SimSwitch};
use futures::StreamExt;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;
use tokio_util::codec::FramedRead;

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
        protocol: SimProtocol::Ami,
        speed: 10.0,
        seed,
        scenario: Scenario::from_toml(scenario).expect("test scenario is valid"),
        ..SimConfig::default()
    })
    .await
    .expect("switch starts")
}

fn action(pairs: &[(&str, &str)]) -> String {
    let mut b = BytesMut::new();
    encode_action(pairs, &mut b).expect("valid action");
    String::from_utf8_lossy(&b).into_owned()
}

fn get(p: &AmiPacket, k: &str) -> String {
    p.get_str(k).map(|v| v.into_owned()).unwrap_or_default()
}

fn event(p: &AmiPacket) -> String {
    match p.kind() {
        PacketKind::Event(e) => e,
        _ => String::new(),
    }
}

fn is_response(p: &AmiPacket) -> bool {
    matches!(p.kind(), PacketKind::Response(_))
}

struct Client {
    rd: FramedRead<OwnedReadHalf, AmiClientCodec>,
    wr: OwnedWriteHalf,
}

impl Client {
    async fn login(sw: &SimSwitch, events: &str) -> Client {
        let s = TcpStream::connect(sw.local_addr()).await.expect("connect");
        let (rd, wr) = s.into_split();
        let mut c = Client {
            rd: FramedRead::new(rd, AmiClientCodec::default()),
            wr,
        };
        match timeout(WAIT, c.rd.next()).await.expect("banner in time") {
            Some(Ok(AmiMessage::Banner(_))) => {}
            other => panic!("expected the banner, got {other:?}"),
        }
        c.send(&[
            ("Action", "Login"),
            ("ActionID", "login"),
            ("Username", "dialpop"),
            ("Secret", "ClueCon"),
            ("Events", events),
        ])
        .await;
        let r = c.until(is_response).await;
        assert_eq!(
            get(r.last().expect("a response"), "Message"),
            "Authentication accepted"
        );
        c
    }

    async fn send(&mut self, pairs: &[(&str, &str)]) {
        self.wr
            .write_all(action(pairs).as_bytes())
            .await
            .expect("send");
    }

    async fn packet(&mut self) -> AmiPacket {
        match timeout(WAIT, self.rd.next())
            .await
            .expect("a packet in time")
        {
            Some(Ok(AmiMessage::Packet(p))) => p,
            other => panic!("unexpected {other:?}"),
        }
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

    /// Sends an action; the packets up to its Response (the last one).
    async fn ask(&mut self, pairs: &[(&str, &str)]) -> Vec<AmiPacket> {
        self.send(pairs).await;
        self.until(is_response).await
    }

    async fn originate(&mut self, id: &str, number: &str) {
        let channel = format!("Local/{number}@customers");
        let r = self
            .ask(&[
                ("Action", "Originate"),
                ("ActionID", id),
                ("Channel", &channel),
                ("Context", "dialpop"),
                ("Exten", "dialpop_hold"),
                ("Priority", "1"),
                ("Async", "true"),
                ("ChannelId", id),
                ("Timeout", "30000"),
            ])
            .await;
        assert_eq!(
            get(r.last().expect("response"), "Message"),
            "Originate successfully queued"
        );
    }
}

fn of(p: &AmiPacket, name: &str, id: &str) -> bool {
    event(p) == name && get(p, "Uniqueid") == id
}

fn runs(p: &AmiPacket, id: &str, app: &str) -> bool {
    of(p, "Newexten", id) && get(p, "Application") == app
}

fn at(packets: &[AmiPacket], f: impl Fn(&AmiPacket) -> bool) -> usize {
    packets.iter().position(f).unwrap_or_else(|| {
        panic!(
            "not among {:?}",
            packets.iter().map(event).collect::<Vec<_>>()
        )
    })
}

fn is_verdict(p: &AmiPacket, id: &str) -> bool {
    of(p, "UserEvent", id) && get(p, "UserEvent") == "DialpopAMD"
}

/// Everything up to the verdict of a call originated to dialpop_hold.
async fn verdict_of(c: &mut Client, id: &str, number: &str) -> Vec<AmiPacket> {
    c.originate(id, number).await;
    c.until(|p| is_verdict(p, id)).await
}

#[tokio::test]
async fn a_human_is_held_then_redirected_to_an_agent() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, "on").await;
    let id = "ami-hold-1001";
    let before = verdict_of(&mut c, id, "1001").await;
    let up = at(&before, |p| {
        of(p, "Newstate", id) && get(p, "ChannelStateDesc") == "Up"
    });
    let answer = at(&before, |p| {
        runs(p, id, "Answer") && get(p, "Exten") == "dialpop_hold"
    });
    let amd = at(&before, |p| runs(p, id, "AMD"));
    let status = at(&before, |p| {
        of(p, "VarSet", id) && get(p, "Variable") == "AMDSTATUS"
    });
    let user_app = at(&before, |p| runs(p, id, "UserEvent"));
    assert!(up < answer && answer < amd && amd < status && status < user_app);
    assert_eq!(get(&before[status], "Value"), "HUMAN");
    assert_eq!(get(&before[amd], "Priority"), "2");
    assert_eq!(
        get(&before[user_app], "AppData"),
        "DialpopAMD,Status: HUMAN,Cause: HUMAN-800-800"
    );
    let verdict = before.last().expect("the UserEvent");
    assert_eq!(get(verdict, "Privilege"), "user,all");
    assert_eq!(get(verdict, "Status"), "HUMAN");
    assert_eq!(get(verdict, "Cause"), "HUMAN-800-800");
    assert_eq!(get(verdict, "Context"), "dialpop");
    assert_eq!(get(verdict, "Priority"), "3");
    let keys: Vec<String> = verdict
        .headers
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert_eq!(
        keys,
        [
            "Event",
            "Privilege",
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
            "UserEvent",
            "Status",
            "Cause",
        ]
    );
    let channel = get(verdict, "Channel");
    c.until(|p| runs(p, id, "Wait")).await;

    // By name for Setvar, by Uniqueid for Redirect: both find the ;1.
    let mut seen = c
        .ask(&[
            ("Action", "Setvar"),
            ("ActionID", "sv"),
            ("Channel", &channel),
            ("Variable", "dialpop_agent_dial"),
            ("Value", "Local/8001@agents"),
        ])
        .await;
    assert_eq!(
        get(seen.last().expect("response"), "Message"),
        "Variable Set"
    );
    seen.extend(
        c.ask(&[
            ("Action", "Redirect"),
            ("ActionID", "rd"),
            ("Channel", id),
            ("Context", "dialpop"),
            ("Exten", "dialpop_connect"),
            ("Priority", "1"),
        ])
        .await,
    );
    let r = seen.last().expect("response");
    assert_eq!(
        (get(r, "Response"), get(r, "Message")),
        ("Success".into(), "Redirect successful".into())
    );
    seen.extend(
        c.until(|p| event(p) == "BridgeEnter" && get(p, "Uniqueid") == id)
            .await,
    );
    let varset = at(&seen, |p| {
        of(p, "VarSet", id) && get(p, "Variable") == "dialpop_agent_dial"
    });
    let dial = at(&seen, |p| runs(p, id, "Dial"));
    let begin = at(&seen, |p| {
        event(p) == "DialBegin" && get(p, "Uniqueid") == id
    });
    let end = at(&seen, |p| {
        event(p) == "DialEnd" && get(p, "DialStatus") == "ANSWER"
    });
    assert!(varset < dial && dial < begin && begin < end);
    assert_eq!(get(&seen[varset], "Value"), "Local/8001@agents");
    assert_eq!(get(&seen[dial], "AppData"), "Local/8001@agents");
    assert_eq!(get(&seen[dial], "Exten"), "dialpop_connect");
    assert_eq!(
        get(&seen[begin], "DestChannel").split('-').next(),
        Some("Local/8001@agents")
    );

    let r = c
        .ask(&[("Action", "Hangup"), ("ActionID", "h"), ("Channel", id)])
        .await;
    assert_eq!(
        get(r.last().expect("response"), "Message"),
        "Channel Hungup"
    );
    c.until(|p| of(p, "Hangup", id)).await;
}

#[tokio::test]
async fn unknown_channels_and_missing_fields_get_managers_replies() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, "off").await;
    let redirect = |channel: &'static str, priority: &'static str| {
        vec![
            ("Action", "Redirect"),
            ("ActionID", "r"),
            ("Channel", channel),
            ("Context", "dialpop"),
            ("Exten", "dialpop_connect"),
            ("Priority", priority),
        ]
    };
    for (pairs, kind, message) in [
        (
            vec![
                ("Action", "Setvar"),
                ("Channel", "Local/nope-1;1"),
                ("Variable", "x"),
                ("Value", "1"),
            ],
            "Error",
            "No such channel",
        ),
        (
            vec![("Action", "Setvar"), ("Channel", "x")],
            "Error",
            "No variable specified",
        ),
        (
            vec![("Action", "Setvar"), ("Variable", "g"), ("Value", "1")],
            "Success",
            "Variable Set",
        ),
        (
            redirect("nope", "1"),
            "Error",
            "Channel does not exist: nope",
        ),
        (redirect("", "1"), "Error", "Channel not specified"),
        (redirect("nope", "0"), "Error", "Priority is invalid"),
        (
            vec![
                ("Action", "Redirect"),
                ("Channel", "nope"),
                ("Context", "dialpop"),
            ],
            "Error",
            "Exten not specified",
        ),
    ] {
        let r = c.ask(&pairs).await;
        let r = r.last().expect("response");
        assert_eq!(
            (get(r, "Response"), get(r, "Message")),
            (kind.to_string(), message.to_string()),
            "{pairs:?}"
        );
    }
}

#[tokio::test]
async fn a_machine_is_reported_and_redirected_to_the_message() {
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, "on").await;
    let id = "ami-machine-7001";
    let before = verdict_of(&mut c, id, "7001").await;
    let verdict = before.last().expect("verdict");
    assert_eq!(get(verdict, "Status"), "MACHINE");
    let cause = get(verdict, "Cause");
    assert!(
        [
            "INITIALSILENCE-2500-2500",
            "LONGGREETING-1500-1500",
            "MAXWORDS-2-2"
        ]
        .contains(&cause.as_str()),
        "{cause}"
    );
    c.until(|p| runs(p, id, "Wait")).await;
    let mut seen = c
        .ask(&[
            ("Action", "Setvar"),
            ("Channel", id),
            ("Variable", "dialpop_message_file"),
            ("Value", "dialpop/sorry"),
        ])
        .await;
    seen.extend(
        c.ask(&[
            ("Action", "Redirect"),
            ("Channel", id),
            ("Context", "dialpop"),
            ("Exten", "dialpop_abandon"),
            ("Priority", "1"),
        ])
        .await,
    );
    seen.extend(c.until(|p| of(p, "Hangup", id)).await);
    let play = at(&seen, |p| runs(p, id, "Playback"));
    let hangup_app = at(&seen, |p| runs(p, id, "Hangup"));
    let hangup = seen.len() - 1;
    assert!(play < hangup_app && hangup_app < hangup);
    assert_eq!(get(&seen[play], "AppData"), "dialpop/sorry");
    assert_eq!(get(&seen[play], "Exten"), "dialpop_abandon");
    assert_eq!(get(&seen[play], "Priority"), "1");
    assert_eq!(get(&seen[hangup_app], "AppData"), "16");
    assert_eq!(get(&seen[hangup], "Cause"), "16");
    assert_eq!(get(&seen[hangup], "Cause-txt"), "Normal Clearing");
}

#[tokio::test]
async fn wrong_one_flips_every_verdict() {
    let sw = switch(&format!("{LAB}wrong = 1.0\n"), 1).await;
    let mut c = Client::login(&sw, "on").await;
    let human = verdict_of(&mut c, "flip-1001", "1001").await;
    assert_eq!(get(human.last().expect("verdict"), "Status"), "MACHINE");
    let machine = verdict_of(&mut c, "flip-7001", "7001").await;
    assert_eq!(get(machine.last().expect("verdict"), "Status"), "HUMAN");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_verdicts() {
    let scenario = format!("{LAB}wrong = 0.5\n");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sw = switch(&scenario, 42).await;
        let mut c = Client::login(&sw, "on").await;
        let mut verdicts = Vec::new();
        for n in 0..8 {
            let v = verdict_of(&mut c, &format!("seed-{n}"), &format!("{}", 1000 + n)).await;
            verdicts.push(get(v.last().expect("verdict"), "Status"));
        }
        runs.push(verdicts);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn the_verdict_is_a_user_event_and_a_call_hung_up_first_has_none() {
    // 100 s of detection at speed 10: the hang-up comes first.
    let sw = switch(&LAB.replace("detect = 1.0", "detect = 1000.0"), 1).await;
    let mut c = Client::login(&sw, "on").await;
    let mut calls_only = Client::login(&sw, "call").await;
    let id = "ami-early";
    c.originate(id, "1001").await;
    let mut seen = c.until(|p| runs(p, id, "AMD")).await;
    seen.extend(c.ask(&[("Action", "Hangup"), ("Channel", id)]).await);
    seen.extend(c.until(|p| of(p, "Hangup", id)).await);
    assert!(!seen.iter().any(|p| event(p) == "UserEvent"));
    let theirs = calls_only.until(|p| of(p, "Hangup", id)).await;
    assert!(!theirs.iter().any(|p| event(p) == "UserEvent"));

    // With a verdict: a session whose mask lacks `user` still does not get it.
    let sw = switch(LAB, 1).await;
    let mut c = Client::login(&sw, "on").await;
    let mut calls_only = Client::login(&sw, "call").await;
    let id = "ami-mask";
    verdict_of(&mut c, id, "1001").await;
    c.ask(&[("Action", "Hangup"), ("Channel", id)]).await;
    // Newexten is `dialplan`, Hangup `call`: the call's end is what it sees.
    let theirs = calls_only.until(|p| of(p, "Hangup", id)).await;
    assert!(!theirs.iter().any(|p| event(p) == "UserEvent"));
    let mut users = Client::login(&sw, "user").await;
    let id = "ami-user";
    c.originate(id, "1002").await;
    let theirs = users.until(|p| event(p) == "UserEvent").await;
    assert_eq!(get(theirs.last().expect("UserEvent"), "Uniqueid"), id);
}
