//! One AMI-originated call played out by its scenario plan, in one task, the
//! way Asterisk 22 runs it over a Local channel pair: `;1` is the dialer's
//! side (it runs the originate's Application, or enters the dialplan at
//! Context/Exten), `;2` runs the customer's dialplan, which the plan stands
//! for (`NoOp`, `Ringing`, `Wait(ring)`, `Answer`, `Wait(talk)`, `Hangup`;
//! `Busy`; `Congestion`). A channel of another driver (`PJSIP/…`) is one
//! channel without the `;2` half and its dialplan.
//!
//! The order of the events follows `real/asterisk_answered.txt`,
//! `real/asterisk_agent_bridge.txt` and PROTOCOLS.md §5 (busy, no answer,
//! congestion). What the captures do not show (a hang-up from the AMI
//! `Hangup` action, the customer leaving a bridge first, an agent who does
//! not answer) is built by analogy with what they do show; see the
//! functions for each.

use super::originate::{AmiOriginate, Dest, parse_callerid, parse_dest, separate_args};
use super::templates::{Kind, SNAPSHOT_KEYS, Snapshot, State};
use crate::switch::HangupCause;
use crate::switch::sim::clock;
use crate::switch::sim::core::{Core, Kill};
use crate::switch::sim::scenario::{LONGEST, Outcome, Plan, scale};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How the originate's outcome is told.
#[derive(Debug)]
pub enum Reply {
    /// `Async: true`: an `OriginateResponse` event (to every session) with
    /// the originator's ActionID.
    Event { action_id: Option<String> },
    /// Otherwise the Response waits: `true` once answered.
    Wait(oneshot::Sender<bool>),
}

/// The channels of one call: the customer's pair and the agent's pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    C1,
    C2,
    A1,
    A2,
}

impl Leg {
    fn index(self) -> usize {
        self as usize
    }

    /// The other half of the Local pair.
    fn mate(self) -> Leg {
        match self {
            Leg::C1 => Leg::C2,
            Leg::C2 => Leg::C1,
            Leg::A1 => Leg::A2,
            Leg::A2 => Leg::A1,
        }
    }
}

use Leg::{A1, A2, C1, C2};

#[derive(Clone, Debug)]
struct Chan {
    snap: Snapshot,
    /// The application running now (CoreShowChannels, the Cdr's last one).
    appl: String,
    data: String,
    created: i64,
    answered: Option<i64>,
    bridge: Option<String>,
    alive: bool,
    /// The dialplan priority reached.
    steps: u32,
    cdr_dest: String,
    cdr_context: String,
    cdr_dest_channel: String,
    /// The Dial's CDR is answered when the peer answers.
    cdr_answered: Option<i64>,
}

impl Chan {
    fn new(
        name: String,
        state: State,
        context: &str,
        exten: &str,
        id: String,
        linkedid: &str,
    ) -> Chan {
        Chan {
            snap: Snapshot {
                name,
                state,
                cid_num: None,
                cid_name: None,
                connected_num: None,
                connected_name: None,
                account: String::new(),
                context: context.to_string(),
                exten: exten.to_string(),
                priority: 1,
                uniqueid: id,
                linkedid: linkedid.to_string(),
            },
            appl: String::new(),
            data: String::new(),
            created: clock::now_micros(),
            answered: None,
            bridge: None,
            alive: true,
            steps: 0,
            cdr_dest: exten.to_string(),
            cdr_context: context.to_string(),
            cdr_dest_channel: String::new(),
            cdr_answered: None,
        }
    }

    /// The `CoreShowChannels` row kept in the core's channel table.
    fn row(&self) -> Vec<(&'static str, String)> {
        let mut row: Vec<(&'static str, String)> = SNAPSHOT_KEYS
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, self.snap.value(i).into_owned()))
            .collect();
        row.push(("Application", self.appl.clone()));
        row.push(("ApplicationData", self.data.clone()));
        row.push(("BridgeId", self.bridge.clone().unwrap_or_default()));
        row.push(("Created", self.created.to_string()));
        row
    }
}

/// `ast_cause2str` for the causes a call here can end with.
pub fn cause_text(cause: u16) -> &'static str {
    match cause {
        1 => "Unallocated (unassigned) number",
        2 => "No route to specified transmit network",
        3 => "No route to destination",
        6 => "Channel unacceptable",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        20 => "Subscriber absent",
        21 => "Call Rejected",
        22 => "Number changed",
        27 => "Destination out of order",
        28 => "Invalid number format",
        29 => "Facility rejected",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        42 => "Switching equipment congestion",
        44 => "Requested channel not available",
        58 => "Bearer capability not available",
        66 => "Channel not implemented",
        88 => "Incompatible destination",
        102 => "Recover on timer expiry",
        111 => "Protocol error, unspecified",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

/// A CDR's disposition for a channel that ends with `cause`.
fn disposition(answered: bool, cause: u16) -> &'static str {
    if answered {
        return "ANSWERED";
    }
    match cause {
        17 => "BUSY",
        0 | 16 | 18 | 19 => "NO ANSWER",
        _ => "FAILED",
    }
}

/// Seconds as the dialplan writes them (`1`, `0.5`).
fn secs_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        s.trim_end_matches('0').to_string()
    }
}

/// The instant `d` from now, saturating far in the future.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(LONGEST))
        .unwrap_or(now)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn q850(cause: &HangupCause) -> u16 {
    cause.q850().filter(|c| *c > 0).unwrap_or(16)
}

/// `${name}` → the channel variable (the name as written, else in upper
/// case: `${dialpop_agent_dial}` finds `DIALPOP_AGENT_DIAL`).
fn expand_vars(data: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        let find = |n: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        find(name).or_else(|| find(&name.to_ascii_uppercase()))
    };
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                out.push_str(&lookup(&rest[start + 2..start + 2 + end]).unwrap_or_default());
                rest = &rest[start + 2 + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// How the scenario's dialplan says what it does, in its `NoOp`.
fn describe(who: &str, number: &str, plan: &Plan) -> String {
    match &plan.outcome {
        Outcome::Answer if plan.ring.is_zero() => format!("{who} {number}: answers"),
        Outcome::Answer => format!(
            "{who} {number}: answers after {}s ring",
            secs_text(plan.ring)
        ),
        Outcome::NoAnswer => format!("{who} {number}: never answers"),
        Outcome::Reject(c) => format!("{who} {number}: {}", c.name().to_ascii_lowercase()),
    }
}

/// The Dial status for a callee that refused with `cause` (app_dial's
/// `handle_cause`).
fn dial_status(cause: u16) -> &'static str {
    match cause {
        17 => "BUSY",
        34 | 42 => "CONGESTION",
        1 | 2 | 3 | 20 | 27 | 66 => "CHANUNAVAIL",
        _ => "NOANSWER",
    }
}

