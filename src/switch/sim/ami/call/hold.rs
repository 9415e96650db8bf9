//! The predictive dialer's extensions (`dialplan/asterisk`, context
//! `dialpop`) as the ;1 runs them:
//!
//! - `dialpop_hold`: `Answer()`, `AMD()` (it sets AMDSTATUS and AMDCAUSE
//!   when it has a verdict), `UserEvent(DialpopAMD,Status: …,Cause: …)`,
//!   `Wait(3600)`; the customer waits there for a `Redirect`;
//! - `dialpop_abandon` / `dialpop_message`: `Playback(${dialpop_message_file})`,
//!   `Hangup(16)`.
//!
//! Each application is a Newexten at the next priority; `Setvar` on a
//! channel of the call (at any time, `Call::set_var`) is a VarSet and is
//! seen by later `${...}`; a Redirect of the ;1 (`ast_async_goto`) ends the
//! application it runs and goes on at the new location.

use super::*;
use crate::switch::sim::ami::bus::{AmiEvent, USER};
use bytes::{BufMut, BytesMut};

/// What ends a wait of the held ;1.
enum Held {
    Timer,
    Hangup(Leg, u16),
    Redirect {
        context: String,
        exten: String,
        priority: u32,
    },
}

impl Call {
    /// The originate's variables and those set since, the later first found.
    fn all_vars(&self) -> Vec<(String, String)> {
        let mut all = self.vars.to_vec();
        all.extend(self.set_vars.iter().cloned());
        all
    }

    /// Waits for `until`: Setvar is done as it comes; a hang-up of any
    /// channel of the call, or a Redirect of the ;1, ends the wait.
    async fn held(&mut self, until: Option<Instant>) -> Held {
        loop {
            let ask = match self.asks.pop_front() {
                Some(k) => k,
                None => match self.next_ask(until).await {
                    Some(k) => k,
                    None => return Held::Timer,
                },
            };
            match ask {
                Ask::Kill(k) => {
                    if let Some(leg) = self.leg_of(&k.uuid) {
                        return Held::Hangup(leg, q850(&k.cause));
                    }
                }
                Ask::SetVar { uuid, name, value } => self.set_var(&uuid, name, value),
                Ask::Redirect {
                    uuid,
                    context,
                    exten,
                    priority,
                } if self.leg_of(&uuid) == Some(C1) => {
                    return Held::Redirect {
                        context,
                        exten,
                        priority,
                    };
                }
                _ => {}
            }
        }
    }

    /// Waits up to `until`, or until the customer's own hang-up.
    async fn held_until(&mut self, until: Instant, customer_end: Option<Instant>) -> Option<Held> {
        let first = customer_end.map_or(until, |t| t.min(until));
        match self.held(Some(first)).await {
            Held::Timer if customer_end.is_some_and(|t| t <= until) => Some(Held::Timer),
            Held::Timer => None,
            other => Some(other),
        }
    }

