//! How `switch_channel_event_set_data` writes a leg into an event. The
//! order of the headers written here is the order of the real captures
//! (`templates/`); a unit test in `templates.rs` holds them to it.

use super::{Leg, Profile, Times};
use crate::switch::headers::Headers;

/// Which parts of the channel data an event type carries (see templates.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    pub read_codec: bool,
    pub write_codec: bool,
    pub profile: bool,
    pub variables: bool,
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

impl Leg {
    /// Writes the channel data as `switch_channel_event_set_data` does.
    pub fn render(&self, out: &mut Headers, s: Sections) {
        push(out, "Channel-State", self.running.name());
        push(out, "Channel-Call-State", self.callstate.name());
        push(
            out,
            "Channel-State-Number",
            &self.state.number().to_string(),
        );
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
}
