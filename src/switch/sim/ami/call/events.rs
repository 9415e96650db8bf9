//! The events a call writes, each from the channel state it is about.

use super::*;

impl Call {
    pub(super) fn emit(&self, kind: Kind, legs: &[Leg], extras: &[(&str, Option<&str>)]) {
        let t = self.core.ami.templates.get(kind);
        if !self.core.ami.bus.wants(t.category) {
            return;
        }
        let snaps: Vec<&Snapshot> = legs
            .iter()
            .filter_map(|l| self.chan(*l).map(|c| &c.snap))
            .collect();
        let bytes = t.render(&snaps, extras);
        self.core
            .ami
            .bus
            .dispatch(Arc::new(crate::switch::sim::ami::bus::AmiEvent {
                category: t.category,
                bytes,
            }));
    }

    /// Newexten: `leg` runs `app`. In the dialplan (`step`) each application
    /// is the next priority; the dial's own `AppDial` is not.
    pub(super) fn newexten(&mut self, leg: Leg, app: &str, data: &str, step: bool) {
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

    pub(super) fn varset(&self, leg: Leg, name: &str, value: &str) {
        self.emit(
            Kind::VarSet,
            &[leg],
            &[("Variable", Some(name)), ("Value", Some(value))],
        );
    }

    pub(super) fn newstate(&mut self, leg: Leg, state: State) {
        self.with(leg, |c| c.snap.state = state);
        self.emit(Kind::Newstate, &[leg], &[]);
    }

    pub(super) fn new_callerid(&self, leg: Leg) {
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
    pub(super) fn soft_hangup_request(&self, leg: Leg) {
        self.emit(Kind::SoftHangupRequest, &[leg], &[("Cause", Some("16"))]);
    }

    /// HangupRequest: the hang-up the other half of a Local pair (or the far
    /// end) queued, with its cause.
    pub(super) fn hangup_request(&self, leg: Leg, cause: u16) {
        if self.alive(leg) {
            let c = cause.to_string();
            self.emit(Kind::HangupRequest, &[leg], &[("Cause", Some(&c))]);
        }
    }

    pub(super) fn hangup(&mut self, leg: Leg, cause: u16) {
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

    pub(super) fn cdr(&self, leg: Leg, disposition: &str) {
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

    pub(super) fn answered(&self, leg: Leg) -> bool {
        self.chan(leg).is_some_and(|c| c.answered.is_some())
    }

    /// The originate's outcome, once: `OriginateResponse` (async) or the
    /// waiting Response.
    pub(super) fn originate_result(&mut self, success: bool, reason: u8) {
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
}
