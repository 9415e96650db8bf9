//! One channel (leg) as FreeSWITCH keeps it: its two states, call state,
//! caller profile, times and variables, and how `switch_channel_event_set_data`
//! writes all that into an event.

mod cdr;
mod event_data;
mod states;

use super::clock;
use crate::switch::HangupCause;
pub use event_data::Sections;
pub use states::{AnswerState, Ccs, Cs};

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

fn secs(us: i64) -> i64 {
    us.div_euclid(1_000_000)
}

impl Leg {
    pub fn set_state(&mut self, running: Cs, state: Cs) {
        self.running = running;
        self.state = state;
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
