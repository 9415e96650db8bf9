//! The customer's side of a call: the events up to DialBegin, the ring, and
//! each outcome (no answer, busy, congestion, refusal, answer) to the hang-up.

use super::*;

impl Call {
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

    pub(super) async fn play(&mut self) {
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
    pub(super) fn customer_talks(&mut self) {
        if self.has(C2) {
            match self.plan.talk {
                Some(t) => self.newexten(C2, "Wait", &secs_text(t), true),
                None => self.newexten(C2, "Echo", "", true),
            }
        }
    }

    pub(super) async fn hold(&mut self, customer_end: Option<Instant>, app_end: Option<Instant>) {
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
    pub(super) fn customer_hangs_up(&mut self) {
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
    pub(super) fn dialer_side_ends(&mut self) {
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
    pub(super) fn teardown(&mut self, killed: Leg, cause: u16) {
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
