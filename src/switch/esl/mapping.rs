//! FreeSWITCH channel events → dialpop's `CallEvent`s.
//!
//! A call is keyed by the `Unique-ID` of its originated leg, which is the
//! `origination_uuid` dialpop chose. Other legs (the loopback b-leg, the
//! agent's leg) map to events under their own ids, which nobody tracks, so
//! they can never be attributed to the wrong call.

use super::command::Originate;
use super::event::EslEvent;
use crate::switch::driver::Transfer;
use crate::switch::{AmdVerdict, CallEvent, CallEventKind, CallId, HangupCause};

/// The CUSTOM subclass of the `event` application in the holding extension
/// (dialplan/freeswitch/dialpop.xml), with the verdict of mod_amd's `amd`
/// in `dialpop_amd_result`.
pub const AMD_SUBCLASS: &str = "dialpop::amd";

fn timestamp(ev: &EslEvent) -> Option<i64> {
    std::str::from_utf8(ev.get("Event-Date-Timestamp")?)
        .ok()?
        .parse()
        .ok()
}

fn text(ev: &EslEvent, name: &str) -> Option<String> {
    let v = ev.get(name)?;
    (!v.is_empty()).then(|| String::from_utf8_lossy(v).into_owned())
}

fn hangup_cause(ev: &EslEvent) -> HangupCause {
    text(ev, "Hangup-Cause")
        .or_else(|| text(ev, "variable_hangup_cause"))
        .map(|c| HangupCause::from_name(&c))
        .unwrap_or(HangupCause::Unspecified)
}

/// The call event this FreeSWITCH event stands for, if any.
pub fn call_event(ev: &EslEvent) -> Option<CallEvent> {
    let name = ev.name()?;
    if name == b"BACKGROUND_JOB" {
        return originate_failure(ev);
    }
    let kind = match name {
        b"CHANNEL_CREATE" => CallEventKind::Originated,
        b"CHANNEL_PROGRESS" => CallEventKind::Ringing,
        b"CHANNEL_PROGRESS_MEDIA" => CallEventKind::EarlyMedia,
        b"CHANNEL_ANSWER" => CallEventKind::Answered,
        b"CHANNEL_BRIDGE" => {
            let me = ev.get("Unique-ID");
            let other = [
                "Other-Leg-Unique-ID",
                "Bridge-B-Unique-ID",
                "Bridge-A-Unique-ID",
            ]
            .into_iter()
            .filter_map(|h| ev.get(h).filter(|v| !v.is_empty() && Some(*v) != me))
            .next()
            .map(|v| String::from_utf8_lossy(v).into_owned());
            CallEventKind::Bridged { other_leg: other }
        }
        b"CHANNEL_HANGUP_COMPLETE" => CallEventKind::HungUp {
            cause: hangup_cause(ev),
        },
        b"CUSTOM" if ev.get("Event-Subclass") == Some(AMD_SUBCLASS.as_bytes()) => {
            CallEventKind::Detected {
                verdict: AmdVerdict::from_name(
                    &text(ev, "dialpop_amd_result")
                        .or_else(|| text(ev, "variable_amd_result"))
                        .unwrap_or_default(),
                ),
            }
        }
        _ => return None,
    };
    Some(CallEvent {
        call_id: CallId(text(ev, "Unique-ID")?),
        switch_time_us: timestamp(ev),
        kind,
    })
}

/// The outcome of a `bgapi` job, read from its BACKGROUND_JOB event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobResult {
    pub job_uuid: String,
    pub ok: bool,
    /// The body after `+OK`/`-ERR`, trimmed: the new uuid or the cause name.
    pub text: String,
}

pub fn job_result(ev: &EslEvent) -> Option<JobResult> {
    if !ev.is("BACKGROUND_JOB") {
        return None;
    }
    let reply = super::message::Reply::parse(ev.body.as_deref().unwrap_or_default());
    Some(JobResult {
        job_uuid: text(ev, "Job-UUID")?,
        ok: reply.ok,
        text: reply.text,
    })
}

/// A failed `originate` job becomes `OriginateFailed` for the call whose
/// `origination_uuid` the command carried. A job without one cannot be tied
/// to a call from the event alone; the client correlates it by Job-UUID.
fn originate_failure(ev: &EslEvent) -> Option<CallEvent> {
    let job = job_result(ev)?;
    if job.ok || ev.get("Job-Command")? != b"originate" {
        return None;
    }
    let arg = ev.get_str("Job-Command-Arg")?;
    let orig: Originate = arg.parse().ok()?;
    let call_id = orig.variable("origination_uuid")?.to_string();
    let cause = job.text.split_whitespace().next().unwrap_or("UNSPECIFIED");
    Some(CallEvent {
        call_id: CallId(call_id),
        switch_time_us: timestamp(ev),
        kind: CallEventKind::OriginateFailed {
            cause: HangupCause::from_name(cause),
        },
    })
}

/// The api commands of a transfer, in order (checked by the caller):
/// `uuid_setvar <uuid> <name> <value>` for each variable, then
/// `uuid_transfer <uuid> <extension> XML <context>`.
pub fn transfer_commands(t: &Transfer) -> Vec<String> {
    let uuid = t.call_id.as_str();
    t.variables
        .iter()
        .map(|(k, v)| format!("uuid_setvar {uuid} {k} {v}"))
        .chain(std::iter::once(format!(
            "uuid_transfer {uuid} {} XML {}",
            t.extension, t.context
        )))
        .collect()
}