/// The variables `Dial` clears when it starts (Asterisk 22 app_dial).
const DIAL_VARS: &[&str] = &[
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
];

/// An originate whose channel cannot be created: `OriginateResponse`
/// Failure with Reason 0 and the requested channel, no channel events.
fn unroutable(core: &Core, o: &AmiOriginate, reply: Reply) {
    match reply {
        Reply::Event { action_id } => emit_originate_response(
            core,
            o,
            action_id.as_deref(),
            false,
            0,
            &o.channel,
            o.channel_id.as_deref().unwrap_or("<unknown>"),
        ),
        Reply::Wait(tx) => {
            let _ = tx.send(false);
        }
    }
}

fn emit_originate_response(
    core: &Core,
    o: &AmiOriginate,
    action_id: Option<&str>,
    success: bool,
    reason: u8,
    channel: &str,
    uniqueid: &str,
) {
    let app = !o.application.is_empty();
    let kind = if app {
        Kind::OriginateResponseApp
    } else {
        Kind::OriginateResponseExten
    };
    let t = core.ami.templates.get(kind);
    if !core.ami.bus.wants(t.category) {
        return;
    }
    let (name, number) = o
        .caller_id
        .as_deref()
        .map(parse_callerid)
        .unwrap_or((None, None));
    let reason = reason.to_string();
    let (k1, v1, k2, v2) = if app {
        (
            "Application",
            o.application.as_str(),
            "Data",
            o.data.as_str(),
        )
    } else {
        ("Context", o.context.as_str(), "Exten", o.exten.as_str())
    };
    let bytes = t.render(
        &[],
        &[
            ("ActionID", action_id),
            (
                "Response",
                Some(if success { "Success" } else { "Failure" }),
            ),
            ("Channel", Some(channel)),
            (k1, Some(v1)),
            (k2, Some(v2)),
            ("Reason", Some(&reason)),
            ("Uniqueid", Some(uniqueid)),
            (
                "CallerIDNum",
                Some(number.as_deref().unwrap_or("<unknown>")),
            ),
            ("CallerIDName", Some(name.as_deref().unwrap_or("<unknown>"))),
        ],
    );
    core.ami.bus.dispatch(Arc::new(super::bus::AmiEvent {
        category: t.category,
        bytes,
    }));
}

/// An originate the switch queues but cannot allocate a channel for (it is
/// shutting down, the channel driver is not loaded): logged, then
/// OriginateResponse Failure with Reason 0 and no channel events.
pub fn refuse(core: &Core, o: &AmiOriginate, reply: Reply) {
    let key = o
        .channel_id
        .clone()
        .or_else(|| o.action_id.clone())
        .unwrap_or_else(|| o.channel.clone());
    core.log_ami_originate(&key, o);
    unroutable(core, o, reply);
}

/// Creates the call's channels and starts its task; logs the originate.
pub fn start(core: &Arc<Core>, o: AmiOriginate, reply: Reply) {
    let Some(dest) = parse_dest(&o.channel) else {
        let key = o
            .channel_id
            .clone()
            .or_else(|| o.action_id.clone())
            .unwrap_or_else(|| o.channel.clone());
        core.log_ami_originate(&key, &o);
        return unroutable(core, &o, reply);
    };
    let seq = core.ami.next_sequence(dest.tech);
    let id1 = o
        .channel_id
        .clone()
        .unwrap_or_else(|| core.ami.new_uniqueid());
    core.log_ami_originate(&id1, &o);
    let (context, exten) = match &dest.local {
        Some((e, c)) => (c.clone(), e.clone()),
        None => ("default".to_string(), "s".to_string()),
    };
    let account = o.account.clone().unwrap_or_default();
    let mut chans: [Option<Chan>; 4] = [None, None, None, None];
    let name1 = if dest.local.is_some() {
        format!("{}-{seq:08x};1", dest.name_base)
    } else {
        format!("{}-{seq:08x}", dest.name_base)
    };
    let mut c1 = Chan::new(name1, State::Down, &context, &exten, id1.clone(), &id1);
    c1.snap.account = account.clone();
    chans[0] = Some(c1);
    if dest.local.is_some() {
        // core_unreal: without OtherChannelId the ;2 half is "<ChannelId>;2".
        let id2 = match (&o.other_channel_id, &o.channel_id) {
            (Some(other), _) => other.clone(),
            (None, Some(_)) => format!("{id1};2"),
            (None, None) => core.ami.new_uniqueid(),
        };
        let name2 = format!("{}-{seq:08x};2", dest.name_base);
        let mut c2 = Chan::new(name2, State::Ring, &context, &exten, id2, &id1);
        c2.snap.account = account;
        chans[1] = Some(c2);
    }
    let (kill_tx, kills) = mpsc::unbounded_channel();
    let vars = Arc::new(o.variables.clone());
    let mut added: Vec<String> = Vec::new();
    for c in chans.iter().flatten() {
        if !core.add_channel(&c.snap.uniqueid, kill_tx.clone(), vars.clone(), c.row()) {
            // ast_channel_alloc refuses a Uniqueid that is in use: no
            // channel, the originate fails with Reason 0.
            for id in &added {
                core.remove_channel(id);
            }
            return unroutable(core, &o, reply);
        }
        added.push(c.snap.uniqueid.clone());
    }
    let attempt = core.next_attempt(&dest.number);
    let plan = core.scenario.plan(&dest.number, core.seed, attempt);
    let scaled = plan.clone().scaled(core.speed);
    let timeout = scale(
        Duration::from_millis(u64::try_from(o.timeout_ms).unwrap_or(0)),
        core.speed,
    );
    core.call_started();
    let call = Call {
        core: core.clone(),
        o,
        dest,
        plan,
        scaled,
        timeout,
        reply: Some(reply),
        chans,
        kills,
        kill_tx,
        vars,
        bridge: None,
    };
    tokio::spawn(call.run());
}

enum Wake {
    Kill(Kill),
    Timer,
}

/// The bridge of an agent call: its id and who is in it.
struct Bridge {
    id: String,
    members: Vec<Leg>,
}

