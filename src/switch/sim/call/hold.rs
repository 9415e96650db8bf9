//! The predictive dialer's extensions (`dialplan/freeswitch/dialpop.xml`,
//! context `dialpop`), as FreeSWITCH runs them:
//!
//! - `dialpop_hold`: `answer`, `amd` (mod_amd, which blocks until it has a
//!   verdict and sets `amd_result` / `amd_cause`), `event` (CUSTOM
//!   `dialpop::amd` with the verdict), `park`. The customer waits there for
//!   `uuid_transfer` to an agent (`dialpop_connect`) or to a message;
//! - `dialpop_abandon` / `dialpop_message`: `playback`, then `hangup
//!   NORMAL_CLEARING`.
//!
//! Each application is a CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair,
//! as for park and bridge. `uuid_setvar` is taken at any point of these;
//! `uuid_transfer` breaks the running application (amd or park, which then
//! completes: CHANNEL_UNPARK first for park) and routes the leg to the new
//! extension, as `switch_ivr_session_transfer` does.

use super::legs::new_uuid;
use super::{Call, Target, after};
use crate::switch::HangupCause;
use crate::switch::sim::channel::{Cs, Leg};
use crate::switch::sim::clock;
use crate::switch::sim::core::Ask;
use crate::switch::sim::templates::Kind;
use tokio::time::Instant;

/// What ends a wait of a held leg.
enum Held {
    Timer,
    Hangup(HangupCause),
    Transfer {
        exten: String,
        dialplan: String,
        context: String,
    },
}

/// The subclass of the verdict's CUSTOM event.
const AMD_SUBCLASS: &str = "dialpop::amd";

impl Call {
    /// Waits for `until` on leg `a`: variables set on it are set as they
    /// come; a hang-up or a transfer of it ends the wait.
    async fn held(&mut self, a: &mut Leg, until: Option<Instant>) -> Held {
        loop {
            let ask = match self.asks.pop_front() {
                Some(k) => k,
                None => match self.next_ask(until).await {
                    Some(k) => k,
                    None => return Held::Timer,
                },
            };
            match ask {
                Ask::Kill(k) if k.uuid == a.uuid => return Held::Hangup(k.cause),
                Ask::SetVar { uuid, name, value } if uuid == a.uuid => {
                    a.vars.set(&name, value);
                    self.publish(a);
                }
                Ask::Transfer {
                    uuid,
                    exten,
                    dialplan,
                    context,
                } if uuid == a.uuid => {
                    return Held::Transfer {
                        exten,
                        dialplan,
                        context,
                    };
                }
                _ => {}
            }
        }
    }

    /// Waits up to `until` (or the callee's own hang-up at `talk_until`):
    /// `None` when `until` came, else how the wait ended.
    async fn held_until(
        &mut self,
        a: &mut Leg,
        until: Instant,
        talk_until: Option<Instant>,
    ) -> Option<Held> {
        let first = talk_until.map_or(until, |t| t.min(until));
        match self.held(a, Some(first)).await {
            Held::Timer if talk_until.is_some_and(|t| t <= until) => {
                Some(Held::Hangup(HangupCause::NormalClearing))
            }
            Held::Timer => None,
            other => Some(other),
        }
    }

    /// `dialpop_hold`.
    pub(super) async fn hold_for_agent(&mut self, mut a: Leg, talk_until: Option<Instant>) {
        let detect = after(self.core.scenario.amd_detect(self.core.speed));
        let app_uuid = new_uuid();
        // The leg is answered already: `answer` returns at once.
        self.execute(&mut a, "answer", "", &app_uuid);
        self.execute_complete(&a, "answer", "", &app_uuid);
        let amd_uuid = new_uuid();
        self.execute(&mut a, "amd", "", &amd_uuid);
        self.publish(&a);
        match self.held_until(&mut a, detect, talk_until).await {
            None => {}
            Some(Held::Timer) => {}
            Some(Held::Hangup(cause)) => {
                // Hung up before the verdict: mod_amd returns, no event.
                self.hangup_event(&mut a, &cause);
                self.execute_complete(&a, "amd", "", &amd_uuid);
                return self.end(&mut a);
            }
            Some(Held::Transfer {
                exten,
                dialplan,
                context,
            }) => {
                self.execute_complete(&a, "amd", "", &amd_uuid);
                return Box::pin(self.transfer(a, &exten, &dialplan, &context, talk_until)).await;
            }
        }
        let verdict = self.spec.plan.amd;
        let (result, cause) = (verdict.result.name(), verdict.cause.freeswitch());
        a.vars.set("amd_result", result);
        a.vars.set("amd_cause", cause);
        self.execute_complete(&a, "amd", "", &amd_uuid);
        let data = format!(
            "Event-Name=CUSTOM,Event-Subclass={AMD_SUBCLASS},dialpop_amd_result={result},dialpop_amd_cause={cause}"
        );
        let event_uuid = new_uuid();
        self.execute(&mut a, "event", &data, &event_uuid);
        self.core.emit_custom(
            Kind::CustomAmd,
            AMD_SUBCLASS,
            &a,
            &[
                ("dialpop_amd_result", Some(result)),
                ("dialpop_amd_cause", Some(cause)),
            ],
        );
        self.execute_complete(&a, "event", &data, &event_uuid);
        let park_uuid = new_uuid();
        self.execute(&mut a, "park", "", &park_uuid);
        self.emit(Kind::ChannelPark, &a, &[]);
        self.publish(&a);
        let ended = match talk_until {
            Some(t) => self
                .held_until(&mut a, t, None)
                .await
                .unwrap_or(Held::Timer),
            None => self.held(&mut a, None).await,
        };
        match ended {
            Held::Transfer {
                exten,
                dialplan,
                context,
            } => {
                self.emit(Kind::ChannelUnpark, &a, &[]);
                self.execute_complete(&a, "park", "", &park_uuid);
                Box::pin(self.transfer(a, &exten, &dialplan, &context, talk_until)).await
            }
            Held::Hangup(cause) => self.unpark_and_end(a, &cause, &park_uuid),
            Held::Timer => self.unpark_and_end(a, &HangupCause::NormalClearing, &park_uuid),
        }
    }

