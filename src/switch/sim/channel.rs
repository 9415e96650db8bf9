//! One channel (leg) as FreeSWITCH keeps it: its two states, call state,
//! caller profile, times and variables, and how `switch_channel_event_set_data`
//! writes all that into an event. The order of the headers written here is
//! the order of the real captures (`templates/`); a unit test in
//! `templates.rs` holds them to it.

use super::clock;
use crate::switch::HangupCause;
use crate::switch::headers::Headers;

/// `switch_channel_state_t`: FreeSWITCH reports two of these per event,
/// the running state by name (`Channel-State`) and the state by number
/// (`Channel-State-Number`); they differ while a transition is under way.
// The whole FreeSWITCH enum: a state's number is its position.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cs {
    New,
    Init,
    Routing,
    SoftExecute,
    Execute,
    ExchangeMedia,
    Park,
    ConsumeMedia,
    Hibernate,
    Reset,
    Hangup,
    Reporting,
    Destroy,
    None,
}

impl Cs {
    pub fn name(self) -> &'static str {
        match self {
            Cs::New => "CS_NEW",
            Cs::Init => "CS_INIT",
            Cs::Routing => "CS_ROUTING",
            Cs::SoftExecute => "CS_SOFT_EXECUTE",
            Cs::Execute => "CS_EXECUTE",
            Cs::ExchangeMedia => "CS_EXCHANGE_MEDIA",
            Cs::Park => "CS_PARK",
            Cs::ConsumeMedia => "CS_CONSUME_MEDIA",
            Cs::Hibernate => "CS_HIBERNATE",
            Cs::Reset => "CS_RESET",
            Cs::Hangup => "CS_HANGUP",
            Cs::Reporting => "CS_REPORTING",
            Cs::Destroy => "CS_DESTROY",
            Cs::None => "CS_NONE",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `switch_channel_callstate_t`.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ccs {
    Down,
    Dialing,
    Ringing,
    Early,
    Active,
    Held,
    RingWait,
    Hangup,
    Unheld,
}

impl Ccs {
    pub fn name(self) -> &'static str {
        match self {
            Ccs::Down => "DOWN",
            Ccs::Dialing => "DIALING",
            Ccs::Ringing => "RINGING",
            Ccs::Early => "EARLY",
            Ccs::Active => "ACTIVE",
            Ccs::Held => "HELD",
            Ccs::RingWait => "RING_WAIT",
            Ccs::Hangup => "HANGUP",
            Ccs::Unheld => "UNHELD",
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// `Answer-State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerState {
    Ringing,
    Early,
    Answered,
    Hangup,
}

impl AnswerState {
    pub fn name(self) -> &'static str {
        match self {
            AnswerState::Ringing => "ringing",
            AnswerState::Early => "early",
            AnswerState::Answered => "answered",
            AnswerState::Hangup => "hangup",
        }
    }
}

/// The channel's times in µs since the epoch, 0 when not reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Times {
    pub created: i64,
    pub answered: i64,
    pub progress: i64,
    pub progress_media: i64,
    pub hangup: i64,
    pub transfer: i64,
    pub bridged: i64,
}

/// `switch_caller_profile_t`: written with the `Caller-` prefix for the
/// channel itself and `Other-Leg-` for the leg it is bridged to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub logical_direction: &'static str,
    pub dialplan: String,
    pub caller_id_name: String,
    pub caller_id_number: String,
    pub orig_caller_id_name: String,
    pub orig_caller_id_number: String,
    pub callee_id_name: String,
    pub callee_id_number: String,
    pub ani: String,
    pub destination_number: String,
    pub unique_id: String,
    pub source: String,
    pub transfer_source: Option<String>,
    pub context: String,
    pub rdnis: Option<String>,
    pub channel_name: String,
    pub profile_index: u32,
    pub profile_created: i64,
}

/// The profile of the other leg of a bridge, as FreeSWITCH copies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherLeg {
    /// `originator` (the leg that dialled this one) or `originatee`.
    pub kind: &'static str,
    pub profile: Profile,
    pub times: Times,
}