struct Call {
    core: Arc<Core>,
    o: AmiOriginate,
    dest: Dest,
    /// The plan as the scenario wrote it (the dialplan's texts).
    plan: Plan,
    /// The plan at the switch's speed (the timers).
    scaled: Plan,
    timeout: Duration,
    reply: Option<Reply>,
    chans: [Option<Chan>; 4],
    kills: mpsc::UnboundedReceiver<Kill>,
    kill_tx: mpsc::UnboundedSender<Kill>,
    vars: Arc<Vec<(String, String)>>,
    bridge: Option<Bridge>,
}

impl Call {
    async fn run(mut self) {
        let core = self.core.clone();
        tokio::select! {
            _ = core.shutdown.cancelled() => {}
            _ = self.play() => {}
        }
        for c in self.chans.iter().flatten() {
            core.remove_channel(&c.snap.uniqueid);
        }
        if let Some(Reply::Wait(tx)) = self.reply.take() {
            let _ = tx.send(false);
        }
        core.call_ended();
    }

    // ---- channels ------------------------------------------------------

    fn has(&self, leg: Leg) -> bool {
        self.chans[leg.index()].is_some()
    }

    fn alive(&self, leg: Leg) -> bool {
        self.chans[leg.index()].as_ref().is_some_and(|c| c.alive)
    }

    fn chan(&self, leg: Leg) -> Option<&Chan> {
        self.chans[leg.index()].as_ref()
    }

    fn with(&mut self, leg: Leg, f: impl FnOnce(&mut Chan)) {
        if let Some(c) = self.chans[leg.index()].as_mut() {
            f(c);
        }
    }

    fn name(&self, leg: Leg) -> String {
        self.chan(leg)
            .map(|c| c.snap.name.clone())
            .unwrap_or_default()
    }

    fn leg_of(&self, uniqueid: &str) -> Option<Leg> {
        [C1, C2, A1, A2].into_iter().find(|l| {
            self.chan(*l)
                .is_some_and(|c| c.alive && c.snap.uniqueid == uniqueid)
        })
    }

    /// Refreshes the CoreShowChannels row.
    fn publish(&self, leg: Leg) {
        if let Some(c) = self.chan(leg).filter(|c| c.alive) {
            self.core.update_row(&c.snap.uniqueid, c.row());
        }
    }

    fn publish_all(&self) {
        for l in [C1, C2, A1, A2] {
            self.publish(l);
        }
    }

    // ---- events --------------------------------------------------------

    fn emit(&self, kind: Kind, legs: &[Leg], extras: &[(&str, Option<&str>)]) {
        let t = self.core.ami.templates.get(kind);
        if !self.core.ami.bus.wants(t.category) {
            return;
        }
        let snaps: Vec<&Snapshot> = legs
            .iter()
            .filter_map(|l| self.chan(*l).map(|c| &c.snap))
            .collect();
        let bytes = t.render(&snaps, extras);
        self.core.ami.bus.dispatch(Arc::new(super::bus::AmiEvent {
            category: t.category,
            bytes,
        }));
    }

    /// Newexten: `leg` runs `app`. In the dialplan (`step`) each application
    /// is the next priority; the dial's own `AppDial` is not.
    fn newexten(&mut self, leg: Leg, app: &str, data: &str, step: bool) {
        self.with(leg, |c| {
            if step {
                c.steps += 1;
                c.snap.priority = c.steps;
            }
            c.appl = app.to_string();
            c.data = data.to_string();
        });
        let exten = self
            .chan(leg)
            .map(|c| c.snap.exten.clone())
            .unwrap_or_default();
        self.emit(
            Kind::Newexten,
            &[leg],
            &[
                ("Extension", Some(&exten)),
                ("Application", Some(app)),
                ("AppData", Some(data)),
            ],
        );
    }

    fn varset(&self, leg: Leg, name: &str, value: &str) {
        self.emit(
            Kind::VarSet,
            &[leg],
            &[("Variable", Some(name)), ("Value", Some(value))],
        );
    }

    fn newstate(&mut self, leg: Leg, state: State) {
        self.with(leg, |c| c.snap.state = state);
        self.emit(Kind::Newstate, &[leg], &[]);
    }

    fn new_callerid(&self, leg: Leg) {
        self.emit(
            Kind::NewCallerid,
            &[leg],
            &[(
                "CID-CallingPres",
                Some("0 (Presentation Allowed, Not Screened)"),
            )],
        );
    }

    /// SoftHangupRequest: its Cause is AST_SOFTHANGUP_EXPLICIT (0x10).
    fn soft_hangup_request(&self, leg: Leg) {
        self.emit(Kind::SoftHangupRequest, &[leg], &[("Cause", Some("16"))]);
    }

    /// HangupRequest: the hang-up the other half of a Local pair (or the far
    /// end) queued, with its cause.
    fn hangup_request(&self, leg: Leg, cause: u16) {
        if self.alive(leg) {
            let c = cause.to_string();
            self.emit(Kind::HangupRequest, &[leg], &[("Cause", Some(&c))]);
        }
    }

    fn hangup(&mut self, leg: Leg, cause: u16) {
        if !self.alive(leg) {
            return;
        }
        let c = cause.to_string();
        self.emit(
            Kind::Hangup,
            &[leg],
            &[("Cause", Some(&c)), ("Cause-txt", Some(cause_text(cause)))],
        );
        self.with(leg, |c| c.alive = false);
        if let Some(c) = self.chan(leg) {
            self.core.remove_channel(&c.snap.uniqueid);
        }
    }

    fn cdr(&self, leg: Leg, disposition: &str) {
        let Some(c) = self.chan(leg) else {
            return;
        };
        let end = clock::now_micros();
        let answered = c.cdr_answered.or(c.answered);
        let caller_id = match (&c.snap.cid_name, &c.snap.cid_num) {
            (Some(n), Some(num)) => format!("\"{n}\" <{num}>"),
            (Some(n), None) => n.clone(),
            (None, Some(num)) => num.clone(),
            (None, None) => String::new(),
        };
        let duration = ((end - c.created) / 1_000_000).max(0).to_string();
        let billable = answered
            .map(|a| ((end - a) / 1_000_000).max(0))
            .unwrap_or(0)
            .to_string();
        let start = clock::local_stamp(c.created);
        let answer = answered.map(clock::local_stamp).unwrap_or_default();
        let end_text = clock::local_stamp(end);
        self.emit(
            Kind::Cdr,
            &[],
            &[
                ("AccountCode", Some(&c.snap.account)),
                ("Source", Some(c.snap.cid_num.as_deref().unwrap_or(""))),
                ("Destination", Some(&c.cdr_dest)),
                ("DestinationContext", Some(&c.cdr_context)),
                ("CallerID", Some(&caller_id)),
                ("Channel", Some(&c.snap.name)),
                ("DestinationChannel", Some(&c.cdr_dest_channel)),
                ("LastApplication", Some(&c.appl)),
                ("LastData", Some(&c.data)),
                ("StartTime", Some(&start)),
                ("AnswerTime", Some(&answer)),
                ("EndTime", Some(&end_text)),
                ("Duration", Some(&duration)),
                ("BillableSeconds", Some(&billable)),
                ("Disposition", Some(disposition)),
                ("UniqueID", Some(&c.snap.uniqueid)),
                ("UserField", Some("")),
            ],
        );
    }