    fn unpark_and_end(&self, mut a: Leg, cause: &HangupCause, park_uuid: &str) {
        self.hangup_event(&mut a, cause);
        self.emit(Kind::ChannelUnpark, &a, &[]);
        self.execute_complete(&a, "park", "", park_uuid);
        self.end(&mut a);
    }

    /// `uuid_transfer`: `switch_ivr_session_transfer` gives the leg a new
    /// caller profile for the extension (dialplan and context default to
    /// the leg's own), routes it and runs what the extension runs.
    async fn transfer(
        &mut self,
        mut a: Leg,
        exten: &str,
        dialplan: &str,
        context: &str,
        talk_until: Option<Instant>,
    ) {
        let dialplan = if dialplan.is_empty() {
            a.profile.dialplan.clone()
        } else {
            dialplan.to_string()
        };
        let context = if context.is_empty() {
            a.profile.context.clone()
        } else {
            context.to_string()
        };
        let now = clock::now_micros();
        let source = format!(
            "{}:{}:bl_xfer:{exten}/{context}/{dialplan}",
            now / 1_000_000,
            new_uuid()
        );
        let p = &mut a.profile;
        p.rdnis = Some(std::mem::replace(&mut p.destination_number, exten.into()));
        p.dialplan = dialplan.clone();
        p.context = context.clone();
        p.transfer_source = Some(source.clone());
        p.profile_index += 1;
        p.profile_created = now;
        a.times.transfer = now;
        // transfer_history is pushed onto, which makes it an ARRAY:: value.
        let history = match a.vars.get("transfer_history") {
            Some(h) if h.starts_with("ARRAY::") => format!("{h}|:{source}"),
            Some(h) => format!("ARRAY::{h}|:{source}"),
            None => source.clone(),
        };
        a.vars.set("transfer_history", history);
        a.vars.set("transfer_source", source);
        a.set_state(Cs::Routing, Cs::Routing);
        self.emit(Kind::ChannelState, &a, &[]);
        a.set_state(Cs::Execute, Cs::Execute);
        self.emit(Kind::ChannelState, &a, &[]);
        self.publish(&a);
        let target = self.target_of(exten, &dialplan, &context, &a);
        match target {
            // A held leg asked to hold again runs the extension again.
            Target::Hold => Box::pin(self.hold_for_agent(a, talk_until)).await,
            other => self.run_app(a, &other, talk_until).await,
        }
    }

    /// `dialpop_abandon` / `dialpop_message`: `playback <file>` for the
    /// scenario's playback time, then `hangup NORMAL_CLEARING`.
    pub(super) async fn message(&mut self, mut a: Leg, file: &str, talk_until: Option<Instant>) {
        let played = after(self.core.scenario.playback(self.core.speed));
        let app_uuid = new_uuid();
        self.execute(&mut a, "playback", file, &app_uuid);
        self.publish(&a);
        loop {
            match self.held_until(&mut a, played, talk_until).await {
                None => break,
                Some(Held::Hangup(cause)) => {
                    self.hangup_event(&mut a, &cause);
                    self.execute_complete(&a, "playback", file, &app_uuid);
                    return self.end(&mut a);
                }
                // The message plays to its end; a transfer during it is not
                // modelled.
                Some(Held::Transfer { .. }) | Some(Held::Timer) => {}
            }
        }
        self.execute_complete(&a, "playback", file, &app_uuid);
        let hangup_uuid = new_uuid();
        self.execute(&mut a, "hangup", "NORMAL_CLEARING", &hangup_uuid);
        self.hangup_event(&mut a, &HangupCause::NormalClearing);
        self.execute_complete(&a, "hangup", "NORMAL_CLEARING", &hangup_uuid);
        self.end(&mut a);
    }
}
