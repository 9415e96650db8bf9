//! The `bridge` application: the agent's leg dialled for the answered
//! customer, bridged when it answers, and both torn down when one ends.

use super::legs::{agent_leg, as_other, new_uuid, unbridge_vars};
use super::{BRIDGE_TIMEOUT, Call, Ender, Wake, after};
use crate::switch::HangupCause;
use crate::switch::sim::channel::{Ccs, Cs, Leg};
use crate::switch::sim::clock;
use crate::switch::sim::dial::parse_dial_string;
use crate::switch::sim::scenario::{Outcome, scale};
use crate::switch::sim::templates::Kind;
use std::time::Duration;
use tokio::time::Instant;

impl Call {
    pub(super) async fn bridge(&mut self, mut a: Leg, dial: &str, talk_until: Option<Instant>) {
        let app_uuid = new_uuid();
        self.execute(&mut a, "bridge", dial, &app_uuid);
        self.callstate(&mut a, Ccs::RingWait);
        self.publish(&a);
        let e = match parse_dial_string(dial) {
            Ok(e) => e,
            Err(cause) => return self.bridge_failed(a, dial, &app_uuid, &cause),
        };
        let mut b = agent_leg(&self.core, &a, &e);
        if !self
            .core
            .add_channel(&b.uuid, self.kill_tx.clone(), self.vars.clone(), b.row())
        {
            return self.bridge_failed(a, dial, &app_uuid, &HangupCause::DestinationOutOfOrder);
        }
        self.originate_events(&mut b, &e);
        let core = self.core.clone();
        let attempt = core.next_attempt(&e.number);
        let plan = core
            .scenario
            .plan(&e.number, core.seed, attempt)
            .scaled(core.speed);
        let timeout = scale(BRIDGE_TIMEOUT, core.speed);
        let times_out = plan.outcome == Outcome::NoAnswer || plan.ring >= timeout;
        if plan.ring > Duration::ZERO || times_out {
            self.progress(&mut b, plan.early_media);
        }
        let decide = after(if times_out { timeout } else { plan.ring });
        loop {
            match self.wait(Some(decide)).await {
                Wake::Timer => break,
                Wake::Kill(k) if k.uuid == b.uuid => {
                    self.fail(&mut b, &k.cause, false);
                    return self.bridge_failed(a, dial, &app_uuid, &k.cause);
                }
                Wake::Kill(k) if k.uuid == a.uuid => {
                    // The customer hangs up while the agent rings.
                    self.hangup_event(&mut a, &k.cause);
                    self.fail(&mut b, &HangupCause::OriginatorCancel, false);
                    self.execute_complete(&a, "bridge", dial, &app_uuid);
                    return self.end(&mut a);
                }
                Wake::Kill(_) => {}
            }
        }
        let refused = match (&plan.outcome, times_out) {
            (_, true) | (Outcome::NoAnswer, _) => Some(HangupCause::NoAnswer),
            (Outcome::Reject(c), false) => Some(c.clone()),
            (Outcome::Answer, false) => None,
        };
        if let Some(cause) = refused {
            self.fail(&mut b, &cause, false);
            return self.bridge_failed(a, dial, &app_uuid, &cause);
        }
        self.answer_events(&mut b);
        self.publish(&b);
        self.callstate(&mut a, Ccs::Active);
        let now = clock::now_micros();
        a.times.bridged = now;
        b.times.bridged = now;
        a.profile.callee_id_name = b.profile.callee_id_name.clone();
        a.profile.callee_id_number = b.profile.callee_id_number.clone();
        a.other = Some(as_other(&b, "originatee", true));
        a.vars.set("current_application", "bridge");
        a.vars.set(
            "originated_legs",
            format!(
                "{};{};{}",
                b.uuid, b.profile.callee_id_name, b.profile.callee_id_number
            ),
        );
        a.vars.set("originate_disposition", "SUCCESS");
        a.vars.set("DIALSTATUS", "SUCCESS");
        a.vars.set("originate_causes", format!("{};NONE", b.uuid));
        a.vars.set("signal_bond", b.uuid.clone());
        let ids = [
            ("Bridge-A-Unique-ID", Some(a.uuid.clone())),
            ("Bridge-B-Unique-ID", Some(b.uuid.clone())),
        ];
        let ids: Vec<(&str, Option<&str>)> = ids.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        self.emit(Kind::ChannelBridge, &a, &ids);
        b.vars.set("endpoint_disposition", "ANSWER");
        b.vars.set("call_uuid", a.uuid.clone());
        b.vars.set("bridge_to", a.uuid.clone());
        b.vars.set("last_bridge_to", a.uuid.clone());
        b.vars.set("bridge_channel", a.name.clone());
        b.vars.set("bridge_uuid", a.uuid.clone());
        b.vars.set("signal_bond", a.uuid.clone());
        b.vars
            .set("last_sent_callee_id_name", a.profile.caller_id_name.clone());
        b.vars.set(
            "last_sent_callee_id_number",
            a.profile.caller_id_number.clone(),
        );
        b.vars.set("last_bridge_role", "originatee");
        b.set_state(Cs::ExchangeMedia, Cs::ExchangeMedia);
        self.emit(Kind::ChannelState, &b, &[]);
        self.publish(&a);
        self.publish(&b);
        let agent_until = plan.talk.map(after);
        let ender = loop {
            let until = match (talk_until, agent_until) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            match self.wait(until).await {
                Wake::Kill(k) if k.uuid == a.uuid => break Ender::Customer(k.cause),
                Wake::Kill(k) if k.uuid == b.uuid => break Ender::Agent(k.cause),
                Wake::Kill(_) => {}
                Wake::Timer => {
                    let now = Instant::now();
                    if talk_until.is_some_and(|t| t <= now) {
                        break Ender::Customer(HangupCause::NormalClearing);
                    }
                    break Ender::Agent(HangupCause::NormalClearing);
                }
            }
        };
        match ender {
            Ender::Customer(cause) => {
                self.hangup_event(&mut a, &cause);
                unbridge_vars(&mut a, &b, &cause);
                self.emit(Kind::ChannelUnbridge, &a, &ids);
                self.hangup_event(&mut b, &HangupCause::NormalClearing);
                self.execute_complete(&a, "bridge", dial, &app_uuid);
            }
            Ender::Agent(cause) => {
                self.hangup_event(&mut b, &cause);
                unbridge_vars(&mut a, &b, &cause);
                self.emit(Kind::ChannelUnbridge, &a, &ids);
                self.execute_complete(&a, "bridge", dial, &app_uuid);
                self.hangup_event(&mut a, &HangupCause::NormalClearing);
            }
        }
        self.hangup_states(&mut a);
        self.report(&mut a);
        self.hangup_states(&mut b);
        self.report(&mut b);
        self.destroy(&mut b);
        self.destroy(&mut a);
    }

    /// The agent could not be reached: the bridge application returns and
    /// the customer leg, with nothing left to run, hangs up with the cause.
    fn bridge_failed(&self, mut a: Leg, dial: &str, app_uuid: &str, cause: &HangupCause) {
        a.vars.set("originate_disposition", cause.name());
        a.vars.set("DIALSTATUS", cause.name());
        self.callstate(&mut a, Ccs::Active);
        self.execute_complete(&a, "bridge", dial, app_uuid);
        self.hangup_event(&mut a, cause);
        self.end(&mut a);
    }
}