    fn answered(&self, leg: Leg) -> bool {
        self.chan(leg).is_some_and(|c| c.answered.is_some())
    }

    /// The originate's outcome, once: `OriginateResponse` (async) or the
    /// waiting Response.
    fn originate_result(&mut self, success: bool, reason: u8) {
        match self.reply.take() {
            Some(Reply::Event { action_id }) => {
                let (channel, uniqueid) = if success {
                    let c = self.chan(C1);
                    (
                        c.map(|c| c.snap.name.clone()).unwrap_or_default(),
                        c.map(|c| c.snap.uniqueid.clone()).unwrap_or_default(),
                    )
                } else {
                    // The failed originate no longer holds a channel: the
                    // requested one and the ChannelId are reported.
                    (
                        self.o.channel.clone(),
                        self.o
                            .channel_id
                            .clone()
                            .unwrap_or_else(|| "<unknown>".into()),
                    )
                };
                emit_originate_response(
                    &self.core,
                    &self.o,
                    action_id.as_deref(),
                    success,
                    reason,
                    &channel,
                    &uniqueid,
                );
            }
            Some(Reply::Wait(tx)) => {
                let _ = tx.send(success);
            }
            None => {}
        }
    }

    // ---- waiting -------------------------------------------------------

    async fn wait(&mut self, until: Option<Instant>) -> Wake {
        let kill = async {
            match self.kills.recv().await {
                Some(k) => k,
                // The task holds a sender, so the channel never closes.
                None => std::future::pending().await,
            }
        };
        match until {
            Some(t) => tokio::select! {
                k = kill => Wake::Kill(k),
                _ = tokio::time::sleep_until(t) => Wake::Timer,
            },
            None => Wake::Kill(kill.await),
        }
    }

    /// Waits for `until`; `Err(leg, cause)` when a live channel of the call
    /// is hung up from outside first.
    async fn sleep(&mut self, until: Option<Instant>) -> Result<(), (Leg, u16)> {
        loop {
            match self.wait(until).await {
                Wake::Timer => return Ok(()),
                Wake::Kill(k) => {
                    if let Some(leg) = self.leg_of(&k.uuid) {
                        return Err((leg, q850(&k.cause)));
                    }
                }
            }
        }
    }

    // ---- the customer's side -------------------------------------------

    /// From Newchannel to DialBegin, as in `real/asterisk_answered.txt`.
    fn start_events(&mut self) {
        let local = self.has(C2);
        self.emit(Kind::Newchannel, &[C1], &[]);
        if local {
            self.emit(Kind::Newchannel, &[C2], &[]);
        }
        self.newexten(C1, "AppDial2", "(Outgoing Line)", false);
        let vars = self.vars.clone();
        for (k, v) in vars.iter() {
            self.varset(C1, k, v);
        }
        let (name, number) = self
            .o
            .caller_id
            .as_deref()
            .map(parse_callerid)
            .unwrap_or((None, None));
        let has_cid = name.is_some() || number.is_some();
        if has_cid {
            self.with(C1, |c| {
                c.snap.cid_num = number.clone();
                c.snap.cid_name = name.clone();
            });
            self.new_callerid(C1);
            self.with(C1, |c| {
                c.snap.connected_num = number.clone();
                c.snap.connected_name = name.clone();
            });
            self.emit(Kind::NewConnectedLine, &[C1], &[]);
        }
        if local {
            // core_unreal copies the variables to the ;2 half.
            for (k, v) in vars.iter() {
                self.varset(C2, k, v);
            }
            if has_cid {
                self.with(C2, |c| {
                    c.snap.cid_num = number.clone();
                    c.snap.cid_name = name.clone();
                    c.snap.connected_num = number.clone();
                    c.snap.connected_name = name.clone();
                });
                self.new_callerid(C2);
                self.emit(Kind::NewConnectedLine, &[C2], &[]);
            }
            let (exten, context) = self.dest.local.clone().unwrap_or_default();
            self.emit(
                Kind::LocalBridge,
                &[C1, C2],
                &[("Context", Some(&context)), ("Exten", Some(&exten))],
            );
        }
        let dial_string = self.dest.dial_string.clone();
        self.emit(
            Kind::DialBegin,
            &[C1],
            &[("DialString", Some(&dial_string))],
        );
        self.publish_all();
    }

    async fn play(&mut self) {
        self.start_events();
        let local = self.has(C2);
        if local {
            let d = describe("customer", &self.dest.number, &self.plan);
            self.newexten(C2, "NoOp", &d, true);
        }
        let no_answer = self.plan.outcome == Outcome::NoAnswer;
        let times_out = no_answer || self.scaled.ring >= self.timeout;
        if !self.scaled.ring.is_zero() || times_out {
            if local {
                self.newexten(C2, "Ringing", "", true);
            }
            self.newstate(C1, State::Ringing);
            if local {
                let wait = if no_answer {
                    // Rings on; only the originate's Timeout ends it.
                    "3600".to_string()
                } else {
                    secs_text(self.plan.ring)
                };
                self.newexten(C2, "Wait", &wait, true);
            }
            self.emit(Kind::DialState, &[C1], &[("DialStatus", Some("RINGING"))]);
            self.publish_all();
        }
        let decide = after(if times_out {
            self.timeout
        } else {
            self.scaled.ring
        });
        if let Err((leg, cause)) = self.sleep(Some(decide)).await {
            return self.teardown(leg, cause);
        }
        if times_out {
            return self.no_answer();
        }
        match self.plan.outcome.clone() {
            Outcome::Reject(HangupCause::UserBusy) => self.busy(),
            Outcome::Reject(
                HangupCause::NormalCircuitCongestion | HangupCause::SwitchCongestion,
            ) => self.congestion(),
            Outcome::Reject(c) => self.rejected(q850(&c)),
            Outcome::NoAnswer => self.no_answer(),
            Outcome::Answer => self.answer().await,
        }
    }