/// Channel variables in the order they were set. Setting one again moves it
/// to the end, as `switch_channel_set_variable` deletes and re-adds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.retain(|(k, _)| k != name);
        let value = value.into();
        // FreeSWITCH deletes a variable set to an empty value.
        if !value.is_empty() {
            self.0.push((name.to_string(), value));
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Which parts of the channel data an event type carries (see templates.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    pub read_codec: bool,
    pub write_codec: bool,
    pub profile: bool,
    pub variables: bool,
}

/// One leg.
#[derive(Clone, Debug)]
pub struct Leg {
    pub uuid: String,
    /// `Channel-Call-UUID`: the call the leg belongs to.
    pub call_uuid: String,
    pub name: String,
    pub running: Cs,
    pub state: Cs,
    pub callstate: Ccs,
    pub answer_state: AnswerState,
    pub hit_dialplan: bool,
    pub hangup_cause: Option<HangupCause>,
    pub profile: Profile,
    pub other: Option<OtherLeg>,
    pub times: Times,
    pub vars: Vars,
    pub is_loopback: bool,
    /// The last application executed and its argument (CDR `last_app`).
    pub last_app: Option<(String, String)>,
    /// The destination the leg was first created for (`show channels`).
    pub initial_dest: String,
}

fn push(out: &mut Headers, name: &str, value: &str) {
    out.push_owned(name.as_bytes(), value.as_bytes());
}

fn push_profile(out: &mut Headers, prefix: &str, p: &Profile, t: &Times, caller: bool) {
    // switch_caller_profile_event_set_data leaves out empty string fields.
    let mut put = |suffix: &str, value: &str| {
        if value.is_empty() {
            return;
        }
        let mut name = String::with_capacity(prefix.len() + suffix.len() + 1);
        name.push_str(prefix);
        name.push('-');
        name.push_str(suffix);
        push(out, &name, value);
    };
    put("Direction", "outbound");
    put("Logical-Direction", p.logical_direction);
    put("Dialplan", &p.dialplan);
    put("Caller-ID-Name", &p.caller_id_name);
    put("Caller-ID-Number", &p.caller_id_number);
    put("Orig-Caller-ID-Name", &p.orig_caller_id_name);
    put("Orig-Caller-ID-Number", &p.orig_caller_id_number);
    put("Callee-ID-Name", &p.callee_id_name);
    put("Callee-ID-Number", &p.callee_id_number);
    put("ANI", &p.ani);
    put("Destination-Number", &p.destination_number);
    put("Unique-ID", &p.unique_id);
    put("Source", &p.source);
    if let Some(ts) = &p.transfer_source {
        put("Transfer-Source", ts);
    }
    put("Context", &p.context);
    if let Some(r) = &p.rdnis {
        put("RDNIS", r);
    }
    put("Channel-Name", &p.channel_name);
    if caller {
        put("Profile-Index", &p.profile_index.to_string());
    }
    put("Profile-Created-Time", &p.profile_created.to_string());
    put("Channel-Created-Time", &t.created.to_string());
    put("Channel-Answered-Time", &t.answered.to_string());
    put("Channel-Progress-Time", &t.progress.to_string());
    put("Channel-Progress-Media-Time", &t.progress_media.to_string());
    put("Channel-Hangup-Time", &t.hangup.to_string());
    put("Channel-Transfer-Time", &t.transfer.to_string());
    put("Channel-Resurrect-Time", "0");
    put("Channel-Bridged-Time", &t.bridged.to_string());
    put("Channel-Last-Hold", "0");
    put("Channel-Hold-Accum", "0");
    put("Screen-Bit", "true");
    put("Privacy-Hide-Name", "false");
    put("Privacy-Hide-Number", "false");
}

fn secs(us: i64) -> i64 {
    us.div_euclid(1_000_000)
}

fn ms(us: i64) -> i64 {
    us.div_euclid(1_000)
}

impl Leg {
    pub fn set_state(&mut self, running: Cs, state: Cs) {
        self.running = running;
        self.state = state;
    }

    /// Writes the channel data as `switch_channel_event_set_data` does.
    pub fn render(&self, out: &mut Headers, s: Sections) {
        push(out, "Channel-State", self.running.name());
        push(out, "Channel-Call-State", self.callstate.name());
        push(out, "Channel-State-Number", &self.state.number().to_string());
        push(out, "Channel-Name", &self.name);
        push(out, "Unique-ID", &self.uuid);
        push(out, "Call-Direction", "outbound");
        push(out, "Presence-Call-Direction", "outbound");
        push(
            out,
            "Channel-HIT-Dialplan",
            if self.hit_dialplan { "true" } else { "false" },
        );
        push(out, "Channel-Call-UUID", &self.call_uuid);
        push(out, "Answer-State", self.answer_state.name());
        if let Some(c) = &self.hangup_cause {
            push(out, "Hangup-Cause", c.name());
        }
        if s.read_codec {
            push(out, "Channel-Read-Codec-Name", "L16");
            push(out, "Channel-Read-Codec-Rate", "8000");
            push(out, "Channel-Read-Codec-Bit-Rate", "128000");
        }
        if s.write_codec {
            push(out, "Channel-Write-Codec-Name", "L16");
            push(out, "Channel-Write-Codec-Rate", "8000");
            push(out, "Channel-Write-Codec-Bit-Rate", "128000");
        }
        if s.profile {
            push_profile(out, "Caller", &self.profile, &self.times, true);
            if let Some(o) = &self.other {
                push(out, "Other-Type", o.kind);
                push_profile(out, "Other-Leg", &o.profile, &o.times, false);
            }
        }
        if s.variables {
            let mut name = String::with_capacity(48);
            for (k, v) in self.vars.iter() {
                name.clear();
                name.push_str("variable_");
                name.push_str(k);
                push(out, &name, v);
            }
        }
    }

    /// `switch_channel_flip_cid`: once an outbound leg answers, the caller
    /// id shown is the callee's and the other way round.
    pub fn flip_cid(&mut self) {
        let p = &mut self.profile;
        self.vars
            .set("pre_transfer_caller_id_name", p.caller_id_name.clone());
        self.vars
            .set("pre_transfer_caller_id_number", p.caller_id_number.clone());
        std::mem::swap(&mut p.caller_id_name, &mut p.callee_id_name);
        std::mem::swap(&mut p.caller_id_number, &mut p.callee_id_number);
        self.vars.set("channel_cid_flipped", "yes");
        self.hit_dialplan = true;
    }

    /// The variables `switch_channel_set_timestamps` adds when the channel
    /// reaches CS_REPORTING (they are what CHANNEL_HANGUP_COMPLETE is for).
    pub fn set_cdr_vars(&mut self) {
        let t = self.times.clone();
        let created = t.created;
        let end = t.hangup;
        let cause = self.hangup_cause.clone().unwrap_or(HangupCause::NormalClearing);
        let v = &mut self.vars;
        v.set("hangup_cause", cause.name());
        if let Some(q) = cause.q850() {
            v.set("hangup_cause_q850", q.to_string());
        }
        v.set("digits_dialed", "none");
        v.set("start_stamp", clock::local_stamp(created));
        v.set(
            "profile_start_stamp",
            clock::local_stamp(self.profile.profile_created),
        );
        if t.answered > 0 {
            v.set("answer_stamp", clock::local_stamp(t.answered));
        }
        if t.bridged > 0 {
            v.set("bridge_stamp", clock::local_stamp(t.bridged));
        }
        if t.progress > 0 {
            v.set("progress_stamp", clock::local_stamp(t.progress));
        }
        if t.progress_media > 0 {
            v.set("progress_media_stamp", clock::local_stamp(t.progress_media));
        }
        v.set("end_stamp", clock::local_stamp(end));
        let epochs = |v: &mut Vars, name: &str, us: i64| {
            v.set(&format!("{name}_epoch"), secs(us).to_string());
            v.set(&format!("{name}_uepoch"), us.to_string());
        };
        epochs(v, "start", created);
        epochs(v, "profile_start", self.profile.profile_created);
        epochs(v, "answer", t.answered);
        epochs(v, "bridge", t.bridged);
        epochs(v, "last_hold", 0);
        v.set("hold_accum_seconds", "0");
        v.set("hold_accum_usec", "0");
        v.set("hold_accum_ms", "0");
        epochs(v, "resurrect", 0);
        epochs(v, "progress", t.progress);
        epochs(v, "progress_media", t.progress_media);
        epochs(v, "end", end);
        if let Some((app, arg)) = &self.last_app {
            v.set("last_app", app.clone());
            if !arg.is_empty() {
                v.set("last_arg", arg.clone());
            }
        }
        v.set(
            "caller_id",
            format!(
                "\"{}\" <{}>",
                self.profile.caller_id_name, self.profile.caller_id_number
            ),
        );
        // Whole seconds are differences of truncated epochs, milliseconds of
        // truncated milliseconds, as in switch_channel_set_timestamps.
        let since = |at: i64, unit: fn(i64) -> i64| {
            if at > 0 {
                unit(at) - unit(created)
            } else {
                0
            }
        };
        let bill = |unit: fn(i64) -> i64| {
            if t.answered > 0 {
                unit(end) - unit(t.answered)
            } else {
                0
            }
        };
        let id = |x: i64| x;
        for (unit, suffix, f) in [
            ("sec", "", secs as fn(i64) -> i64),
            ("msec", "m", ms as fn(i64) -> i64),
            ("usec", "u", id as fn(i64) -> i64),
        ] {
            let (dur_name, bill_name) = match unit {
                "sec" => ("duration".to_string(), "billsec".to_string()),
                _ => (format!("{suffix}duration"), format!("bill{unit}")),
            };
            v.set(&dur_name, (f(end) - f(created)).to_string());
            v.set(&bill_name, bill(f).to_string());
            v.set(&format!("progress{unit}"), since(t.progress, f).to_string());
            v.set(&format!("answer{unit}"), since(t.answered, f).to_string());
            v.set(&format!("wait{unit}"), since(t.bridged, f).to_string());
            v.set(
                &format!("progress_media{unit}"),
                since(t.progress_media, f).to_string(),
            );
            v.set(&format!("flow_bill{unit}"), (f(end) - f(created)).to_string());
        }
        if self.is_loopback {
            v.set("is_loopback", "1");
        }
    }

    /// This leg's row in `show channels` (the `channels` table of FreeSWITCH's
    /// core database, in its column order).
    pub fn row(&self) -> Vec<(&'static str, String)> {
        let p = &self.profile;
        let app = self.vars.get("current_application").unwrap_or("");
        let app_data = self.vars.get("current_application_data").unwrap_or("");
        let initial = |k: &str| self.vars.get(k).unwrap_or("").to_string();
        vec![
            ("uuid", self.uuid.clone()),
            ("direction", "outbound".into()),
            ("created", clock::local_stamp(self.times.created)),
            ("created_epoch", secs(self.times.created).to_string()),
            ("name", self.name.clone()),
            ("state", self.running.name().into()),
            ("cid_name", p.caller_id_name.clone()),
            ("cid_num", p.caller_id_number.clone()),
            ("ip_addr", String::new()),
            ("dest", p.destination_number.clone()),
            ("application", app.into()),
            ("application_data", app_data.into()),
            ("dialplan", p.dialplan.clone()),
            ("context", p.context.clone()),
            ("read_codec", "L16".into()),
            ("read_rate", "8000".into()),
            ("read_bit_rate", "128000".into()),
            ("write_codec", "L16".into()),
            ("write_rate", "8000".into()),
            ("write_bit_rate", "128000".into()),
            ("secure", String::new()),
            ("hostname", super::templates::HOSTNAME.into()),
            ("presence_id", String::new()),
            ("presence_data", String::new()),
            ("accountcode", String::new()),
            ("callstate", self.callstate.name().into()),
            ("callee_name", p.callee_id_name.clone()),
            ("callee_num", p.callee_id_number.clone()),
            ("callee_direction", String::new()),
            ("call_uuid", self.call_uuid.clone()),
            ("sent_callee_name", String::new()),
            ("sent_callee_num", String::new()),
            ("initial_cid_name", initial("origination_caller_id_name")),
            ("initial_cid_num", initial("origination_caller_id_number")),
            ("initial_ip_addr", String::new()),
            ("initial_dest", self.initial_dest.clone()),
            ("initial_dialplan", p.dialplan.clone()),
            ("initial_context", p.context.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_move_to_the_end_when_set_again() {
        let mut v = Vars::default();
        v.set("uuid", "u");
        v.set("call_uuid", "u");
        v.set("x", "1");
        v.set("call_uuid", "u");
        v.set("gone", "1");
        v.set("gone", "");
        let names: Vec<&str> = v.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["uuid", "x", "call_uuid"]);
    }

    #[test]
    fn state_numbers_are_freeswitch_enums() {
        assert_eq!(Cs::ConsumeMedia.number(), 7);
        assert_eq!(Cs::Hangup.number(), 10);
        assert_eq!(Cs::Destroy.number(), 12);
        assert_eq!(Ccs::Ringing.number(), 2);
        assert_eq!(Ccs::RingWait.number(), 6);
        assert_eq!(Ccs::Hangup.number(), 7);
    }
}
