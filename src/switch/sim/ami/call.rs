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
pub use originate_response::refuse;
use originate_response::{emit_originate_response, unroutable};
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
}

mod agent;
mod customer;
mod events;
mod hold;
mod originate_response;
mod texts;