    /// `UserEvent` from the ;1 (stasis' `multi_user_event_to_ami`): the
    /// channel snapshot, `UserEvent: <name>`, then the body's headers.
    fn user_event(&self, name: &str, body: &[(&str, &str)]) {
        if !self.core.ami.bus.wants(USER) {
            return;
        }
        let Some(c1) = self.chan(C1) else {
            return;
        };
        let mut out = BytesMut::with_capacity(512);
        out.put_slice(b"Event: UserEvent\r\nPrivilege: user,all\r\n");
        for (i, key) in SNAPSHOT_KEYS.iter().enumerate() {
            out.put_slice(format!("{key}: {}\r\n", c1.snap.value(i)).as_bytes());
        }
        out.put_slice(format!("UserEvent: {name}\r\n").as_bytes());
        for (k, v) in body {
            out.put_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.put_slice(b"\r\n");
        self.core.ami.bus.dispatch(Arc::new(AmiEvent {
            category: USER,
            bytes: out.freeze(),
        }));
    }

    /// `dialpop_hold` from the answered customer's ;1.
    pub(super) async fn hold_for_agent(&mut self, customer_end: Option<Instant>) {
        let detect = after(self.core.scenario.amd_detect(self.core.speed));
        self.newexten(C1, "Answer", "", true);
        self.newexten(C1, "AMD", "", true);
        self.customer_talks();
        self.publish_all();
        match self.held_until(detect, customer_end).await {
            None => {}
            // The callee hangs up before the verdict: AMD returns HANGUP and
            // the dialplan ends with the channel, no UserEvent.
            Some(Held::Timer) => return self.customer_hangs_up(),
            Some(Held::Hangup(leg, cause)) => return self.teardown(leg, cause),
            Some(Held::Redirect {
                context,
                exten,
                priority,
            }) => {
                return Box::pin(self.redirect(context, exten, priority, customer_end)).await;
            }
        }
        let verdict = self.plan.amd;
        let (status, cause) = (verdict.result.name(), verdict.cause.asterisk());
        self.varset(C1, "AMDSTATUS", status);
        self.varset(C1, "AMDCAUSE", cause);
        self.set_vars.push(("AMDSTATUS".into(), status.into()));
        self.set_vars.push(("AMDCAUSE".into(), cause.into()));
        let data = format!("DialpopAMD,Status: {status},Cause: {cause}");
        self.newexten(C1, "UserEvent", &data, true);
        self.user_event("DialpopAMD", &[("Status", status), ("Cause", cause)]);
        self.newexten(C1, "Wait", "3600", true);
        self.publish_all();
        let waited = after(scale(Duration::from_secs(3600), self.core.speed));
        match self.held_until(waited, customer_end).await {
            Some(Held::Redirect {
                context,
                exten,
                priority,
            }) => Box::pin(self.redirect(context, exten, priority, customer_end)).await,
            Some(Held::Hangup(leg, cause)) => self.teardown(leg, cause),
            Some(Held::Timer) => self.customer_hangs_up(),
            // Wait(3600) is over and the extension has nothing after it.
            None => self.dialer_side_ends(),
        }
    }

    /// `ast_async_goto`: the ;1 goes on at `context,exten,priority`.
    async fn redirect(
        &mut self,
        context: String,
        exten: String,
        priority: u32,
        customer_end: Option<Instant>,
    ) {
        self.with(C1, |c| {
            c.snap.context = context.clone();
            c.snap.exten = exten.clone();
            c.steps = priority - 1;
        });
        let vars = self.all_vars();
        match self.core.scenario.extension(&exten, &context).cloned() {
            Some(x) if x.app == "bridge" => {
                let data = expand_vars(&x.data, &vars);
                self.agent(data, customer_end).await
            }
            Some(x) if x.app == "hold" => Box::pin(self.hold_for_agent(customer_end)).await,
            Some(x) if x.app == "message" => {
                let file = expand_vars(&x.data, &vars);
                self.message(&file, customer_end).await
            }
            Some(x) => {
                let data = expand_vars(&x.data, &vars);
                self.newexten(C1, &x.app, &data, true);
                self.publish_all();
                self.hold(customer_end, None).await
            }
            None => {
                self.publish_all();
                self.hold(customer_end, None).await
            }
        }
    }

    /// `Playback(<file>)` for the scenario's playback time, then
    /// `Hangup(16)`: the ;1 hangs up, its ;2 hears it.
    pub(super) async fn message(&mut self, file: &str, customer_end: Option<Instant>) {
        let played = after(self.core.scenario.playback(self.core.speed));
        self.newexten(C1, "Playback", file, true);
        self.publish_all();
        loop {
            match self.held_until(played, customer_end).await {
                None => break,
                Some(Held::Timer) => return self.customer_hangs_up(),
                Some(Held::Hangup(leg, cause)) => return self.teardown(leg, cause),
                // The message plays to its end; a Redirect during it is not
                // modelled.
                Some(Held::Redirect { .. }) => {}
            }
        }
        self.newexten(C1, "Hangup", "16", true);
        self.soft_hangup_request(C1);
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
}
