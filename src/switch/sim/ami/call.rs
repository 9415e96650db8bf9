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
use crate::switch::sim::core::{Ask, Core, Kill};
use crate::switch::sim::scenario::{LONGEST, Outcome, Plan, scale};
use std::sync::Arc;
use std::time::Duration;
use texts::{DIAL_VARS, cause_text, describe, dial_status, disposition, expand_vars, secs_text};
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
        asks: std::collections::VecDeque::new(),
        set_vars: Vec::new(),
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
    kills: mpsc::UnboundedReceiver<Ask>,
    kill_tx: mpsc::UnboundedSender<Ask>,
    /// Asks (Setvar, Redirect) that came while the call was doing
    /// something that does not take them, in arrival order.
    asks: std::collections::VecDeque<Ask>,
    /// Variables set on the call's channels after the originate (Setvar),
    /// seen by the dialplan's `${...}`.
    set_vars: Vec<(String, String)>,
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

    // ---- waiting -------------------------------------------------------

    async fn wait(&mut self, until: Option<Instant>) -> Wake {
        loop {
            match self.next_ask(until).await {
                None => return Wake::Timer,
                Some(Ask::Kill(k)) => return Wake::Kill(k),
                // pbx_builtin_setvar_helper does not wait for the dialplan.
                Some(Ask::SetVar { uuid, name, value }) => self.set_var(&uuid, name, value),
                Some(other) => self.asks.push_back(other),
            }
        }
    }

    /// Setvar on a channel of the call: VarSet, and `${name}` finds it.
    fn set_var(&mut self, uuid: &str, name: String, value: String) {
        if let Some(leg) = self.leg_of(uuid) {
            self.varset(leg, &name, &value);
            self.set_vars.push((name, value));
        }
    }

    /// The next ask, or `None` once `until` has come.
    async fn next_ask(&mut self, until: Option<Instant>) -> Option<Ask> {
        let ask = async {
            match self.kills.recv().await {
                Some(k) => k,
                // The task holds a sender, so the channel never closes.
                None => std::future::pending().await,
            }
        };
        match until {
            Some(t) => tokio::select! {
                k = ask => Some(k),
                _ = tokio::time::sleep_until(t) => None,
            },
            None => Some(ask.await),
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
            Some(x) if x.app == "hold" => return self.hold_for_agent(customer_end).await,
            Some(x) if x.app == "message" => {
                let file = expand_vars(&x.data, &self.vars);
                self.customer_talks();
                return self.message(&file, customer_end).await;
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
}

mod agent;
mod events;
mod hold;
mod texts;