    /// PROTOCOLS.md §5, no answer: at the Timeout the ;1 is hung up
    /// (HangupRequest 19 on ;2), OriginateResponse Failure Reason 3, both
    /// Hangups with Cause 19, the CDRs NO ANSWER, and no DialEnd.
    fn no_answer(&mut self) {
        self.hangup_request(C2, 19);
        self.originate_result(false, 3);
        self.hangup(C1, 19);
        self.hangup(C2, 19);
        self.cdr(C1, "NO ANSWER");
        if self.has(C2) {
            self.cdr(C2, "NO ANSWER");
        }
    }

    /// PROTOCOLS.md §5, busy: the ;2 runs Busy (state 7), DialEnd BUSY, the
    /// originate hangs ;1 up (HangupRequest Cause 0 on ;2), Cdr BUSY,
    /// OriginateResponse Failure Reason 5, Hangup ;1 Cause 0, Cdr, Hangup
    /// ;2 Cause 17.
    fn busy(&mut self) {
        let local = self.has(C2);
        if local {
            self.newexten(C2, "Busy", "", true);
            self.newstate(C2, State::Busy);
        }
        self.emit(Kind::DialEnd, &[C1], &[("DialStatus", Some("BUSY"))]);
        self.hangup_request(C2, 0);
        self.cdr(C1, "BUSY");
        self.originate_result(false, 5);
        self.hangup(C1, if local { 0 } else { 17 });
        if local {
            self.cdr(C2, "BUSY");
            self.hangup(C2, 17);
        }
    }

    /// PROTOCOLS.md §5, congestion: the ;2 runs Congestion (which sets state
    /// Busy too), DialEnd CONGESTION, OriginateResponse Failure Reason 8,
    /// Cdr FAILED, Hangup ;1 Cause 0, Hangup ;2 Cause 34.
    fn congestion(&mut self) {
        let local = self.has(C2);
        if local {
            self.newexten(C2, "Congestion", "", true);
            self.newstate(C2, State::Busy);
        }
        self.emit(Kind::DialEnd, &[C1], &[("DialStatus", Some("CONGESTION"))]);
        self.hangup_request(C2, 0);
        self.originate_result(false, 8);
        self.cdr(C1, "FAILED");
        self.hangup(C1, if local { 0 } else { 34 });
        if local {
            self.cdr(C2, "FAILED");
            self.hangup(C2, 34);
        }
    }

    /// Any other refusal (not captured): the ;2 runs `Hangup(<cause>)`, the
    /// ;1 follows with the cause; the dial saw a hang-up (Reason 1).
    fn rejected(&mut self, cause: u16) {
        if self.has(C2) {
            self.newexten(C2, "Hangup", &cause.to_string(), true);
            self.soft_hangup_request(C2);
            self.hangup_request(C1, cause);
            self.hangup(C2, cause);
            self.cdr(C2, disposition(false, cause));
        } else {
            self.hangup_request(C1, cause);
        }
        self.originate_result(false, 1);
        self.hangup(C1, cause);
        self.cdr(C1, disposition(false, cause));
    }

