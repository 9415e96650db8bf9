//! One originated call played out by its plan, in one task: the customer's
//! leg and, for `&bridge(...)`, the agent's leg. The events, their order and
//! the state each leg is in when it fires them follow the real captures
//! (PROTOCOLS.md §5, `templates/`):
//!
//! - start: CODEC ×2, CHANNEL_OUTGOING, CHANNEL_STATE (CS_INIT), CHANNEL_CREATE,
//!   CHANNEL_ORIGINATE, CHANNEL_STATE (CS_ROUTING), CHANNEL_STATE (CS_CONSUME_MEDIA);
//! - ringing: CHANNEL_PROGRESS, CHANNEL_CALLSTATE (RINGING) [, CHANNEL_PROGRESS_MEDIA,
//!   CHANNEL_CALLSTATE (EARLY)];
//! - answer: CHANNEL_ANSWER, CHANNEL_CALLSTATE (ACTIVE), CALL_UPDATE, then the
//!   originate's result (API + BACKGROUND_JOB `+OK <uuid>`), then the
//!   application (CHANNEL_STATE CS_EXECUTE, CHANNEL_EXECUTE, CHANNEL_PARK …);
//! - failure before answer: CHANNEL_HANGUP, CHANNEL_STATE (CS_HANGUP),
//!   CHANNEL_CALLSTATE (HANGUP), the result (`-ERR <CAUSE>`), then
//!   CHANNEL_STATE (CS_REPORTING), CHANNEL_HANGUP_COMPLETE, CHANNEL_DESTROY,
//!   CHANNEL_STATE (CS_DESTROY);
//! - hang-up after answer: CHANNEL_HANGUP, [CHANNEL_UNPARK,]
//!   CHANNEL_EXECUTE_COMPLETE, then the same end as above.

use super::api::ApiRun;
use super::channel::{AnswerState, Ccs, Cs, Leg};
use super::clock;
use super::core::{Ask, Core, Kill};
use super::dial::Endpoint;
use super::scenario::{LONGEST, Outcome, Plan};
use super::templates::Kind;
use crate::switch::HangupCause;
use crate::switch::esl::Originate;
use legs::{customer_leg, expand_vars, new_uuid};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the answered leg is handed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Park,
    Bridge(String),
    App {
        name: String,
        data: String,
    },
    Extension {
        exten: String,
        dialplan: String,
        context: String,
    },
    /// `dialpop_hold`: answer, AMD, the verdict event, park.
    Hold,
    /// `dialpop_abandon` / `dialpop_message`: playback of this file, hangup.
    Message(String),
}

/// Everything the call task needs to know about its originate.
#[derive(Clone, Debug)]
pub struct CallSpec {
    pub uuid: String,
    pub originate: Originate,
    pub endpoint: Endpoint,
    pub plan: Plan,
    /// `originate_timeout`, already scaled by the switch's speed.
    pub timeout: Duration,
    pub target: Target,
    /// The originate's `<cid_name>` / `<cid_num>` arguments.
    pub cid_name: Option<String>,
    pub cid_number: Option<String>,
}

/// The bridge application's own ring timeout (`call_timeout`).
const BRIDGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates the customer's channel and starts its task. The originate's
/// result goes to `run` once the call is answered or fails.
pub fn start(core: &Arc<Core>, spec: CallSpec, run: ApiRun) {
    let (kill_tx, kills) = mpsc::unbounded_channel();
    let a = customer_leg(core, &spec);
    let vars = Arc::new(spec.originate.variables.clone());
    if !core.add_channel(&a.uuid, kill_tx.clone(), vars.clone(), a.row()) {
        // The uuid is taken by a live channel: no session can be made.
        run.finish(core, "-ERR DESTINATION_OUT_OF_ORDER\n".into());
        return;
    }
    core.call_started();
    let call = Call {
        core: core.clone(),
        spec,
        kills,
        kill_tx,
        vars,
        run: Some(run),
        asks: std::collections::VecDeque::new(),
    };
    tokio::spawn(call.run(a));
}

/// The instant `d` from now, saturating far in the future.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(LONGEST))
        .unwrap_or(now)
}

enum Wake {
    Kill(Kill),
    Timer,
}

/// Which leg of a bridged call ends it.
enum Ender {
    Customer(HangupCause),
    Agent(HangupCause),
}

struct Call {
    core: Arc<Core>,
    spec: CallSpec,
    kills: mpsc::UnboundedReceiver<Ask>,
    kill_tx: mpsc::UnboundedSender<Ask>,
    /// Asks (set a variable, transfer) that came while the call was doing
    /// something that does not take them, in arrival order.
    asks: std::collections::VecDeque<Ask>,
    vars: Arc<Vec<(String, String)>>,
    run: Option<ApiRun>,
}

