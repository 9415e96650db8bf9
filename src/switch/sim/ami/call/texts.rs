//! The texts a call writes: cause names, CDR dispositions, dialplan
//! arguments and what its `NoOp`s say.

use crate::switch::sim::scenario::{Outcome, Plan};
use std::time::Duration;

/// `ast_cause2str` for the causes a call here can end with.
pub fn cause_text(cause: u16) -> &'static str {
    match cause {
        1 => "Unallocated (unassigned) number",
        2 => "No route to specified transmit network",
        3 => "No route to destination",
        6 => "Channel unacceptable",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        20 => "Subscriber absent",
        21 => "Call Rejected",
        22 => "Number changed",
        27 => "Destination out of order",
        28 => "Invalid number format",
        29 => "Facility rejected",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        42 => "Switching equipment congestion",
        44 => "Requested channel not available",
        58 => "Bearer capability not available",
        66 => "Channel not implemented",
        88 => "Incompatible destination",
        102 => "Recover on timer expiry",
        111 => "Protocol error, unspecified",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

/// A CDR's disposition for a channel that ends with `cause`.
pub(super) fn disposition(answered: bool, cause: u16) -> &'static str {
    if answered {
        return "ANSWERED";
    }
    match cause {
        17 => "BUSY",
        0 | 16 | 18 | 19 => "NO ANSWER",
        _ => "FAILED",
    }
}

/// Seconds as the dialplan writes them (`1`, `0.5`).
pub(super) fn secs_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        let s = format!("{:.3}", d.as_secs_f64());
        s.trim_end_matches('0').to_string()
    }
}

/// `${name}` → the channel variable (the name as written, else in upper
/// case: `${dialpop_agent_dial}` finds `DIALPOP_AGENT_DIAL`).
pub(super) fn expand_vars(data: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        let find = |n: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        find(name).or_else(|| find(&name.to_ascii_uppercase()))
    };
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                out.push_str(&lookup(&rest[start + 2..start + 2 + end]).unwrap_or_default());
                rest = &rest[start + 2 + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// How the scenario's dialplan says what it does, in its `NoOp`.
pub(super) fn describe(who: &str, number: &str, plan: &Plan) -> String {
    match &plan.outcome {
        Outcome::Answer if plan.ring.is_zero() => format!("{who} {number}: answers"),
        Outcome::Answer => format!(
            "{who} {number}: answers after {}s ring",
            secs_text(plan.ring)
        ),
        Outcome::NoAnswer => format!("{who} {number}: never answers"),
        Outcome::Reject(c) => format!("{who} {number}: {}", c.name().to_ascii_lowercase()),
    }
}

/// The Dial status for a callee that refused with `cause` (app_dial's
/// `handle_cause`).
pub(super) fn dial_status(cause: u16) -> &'static str {
    match cause {
        17 => "BUSY",
        34 | 42 => "CONGESTION",
        1 | 2 | 3 | 20 | 27 | 66 => "CHANUNAVAIL",
        _ => "NOANSWER",
    }
}

/// The variables `Dial` clears when it starts (Asterisk 22 app_dial).
pub(super) const DIAL_VARS: &[&str] = &[
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(secs_text(Duration::from_secs(1)), "1");
        assert_eq!(secs_text(Duration::from_millis(1500)), "1.5");
        assert_eq!(secs_text(Duration::from_millis(250)), "0.25");
        assert_eq!(cause_text(16), "Normal Clearing");
        assert_eq!(cause_text(17), "User busy");
        assert_eq!(cause_text(19), "User alerting, no answer");
        assert_eq!(cause_text(34), "Circuit/channel congestion");
        assert_eq!(cause_text(0), "Unknown");
        assert_eq!(
            expand_vars(
                "${dialpop_agent_dial}",
                &[("DIALPOP_AGENT_DIAL".into(), "PJSIP/8001".into())]
            ),
            "PJSIP/8001"
        );
        assert_eq!(
            expand_vars(
                "${dialpop_agent_dial},20",
                &[("dialpop_agent_dial".into(), "Local/8001@agents".into())]
            ),
            "Local/8001@agents,20"
        );
    }
}
