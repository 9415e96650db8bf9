//! Asterisk events → dialpop's `CallEvent`s.
//!
//! A call is keyed by the Uniqueid of its originated channel, which is the
//! `ChannelId` dialpop chose. The `;2` half of a Local channel and the
//! agent's channels map under their own ids, which nobody tracks.
//!
//! What the real Asterisk 22 captures showed (PROTOCOLS.md §5) decides the
//! mapping: the cause of a failed originate comes from OriginateResponse's
//! Reason (busy is Reason 5, while the dialer side's Hangup says Cause 0),
//! and OriginateResponse comes before that Hangup, so it wins in the call
//! table.

use super::frame::{AmiPacket, PacketKind};
use crate::switch::{AmdVerdict, CallEvent, CallEventKind, CallId, HangupCause};

/// The `UserEvent` the holding extension sends after `AMD()`
/// (dialplan/asterisk), with AMDSTATUS in `Status`.
pub const AMD_USER_EVENT: &str = "DialpopAMD";

fn text(p: &AmiPacket, key: &str) -> Option<String> {
    let v = p.get_str(key)?;
    let v = v.trim();
    (!v.is_empty() && v != "<unknown>").then(|| v.to_string())
}

/// `Timestamp: 1795554353.123456` (timestampevents=yes) in microseconds.
fn timestamp(p: &AmiPacket) -> Option<i64> {
    let t: f64 = text(p, "Timestamp")?.parse().ok()?;
    t.is_finite().then(|| (t * 1_000_000.0).round() as i64)
}

/// OriginateResponse's Reason (an AST_CONTROL code) as a hang-up cause.
pub fn originate_reason(reason: u32) -> HangupCause {
    match reason {
        1 => HangupCause::NormalClearing,
        3 => HangupCause::NoAnswer,
        5 => HangupCause::UserBusy,
        8 => HangupCause::NormalCircuitCongestion,
        _ => HangupCause::Other(crate::switch::fault::ORIGINATE_NO_CHANNEL.into()),
    }
}

pub fn call_event(p: &AmiPacket) -> Option<CallEvent> {
    let PacketKind::Event(name) = p.kind() else {
        return None;
    };
    let kind = match name.as_str() {
        "Newchannel" => CallEventKind::Originated,
        "Newstate" => {
            let state: Option<u32> = text(p, "ChannelState").and_then(|s| s.parse().ok());
            let desc = text(p, "ChannelStateDesc").unwrap_or_default();
            match (state, desc.as_str()) {
                (Some(5), _) | (None, "Ringing") => CallEventKind::Ringing,
                (Some(6), _) | (None, "Up") => CallEventKind::Answered,
                _ => return None,
            }
        }
        "BridgeEnter" => CallEventKind::Bridged { other_leg: None },
        "UserEvent"
            if text(p, "UserEvent").is_some_and(|n| n.eq_ignore_ascii_case(AMD_USER_EVENT)) =>
        {
            CallEventKind::Detected {
                verdict: AmdVerdict::from_name(&text(p, "Status").unwrap_or_default()),
            }
        }
        "Hangup" => CallEventKind::HungUp {
            cause: text(p, "Cause")
                .and_then(|c| c.parse::<u16>().ok())
                .map(HangupCause::from_q850)
                .unwrap_or(HangupCause::Unspecified),
        },
        "OriginateResponse" => {
            if text(p, "Response").is_some_and(|r| r.eq_ignore_ascii_case("Success")) {
                return None;
            }
            let reason = text(p, "Reason").and_then(|r| r.parse().ok()).unwrap_or(0);
            CallEventKind::OriginateFailed {
                cause: originate_reason(reason),
            }
        }
        _ => return None,
    };
    Some(CallEvent {
        call_id: CallId(text(p, "Uniqueid")?),
        switch_time_us: timestamp(p),
        kind,
    })
}