impl Call {
    async fn run(mut self, a: Leg) {
        let core = self.core.clone();
        let uuid = a.uuid.clone();
        tokio::select! {
            _ = core.shutdown.cancelled() => {}
            _ = self.play(a) => {}
        }
        core.remove_channel(&uuid);
        core.call_ended();
    }

    fn emit(&self, kind: Kind, leg: &Leg, extras: &[(&str, Option<&str>)]) {
        self.core.emit(kind, Some(leg), extras, None);
    }

    fn callstate(&self, leg: &mut Leg, to: Ccs) {
        let from = leg.callstate;
        leg.callstate = to;
        let number = to.number().to_string();
        self.emit(
            Kind::ChannelCallstate,
            leg,
            &[
                ("Original-Channel-Call-State", Some(from.name())),
                ("Channel-Call-State-Number", Some(&number)),
            ],
        );
    }

    fn publish(&self, leg: &Leg) {
        self.core.update_row(&leg.uuid, leg.row());
    }

    fn finish_job(&mut self, output: String) {
        if let Some(run) = self.run.take() {
            run.finish(&self.core, output);
        }
    }

    /// Sleeps until `until` (forever when `None`) or a hang-up request.
    async fn wait(&mut self, until: Option<Instant>) -> Wake {
        loop {
            match self.next_ask(until).await {
                None => return Wake::Timer,
                Some(Ask::Kill(k)) => return Wake::Kill(k),
                Some(other) => self.asks.push_back(other),
            }
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

    /// Waits for `until` or a hang-up of `uuid`: the cause it ends with.
    async fn hold(&mut self, uuid: &str, until: Option<Instant>) -> HangupCause {
        loop {
            match self.wait(until).await {
                Wake::Timer => return HangupCause::NormalClearing,
                Wake::Kill(k) if k.uuid == uuid => return k.cause,
                Wake::Kill(_) => {}
            }
        }
    }

    /// From the outgoing channel to CS_CONSUME_MEDIA, waiting for the far end.
    fn originate_events(&self, leg: &mut Leg, e: &Endpoint) {
        leg.name = e.early_name.clone();
        leg.set_state(Cs::None, Cs::New);
        self.emit(Kind::CodecRead, leg, &[]);
        self.emit(Kind::CodecWrite, leg, &[]);
        leg.name = e.channel_name.clone();
        leg.set_state(Cs::None, Cs::Init);
        self.emit(Kind::ChannelOutgoing, leg, &[]);
        leg.set_state(Cs::Init, Cs::Init);
        self.emit(Kind::ChannelState, leg, &[]);
        leg.set_state(Cs::Init, Cs::Routing);
        self.emit(Kind::ChannelCreate, leg, &[]);
        self.emit(Kind::ChannelOriginate, leg, &[]);
        leg.set_state(Cs::Routing, Cs::Routing);
        self.emit(Kind::ChannelState, leg, &[]);
        leg.set_state(Cs::ConsumeMedia, Cs::ConsumeMedia);
        self.emit(Kind::ChannelState, leg, &[]);
        self.publish(leg);
    }

    fn progress(&self, leg: &mut Leg, early_media: bool) {
        leg.times.progress = clock::now_micros();
        self.emit(Kind::ChannelProgress, leg, &[]);
        self.callstate(leg, Ccs::Ringing);
        if early_media {
            leg.times.progress_media = clock::now_micros();
            leg.answer_state = AnswerState::Early;
            self.emit(Kind::ChannelProgressMedia, leg, &[]);
            self.callstate(leg, Ccs::Early);
        }
        self.publish(leg);
    }

    fn answer_events(&self, leg: &mut Leg) {
        leg.times.answered = clock::now_micros();
        leg.answer_state = AnswerState::Answered;
        self.emit(Kind::ChannelAnswer, leg, &[]);
        self.callstate(leg, Ccs::Active);
    }

    fn hangup_event(&self, leg: &mut Leg, cause: &HangupCause) {
        leg.hangup_cause = Some(cause.clone());
        leg.answer_state = AnswerState::Hangup;
        leg.set_state(leg.running, Cs::Hangup);
        self.emit(Kind::ChannelHangup, leg, &[]);
    }

    /// CHANNEL_STATE CS_HANGUP and CHANNEL_CALLSTATE HANGUP.
    fn hangup_states(&self, leg: &mut Leg) {
        leg.set_state(Cs::Hangup, Cs::Hangup);
        self.emit(Kind::ChannelState, leg, &[]);
        leg.times.hangup = clock::now_micros();
        self.callstate(leg, Ccs::Hangup);
        self.publish(leg);
    }

    /// CS_REPORTING and CHANNEL_HANGUP_COMPLETE with the CDR variables.
    fn report(&self, leg: &mut Leg) {
        leg.set_state(Cs::Reporting, Cs::Reporting);
        self.emit(Kind::ChannelState, leg, &[]);
        if leg.call_uuid != leg.uuid {
            // A bridged-to leg belongs to itself again once it is gone.
            leg.call_uuid = leg.uuid.clone();
            leg.vars.set("call_uuid", leg.uuid.clone());
        }
        leg.set_cdr_vars();
        let cause = leg
            .hangup_cause
            .as_ref()
            .map(|c| c.name().to_string())
            .unwrap_or_default();
        self.emit(
            Kind::ChannelHangupComplete,
            leg,
            &[("Hangup-Cause", Some(&cause))],
        );
    }

    fn destroy(&self, leg: &mut Leg) {
        leg.set_state(Cs::Reporting, Cs::Destroy);
        self.emit(Kind::ChannelDestroy, leg, &[]);
        leg.set_state(Cs::Destroy, Cs::Destroy);
        self.emit(Kind::ChannelState, leg, &[]);
        self.core.remove_channel(&leg.uuid);
    }

    /// A leg that never answered ends; `job` carries the originate's result
    /// (the customer leg) or is `false` (the agent leg of a bridge).
    fn fail(&mut self, leg: &mut Leg, cause: &HangupCause, job: bool) {
        self.hangup_event(leg, cause);
        self.hangup_states(leg);
        if job {
            self.finish_job(format!("-ERR {}\n", cause.name()));
        }
        self.report(leg);
        self.destroy(leg);
    }

    fn execute(&self, leg: &mut Leg, app: &str, data: &str, app_uuid: &str) {
        leg.vars.set("current_application", app);
        leg.vars.set("current_application_data", data);
        leg.last_app = Some((app.to_string(), data.to_string()));
        self.emit(
            Kind::ChannelExecute,
            leg,
            &[
                ("Application", Some(app)),
                ("Application-Data", Some(data).filter(|d| !d.is_empty())),
                ("Application-UUID", Some(app_uuid)),
            ],
        );
    }

    fn execute_complete(&self, leg: &Leg, app: &str, data: &str, app_uuid: &str) {
        self.emit(
            Kind::ChannelExecuteComplete,
            leg,
            &[
                ("Application", Some(app)),
                ("Application-Data", Some(data).filter(|d| !d.is_empty())),
                ("Application-Response", Some("_none_")),
                ("Application-UUID", Some(app_uuid)),
            ],
        );
    }

    async fn play(&mut self, mut a: Leg) {
        let e = self.spec.endpoint.clone();
        self.originate_events(&mut a, &e);
        let plan = self.spec.plan.clone();
        let timeout = self.spec.timeout;
        let times_out = plan.outcome == Outcome::NoAnswer || plan.ring >= timeout;
        if plan.ring > Duration::ZERO || times_out {
            self.progress(&mut a, plan.early_media);
        }
        let decide = after(if times_out { timeout } else { plan.ring });
        let uuid = a.uuid.clone();
        loop {
            match self.wait(Some(decide)).await {
                Wake::Timer => break,
                Wake::Kill(k) if k.uuid == uuid => return self.fail(&mut a, &k.cause, true),
                Wake::Kill(_) => {}
            }
        }
        match (&plan.outcome, times_out) {
            (_, true) | (Outcome::NoAnswer, _) => {
                return self.fail(&mut a, &HangupCause::NoAnswer, true);
            }
            (Outcome::Reject(cause), false) => return self.fail(&mut a, cause, true),
            (Outcome::Answer, false) => {}
        }
        self.answer_events(&mut a);
        a.vars.set("endpoint_disposition", "ANSWER");
        let talk_until = plan.talk.map(after);
        let target = self.spec.target.clone();
        if let Target::Extension {
            exten,
            dialplan,
            context,
        } = &target
        {
            // Handed to the dialplan: the result goes out before the
            // transfer (freeswitch_agent_bridge.txt).
            self.finish_job(format!("+OK {}\n", a.uuid));
            self.publish(&a);
            return self
                .extension(a, exten, dialplan, context, talk_until)
                .await;
        }
        a.flip_cid();
        self.emit(Kind::CallUpdate, &a, &[]);
        self.finish_job(format!("+OK {}\n", a.uuid));
        a.set_state(Cs::Execute, Cs::Execute);
        self.emit(Kind::ChannelState, &a, &[]);
        a.vars.set("call_uuid", a.call_uuid.clone());
        self.publish(&a);
        self.run_app(a, &target, talk_until).await;
    }

    async fn run_app(&mut self, a: Leg, target: &Target, talk_until: Option<Instant>) {
        match target {
            Target::Park => self.park(a, talk_until).await,
            Target::Bridge(dial) => self.bridge(a, dial, talk_until).await,
            Target::App { name, data } => self.app(a, name, data, talk_until).await,
            Target::Extension { .. } => self.stay(a, talk_until).await,
            Target::Hold => self.hold_for_agent(a, talk_until).await,
            Target::Message(file) => self.message(a, file, talk_until).await,
        }
    }

    async fn park(&mut self, mut a: Leg, talk_until: Option<Instant>) {
        let app_uuid = new_uuid();
        self.execute(&mut a, "park", "", &app_uuid);
        self.emit(Kind::ChannelPark, &a, &[]);
        self.publish(&a);
        let cause = self.hold(&a.uuid.clone(), talk_until).await;
        self.hangup_event(&mut a, &cause);
        self.emit(Kind::ChannelUnpark, &a, &[]);
        self.execute_complete(&a, "park", "", &app_uuid);
        self.end(&mut a);
    }

    /// Any other application: it runs until the leg hangs up.
    async fn app(&mut self, mut a: Leg, name: &str, data: &str, talk_until: Option<Instant>) {
        let app_uuid = new_uuid();
        self.execute(&mut a, name, data, &app_uuid);
        self.publish(&a);
        let cause = self.hold(&a.uuid.clone(), talk_until).await;
        self.hangup_event(&mut a, &cause);
        self.execute_complete(&a, name, data, &app_uuid);
        self.end(&mut a);
    }

    /// In the dialplan with nothing the simulator knows to run.
    async fn stay(&mut self, mut a: Leg, talk_until: Option<Instant>) {
        let cause = self.hold(&a.uuid.clone(), talk_until).await;
        self.hangup_event(&mut a, &cause);
        self.end(&mut a);
    }

    fn end(&self, a: &mut Leg) {
        self.hangup_states(a);
        self.report(a);
        self.destroy(a);
    }

    /// `originate … <exten> [dialplan] [context]`: the answered leg is
    /// transferred to the extension, which runs what the scenario says.
    async fn extension(
        &mut self,
        mut a: Leg,
        exten: &str,
        dialplan: &str,
        context: &str,
        talk_until: Option<Instant>,
    ) {
        let now = clock::now_micros();
        let source = format!(
            "{}:{}:bl_xfer:{exten}/{context}/{dialplan}",
            now / 1_000_000,
            new_uuid()
        );
        let p = &mut a.profile;
        p.rdnis = Some(std::mem::replace(&mut p.destination_number, exten.into()));
        p.dialplan = dialplan.into();
        p.context = context.into();
        p.transfer_source = Some(source.clone());
        p.profile_index = 2;
        p.profile_created = now;
        a.vars.set("max_forwards", "70");
        a.vars.set("transfer_history", source.clone());
        a.vars.set("transfer_source", source);
        a.vars.set("call_uuid", a.call_uuid.clone());
        a.set_state(Cs::Routing, Cs::Routing);
        self.emit(Kind::ChannelState, &a, &[]);
        a.flip_cid();
        self.emit(Kind::CallUpdate, &a, &[]);
        a.set_state(Cs::Execute, Cs::Execute);
        self.emit(Kind::ChannelState, &a, &[]);
        self.publish(&a);
        let target = self.target_of(exten, dialplan, context, &a);
        self.run_app(a, &target, talk_until).await;
    }

    /// What the extension runs, its data expanded from the leg's variables.
    fn target_of(&self, exten: &str, dialplan: &str, context: &str, a: &Leg) -> Target {
        match self.core.scenario.extension(exten, context) {
            Some(x) if x.app == "park" => Target::Park,
            Some(x) if x.app == "bridge" => Target::Bridge(expand_vars(&x.data, &a.vars)),
            Some(x) if x.app == "hold" => Target::Hold,
            Some(x) if x.app == "message" => Target::Message(expand_vars(&x.data, &a.vars)),
            Some(x) => Target::App {
                name: x.app.clone(),
                data: expand_vars(&x.data, &a.vars),
            },
            None => Target::Extension {
                exten: exten.into(),
                dialplan: dialplan.into(),
                context: context.into(),
            },
        }
    }
}

mod bridge;
mod hold;
mod legs;
