//! The agent's side of a call: `Dial(<agent>)` from the customer's ;1, the
//! agent's channels, the bridge, and how each side leaving ends it.

use super::*;

impl Call {
    /// `Dial(<agent>)` from the ;1 once the customer answered, as
    /// `real/asterisk_agent_bridge.txt` shows it: NoOp, Dial, the Dial
    /// variables cleared, the agent's pair, DialBegin, the agent answering
    /// (per the scenario), DialEnd ANSWER, BridgeCreate, BridgeEnter ×2.
    pub(super) async fn agent(&mut self, data: String, customer_end: Option<Instant>) {
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
    pub(super) fn add_agent_channels(&mut self, adest: &Dest) -> bool {
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

    pub(super) async fn agent_answers(
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

    pub(super) fn enter_bridge(&mut self, leg: Leg) {
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
    pub(super) fn leave_bridge(&mut self, leg: Leg) {
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
    pub(super) fn dial_times(&self, status: &str) {
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
    pub(super) fn agent_hangs_up(&mut self) {
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
    pub(super) fn customer_leaves_bridge(&mut self) {
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
    pub(super) fn customer_leaves_while_agent_rings(&mut self) {
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
    pub(super) async fn agent_refuses(
        &mut self,
        cause: u16,
        timed_out: bool,
        customer_end: Option<Instant>,
    ) {
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
    pub(super) async fn after_dial(&mut self, customer_end: Option<Instant>) {
        self.publish_all();
        if customer_end.is_some_and(|t| t <= Instant::now()) {
            return self.customer_hangs_up();
        }
        self.dialer_side_ends();
    }
}
