//! The CDR variables a leg gets when it reaches CS_REPORTING.

use super::{Leg, Vars, secs};
use crate::switch::HangupCause;
use crate::switch::sim::clock;

fn ms(us: i64) -> i64 {
    us.div_euclid(1_000)
}

impl Leg {
    /// The variables `switch_channel_set_timestamps` adds when the channel
    /// reaches CS_REPORTING (they are what CHANNEL_HANGUP_COMPLETE is for).
    pub fn set_cdr_vars(&mut self) {
        let t = self.times.clone();
        let created = t.created;
        let end = t.hangup;
        let cause = self
            .hangup_cause
            .clone()
            .unwrap_or(HangupCause::NormalClearing);
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
            if at > 0 { unit(at) - unit(created) } else { 0 }
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
            v.set(
                &format!("flow_bill{unit}"),
                (f(end) - f(created)).to_string(),
            );
        }
        if self.is_loopback {
            v.set("is_loopback", "1");
        }
    }
}