    /// Answer, as in the captures: Newstate Up (;2 then ;1), DialEnd ANSWER,
    /// OriginateResponse Success Reason 4 (for an originate to an extension
    /// it came just before the Newstates in the capture).
    async fn answer(&mut self) {
        let local = self.has(C2);
        let to_exten = self.o.application.is_empty();
        if local {
            self.newexten(C2, "Answer", "", true);
        }
        if to_exten {
            self.originate_result(true, 4);
        }
        let now = clock::now_micros();
        if local {
            self.with(C2, |c| c.answered = Some(now));
            self.newstate(C2, State::Up);
        }
        self.with(C1, |c| c.answered = Some(now));
        self.newstate(C1, State::Up);
        self.emit(Kind::DialEnd, &[C1], &[("DialStatus", Some("ANSWER"))]);
        if !to_exten {
            self.originate_result(true, 4);
        }
        let customer_end = self.scaled.talk.map(after);
        if !to_exten {
            // The ;1 runs the Application (no Newexten: it is not dialplan).
            let (app, data) = (self.o.application.clone(), self.o.data.clone());
            self.with(C1, |c| {
                c.appl = app.clone();
                c.data = data.clone();
            });
            self.customer_talks();
            self.publish_all();
            // Wait(n) ends by itself; other applications run until hung up.
            let app_end = app
                .eq_ignore_ascii_case("Wait")
                .then(|| data.trim().parse::<f64>().ok())
                .flatten()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| after(scale(Duration::from_secs_f64(s.min(1e9)), self.core.speed)));
            return self.hold(customer_end, app_end).await;
        }
        // The ;1 enters the dialplan at Context/Exten/Priority.
        let (context, exten) = (self.o.context.clone(), self.o.exten.clone());
        let priority = u32::try_from(self.o.priority.max(1)).unwrap_or(1);
        self.with(C1, |c| {
            c.snap.context = context.clone();
            c.snap.exten = exten.clone();
            c.snap.priority = priority;
            c.steps = priority - 1;
        });
        let extension = self.core.scenario.extension(&exten, &context).cloned();
        match extension {
            Some(x) if x.app == "bridge" => {
                let data = expand_vars(&x.data, &self.vars);
                return self.agent(data, customer_end).await;
            }
            Some(x) => {
                let app = match x.app.as_str() {
                    "park" => "Park".to_string(),
                    other => other.to_string(),
                };
                let data = expand_vars(&x.data, &self.vars);
                self.newexten(C1, &app, &data, true);
            }
            // An extension the scenario does not describe: the ;1 stays.
            None => {}
        }
        self.customer_talks();
        self.publish_all();
        self.hold(customer_end, None).await
    }

    /// The ;2 talks: `Wait(talk)`, or `Echo` when the scenario's callee
    /// stays until hung up.
    fn customer_talks(&mut self) {
        if self.has(C2) {
            match self.plan.talk {
                Some(t) => self.newexten(C2, "Wait", &secs_text(t), true),
                None => self.newexten(C2, "Echo", "", true),
            }
        }
    }

    async fn hold(&mut self, customer_end: Option<Instant>, app_end: Option<Instant>) {
        if let Err((leg, cause)) = self.sleep(earliest(customer_end, app_end)).await {
            return self.teardown(leg, cause);
        }
        if customer_end.is_some_and(|t| t <= Instant::now()) {
            self.customer_hangs_up();
        } else {
            self.dialer_side_ends();
        }
    }

    /// The customer's dialplan runs Hangup, as in `real/asterisk_answered.txt`:
    /// SoftHangupRequest ;2, HangupRequest ;1, Hangup ;2, Cdr ;2, Cdr ;1,
    /// Hangup ;1, all Cause 16.
    fn customer_hangs_up(&mut self) {
        if self.has(C2) {
            self.newexten(C2, "Hangup", "", true);
            self.soft_hangup_request(C2);
            self.hangup_request(C1, 16);
            self.hangup(C2, 16);
            self.cdr(C2, "ANSWERED");
        } else {
            self.hangup_request(C1, 16);
        }
        self.cdr(C1, "ANSWERED");
        self.hangup(C1, 16);
    }

    /// The ;1's application (or dialplan) is over and it hangs up: the
    /// mirror of the customer hanging up.
    fn dialer_side_ends(&mut self) {
        self.hangup_request(C2, 16);
        self.hangup(C1, 16);
        let d = disposition(self.answered(C1), 16);
        self.cdr(C1, d);
        if self.has(C2) {
            let d = disposition(self.answered(C2), 16);
            self.cdr(C2, d);
            self.hangup(C2, 16);
        }
    }

    /// A channel of the call is hung up from outside (AMI Hangup, the
    /// `hangup_all` hook) with `cause`: its other half hears it first, then
    /// the channels go, the killed one first, and the bridge with them.
    fn teardown(&mut self, killed: Leg, cause: u16) {
        let mate = killed.mate();
        self.hangup_request(mate, cause);
        if self.reply.is_some() {
            // The dial saw its channel hang up (AST_CONTROL_HANGUP).
            self.originate_result(false, 1);
        }
        self.leave_bridge(killed);
        self.hangup(killed, cause);
        let d = disposition(self.answered(killed), cause);
        self.cdr(killed, d);
        if self.alive(mate) {
            self.leave_bridge(mate);
            self.hangup(mate, cause);
            let d = disposition(self.answered(mate), cause);
            self.cdr(mate, d);
        }
        let (one, two) = if matches!(killed, C1 | C2) {
            (A1, A2)
        } else {
            (C1, C2)
        };
        if self.alive(one) {
            self.hangup_request(two, 16);
            self.leave_bridge(one);
            self.hangup(one, 16);
            let d = disposition(self.answered(one), 16);
            self.cdr(one, d);
        }
        if self.alive(two) {
            self.hangup(two, 16);
            let d = disposition(self.answered(two), 16);
            self.cdr(two, d);
        }
    }

    // ---- the agent's side ----------------------------------------------

    /// `Dial(<agent>)` from the ;1 once the customer answered, as
    /// `real/asterisk_agent_bridge.txt` shows it: NoOp, Dial, the Dial
    /// variables cleared, the agent's pair, DialBegin, the agent answering
    /// (per the scenario), DialEnd ANSWER, BridgeCreate, BridgeEnter ×2.
    async fn agent(&mut self, data: String, customer_end: Option<Instant>) {
        let args = separate_args(&data);
        let target = args
            .first()
            .map(|d| d.split('&').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let ring_limit = args
            .get(1)
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(|t| scale(Duration::from_secs_f64(t.min(1e9)), self.core.speed));
        let adest = parse_dest(&target);
        let who = adest
            .as_ref()
            .map(|d| d.number.clone())
            .unwrap_or_else(|| target.clone());
        self.newexten(
            C1,
            "NoOp",
            &format!("connecting customer to agent {who}"),
            true,
        );
        self.newexten(C1, "Dial", &data, true);
        for v in DIAL_VARS {
            self.varset(C1, v, "");
        }
        self.publish_all();
        let Some(adest) = adest else {
            // No such channel driver: Dial gives up at once.
            self.varset(C1, "DIALSTATUS", "CHANUNAVAIL");
            self.customer_talks();
            return self.after_dial(customer_end).await;
        };
        if !self.add_agent_channels(&adest) {
            self.varset(C1, "DIALSTATUS", "CHANUNAVAIL");
            self.customer_talks();
            return self.after_dial(customer_end).await;
        }
        let local = self.has(A2);
        let dialed = adest.dial_string.clone();
        self.emit(Kind::Newchannel, &[A1], &[]);
        if local {
            self.emit(Kind::Newchannel, &[A2], &[]);
        }
        self.varset(A1, "DIALEDPEERNUMBER", &dialed);
        // Dial gives the new channel the caller's extension, caller name
        // and connected line; its number is the caller's extension.
        let c1 = self.chan(C1).map(|c| c.snap.clone());
        if let Some(c1) = &c1 {
            self.with(A1, |a| {
                a.snap.exten = c1.exten.clone();
                a.snap.cid_num = Some(c1.exten.clone());
                a.snap.cid_name = c1.cid_name.clone();
                a.snap.connected_num = c1.cid_num.clone();
                a.snap.connected_name = c1.cid_name.clone();
            });
        }
        self.newexten(A1, "AppDial", "(Outgoing Line)", false);
        self.new_callerid(A1);
        self.emit(Kind::NewConnectedLine, &[A1], &[]);
        if local {
            self.varset(A2, "DIALEDPEERNUMBER", &dialed);
            let a1 = self.chan(A1).map(|c| c.snap.clone());
            if let (Some(c1), Some(a1)) = (&c1, &a1) {
                self.with(A2, |a| {
                    a.snap.cid_num = c1.cid_num.clone();
                    a.snap.cid_name = c1.cid_name.clone();
                    a.snap.connected_num = a1.cid_num.clone();
                    a.snap.connected_name = a1.cid_name.clone();
                });
            }
            self.new_callerid(A2);
            self.emit(Kind::NewConnectedLine, &[A2], &[]);
            let (exten, context) = adest.local.clone().unwrap_or_default();
            self.emit(
                Kind::LocalBridge,
                &[A1, A2],
                &[("Context", Some(&context)), ("Exten", Some(&exten))],
            );
        }
        let attempt = self.core.next_attempt(&adest.number);
        let plan = self
            .core
            .scenario
            .plan(&adest.number, self.core.seed, attempt);
        let scaled = plan.clone().scaled(self.core.speed);
        let no_answer = plan.outcome == Outcome::NoAnswer;
        let times_out = no_answer || ring_limit.is_some_and(|l| scaled.ring >= l);
        let rings = !scaled.ring.is_zero() || times_out;
        if local {
            self.newexten(A2, "NoOp", &describe("agent", &adest.number, &plan), true);
            if !rings && plan.outcome == Outcome::Answer {
                self.newexten(A2, "Answer", "", true);
            }
        }
        self.emit(
            Kind::DialBeginCaller,
            &[C1, A1],
            &[("DialString", Some(&dialed))],
        );
        if rings {
            if local {
                self.newexten(A2, "Ringing", "", true);
            }
            self.newstate(A1, State::Ringing);
            if local {
                let wait = if no_answer {
                    "3600".to_string()
                } else {
                    secs_text(plan.ring)
                };
                self.newexten(A2, "Wait", &wait, true);
            }
            self.emit(
                Kind::DialStateCaller,
                &[C1, A1],
                &[("DialStatus", Some("RINGING"))],
            );
        }
        self.publish_all();
        let decide = if times_out {
            ring_limit.map(after)
        } else {
            Some(after(scaled.ring))
        };
        let until = earliest(decide, customer_end);
        if let Err((leg, cause)) = self.sleep(until).await {
            return self.teardown(leg, cause);
        }
        if customer_end.is_some_and(|t| t <= Instant::now())
            && decide.is_none_or(|d| d > Instant::now())
        {
            return self.customer_leaves_while_agent_rings();
        }
        let refused = match (&plan.outcome, times_out) {
            (_, true) | (Outcome::NoAnswer, _) => Some(19),
            (Outcome::Reject(c), false) => Some(q850(c)),
            (Outcome::Answer, false) => None,
        };
        if let Some(cause) = refused {
            return self.agent_refuses(cause, times_out, customer_end).await;
        }
        self.agent_answers(rings, &dialed, plan.talk, scaled.talk, customer_end)
            .await
    }

    /// Creates the agent's channel (and its ;2 half for a Local channel);
    /// `false` when a Uniqueid is taken.
    fn add_agent_channels(&mut self, adest: &Dest) -> bool {
        let seq = self.core.ami.next_sequence(adest.tech);
        let linkedid = self
            .chan(C1)
            .map(|c| c.snap.linkedid.clone())
            .unwrap_or_default();
        let (context, exten) = match &adest.local {
            Some((e, c)) => (c.clone(), e.clone()),
            None => ("default".to_string(), "s".to_string()),
        };
        let name1 = if adest.local.is_some() {
            format!("{}-{seq:08x};1", adest.name_base)
        } else {
            format!("{}-{seq:08x}", adest.name_base)
        };
        let a1 = Chan::new(
            name1,
            State::Down,
            &context,
            &exten,
            self.core.ami.new_uniqueid(),
            &linkedid,
        );
        let a2 = adest.local.as_ref().map(|_| {
            Chan::new(
                format!("{}-{seq:08x};2", adest.name_base),
                State::Ring,
                &context,
                &exten,
                self.core.ami.new_uniqueid(),
                &linkedid,
            )
        });
        for c in std::iter::once(&a1).chain(a2.iter()) {
            if !self.core.add_channel(
                &c.snap.uniqueid,
                self.kill_tx.clone(),
                self.vars.clone(),
                c.row(),
            ) {
                self.core.remove_channel(&a1.snap.uniqueid);
                return false;
            }
        }
        self.chans[A1.index()] = Some(a1);
        self.chans[A2.index()] = a2;
        true
    }

    async fn agent_answers(
        &mut self,
        rang: bool,
        dialed: &str,
        talk: Option<Duration>,
        scaled_talk: Option<Duration>,
        customer_end: Option<Instant>,
    ) {
        let local = self.has(A2);
        if local && rang {
            self.newexten(A2, "Answer", "", true);
        }
        let now = clock::now_micros();
        if local {
            self.with(A2, |a| a.answered = Some(now));
            self.newstate(A2, State::Up);
        }
        self.with(A1, |a| a.answered = Some(now));
        self.newstate(A1, State::Up);
        let a1_name = self.name(A1);
        self.varset(C1, "DIALSTATUS", "ANSWER");
        self.varset(C1, "DIALEDPEERNAME", &a1_name);
        self.varset(C1, "DIALEDPEERNUMBER", dialed);
        self.with(A1, |a| a.snap.exten.clear());
        self.emit(
            Kind::DialEndCaller,
            &[C1, A1],
            &[("DialStatus", Some("ANSWER"))],
        );
        let id = uuid::Uuid::new_v4().to_string();
        self.emit(
            Kind::BridgeCreate,
            &[],
            &[
                ("BridgeUniqueid", Some(&id)),
                ("BridgeNumChannels", Some("0")),
            ],
        );
        self.bridge = Some(Bridge {
            id: id.clone(),
            members: Vec::new(),
        });
        self.newexten(A1, "AppDial", "(Outgoing Line)", false);
        self.enter_bridge(A1);
        self.enter_bridge(C1);
        let c1_name = self.name(C1);
        self.varset(A1, "BRIDGEPEER", &c1_name);
        self.varset(C1, "BRIDGEPEER", &a1_name);
        // The ;1's CDR is now the Dial's: to the agent, answered by them.
        self.with(C1, |c| {
            c.cdr_dest = c.snap.exten.clone();
            c.cdr_context = c.snap.context.clone();
            c.cdr_dest_channel = a1_name.clone();
            c.cdr_answered = Some(now);
        });
        self.customer_talks();
        if local {
            match talk {
                Some(t) => self.newexten(A2, "Wait", &secs_text(t), true),
                None => self.newexten(A2, "Echo", "", true),
            }
        }
        self.publish_all();
        let agent_end = scaled_talk.map(after);
        if let Err((leg, cause)) = self.sleep(earliest(customer_end, agent_end)).await {
            return self.teardown(leg, cause);
        }
        if agent_end.is_some_and(|t| t <= Instant::now()) {
            self.agent_hangs_up();
        } else {
            self.customer_leaves_bridge();
        }
    }

    fn enter_bridge(&mut self, leg: Leg) {
        let Some(b) = self.bridge.as_mut() else {
            return;
        };
        b.members.push(leg);
        let (id, n) = (b.id.clone(), b.members.len().to_string());
        self.with(leg, |c| c.bridge = Some(id.clone()));
        self.emit(
            Kind::BridgeEnter,
            &[leg],
            &[
                ("BridgeUniqueid", Some(&id)),
                ("BridgeNumChannels", Some(&n)),
            ],
        );
    }

    /// BridgeLeave for `leg` (the BRIDGEPEER variables are cleared while
    /// both are in), BridgeDestroy once the bridge is empty.
    fn leave_bridge(&mut self, leg: Leg) {
        let Some(b) = self.bridge.as_ref() else {
            return;
        };
        if !b.members.contains(&leg) {
            return;
        }
        if b.members.len() == 2 {
            self.varset(A1, "BRIDGEPEER", "");
            self.varset(C1, "BRIDGEPEER", "");
        }
        let Some(b) = self.bridge.as_mut() else {
            return;
        };
        b.members.retain(|l| *l != leg);
        let (id, n) = (b.id.clone(), b.members.len());
        self.with(leg, |c| c.bridge = None);
        let count = n.to_string();
        self.emit(
            Kind::BridgeLeave,
            &[leg],
            &[
                ("BridgeUniqueid", Some(&id)),
                ("BridgeNumChannels", Some(&count)),
            ],
        );
        if n == 0 {
            self.emit(
                Kind::BridgeDestroy,
                &[],
                &[
                    ("BridgeUniqueid", Some(&id)),
                    ("BridgeNumChannels", Some("0")),
                ],
            );
            self.bridge = None;
        }
    }

    /// Dial's times, set as it returns.
    fn dial_times(&self, status: &str) {
        let now = clock::now_micros();
        let Some(c1) = self.chan(C1) else {
            return;
        };
        if let Some(a) = c1.cdr_answered {
            let ms = ((now - a) / 1000).max(0);
            self.varset(C1, "ANSWEREDTIME", &(ms / 1000).to_string());
            self.varset(C1, "ANSWEREDTIME_MS", &ms.to_string());
        }
        let ms = ((now - c1.created) / 1000).max(0);
        self.varset(C1, "DIALEDTIME", &(ms / 1000).to_string());
        self.varset(C1, "DIALEDTIME_MS", &ms.to_string());
        self.varset(C1, "DIALSTATUS", status);
    }

    /// The agent's dialplan hangs up, as in `real/asterisk_agent_bridge.txt`.
    fn agent_hangs_up(&mut self) {
        if self.has(A2) {
            self.newexten(A2, "Hangup", "", true);
            self.soft_hangup_request(A2);
            self.hangup_request(A1, 16);
            self.hangup(A2, 16);
            self.cdr(A2, "ANSWERED");
        } else {
            self.hangup_request(A1, 16);
        }
        self.cdr(C1, "ANSWERED");
        self.leave_bridge(A1);
        self.hangup(A1, 16);
        self.leave_bridge(C1);
        self.dial_times("ANSWER");
        // Dial returns -1 (the callee hung up): the ;1's dialplan ends.
        self.soft_hangup_request(C1);
        self.hangup_request(C2, 16);
        self.hangup(C1, 16);
        if self.has(C2) {
            self.cdr(C2, "ANSWERED");
            self.soft_hangup_request(C2);
            self.hangup(C2, 16);
        }
    }

    /// The customer hangs up during the bridge (not captured; the mirror of
    /// the agent hanging up): the ;1 leaves the bridge and hangs up, Dial
    /// hangs the agent up.
    fn customer_leaves_bridge(&mut self) {
        if self.has(C2) {
            self.newexten(C2, "Hangup", "", true);
            self.soft_hangup_request(C2);
            self.hangup_request(C1, 16);
            self.hangup(C2, 16);
            self.cdr(C2, "ANSWERED");
        } else {
            self.hangup_request(C1, 16);
        }
        self.leave_bridge(C1);
        self.dial_times("ANSWER");
        self.cdr(C1, "ANSWERED");
        self.hangup(C1, 16);
        self.leave_bridge(A1);
        self.hangup_request(A2, 16);
        self.hangup(A1, 16);
        if self.has(A2) {
            self.cdr(A2, "ANSWERED");
            self.hangup(A2, 16);
        }
    }

    /// The customer's talk time runs out while the agent still rings: Dial
    /// is cancelled.
    fn customer_leaves_while_agent_rings(&mut self) {
        if self.has(C2) {
            self.newexten(C2, "Hangup", "", true);
            self.soft_hangup_request(C2);
        }
        self.emit(
            Kind::DialEndCaller,
            &[C1, A1],
            &[("DialStatus", Some("CANCEL"))],
        );
        self.varset(C1, "DIALSTATUS", "CANCEL");
        self.teardown(if self.has(C2) { C2 } else { C1 }, 16);
    }

    /// The agent does not answer (busy, congestion, no answer within Dial's
    /// timeout, other refusals): DialEnd with the status, the agent's
    /// channels go, Dial returns and the customer's side carries on.
    async fn agent_refuses(&mut self, cause: u16, timed_out: bool, customer_end: Option<Instant>) {
        let status = if timed_out {
            "NOANSWER"
        } else {
            dial_status(cause)
        };
        if self.has(A2) && !timed_out {
            match status {
                "BUSY" => {
                    self.newexten(A2, "Busy", "", true);
                    self.newstate(A2, State::Busy);
                }
                "CONGESTION" => {
                    self.newexten(A2, "Congestion", "", true);
                    self.newstate(A2, State::Busy);
                }
                _ => {
                    self.newexten(A2, "Hangup", &cause.to_string(), true);
                    self.soft_hangup_request(A2);
                }
            }
        }
        self.emit(
            Kind::DialEndCaller,
            &[C1, A1],
            &[("DialStatus", Some(status))],
        );
        let a1_cause = if self.has(A2) { 0 } else { cause };
        self.hangup_request(A2, a1_cause);
        self.hangup(A1, a1_cause);
        if self.has(A2) {
            self.cdr(A2, disposition(false, cause));
            self.hangup(A2, cause);
        }
        self.dial_times(status);
        self.customer_talks();
        self.after_dial(customer_end).await;
    }

    /// Dial returned without a bridge: the extension has nothing after it,
    /// so the ;1's dialplan ends and it hangs up (unless the customer or
    /// the switch is quicker).
    async fn after_dial(&mut self, customer_end: Option<Instant>) {
        self.publish_all();
        if customer_end.is_some_and(|t| t <= Instant::now()) {
            return self.customer_hangs_up();
        }
        self.dialer_side_ends();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(secs_text(Duration::from_secs(1)), "1");
        assert_eq!(secs_text(Duration::from_millis(1500)), "1.5");
        assert_eq!(secs_text(Duration::from_millis(250)), "0.25");
        assert_eq!(cause_text(16), "Normal Clearing");
        assert_eq!(cause_text(17), "User busy");
        assert_eq!(cause_text(19), "User alerting, no answer");
        assert_eq!(cause_text(34), "Circuit/channel congestion");
        assert_eq!(cause_text(0), "Unknown");
        assert_eq!(
            expand_vars(
                "${dialpop_agent_dial}",
                &[("DIALPOP_AGENT_DIAL".into(), "PJSIP/8001".into())]
            ),
            "PJSIP/8001"
        );
        assert_eq!(
            expand_vars(
                "${dialpop_agent_dial},20",
                &[("dialpop_agent_dial".into(), "Local/8001@agents".into())]
            ),
            "Local/8001@agents,20"
        );
    }
}
