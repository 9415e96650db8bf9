//! The `OriginateResponse` event, and the originates that get nothing
//! else because no channel could be made for them.

use super::*;

/// An originate whose channel cannot be created: `OriginateResponse`
/// Failure with Reason 0 and the requested channel, no channel events.
pub(super) fn unroutable(core: &Core, o: &AmiOriginate, reply: Reply) {
    match reply {
        Reply::Event { action_id } => emit_originate_response(
            core,
            o,
            action_id.as_deref(),
            false,
            0,
            &o.channel,
            o.channel_id.as_deref().unwrap_or("<unknown>"),
        ),
        Reply::Wait(tx) => {
            let _ = tx.send(false);
        }
    }
}

pub(super) fn emit_originate_response(
    core: &Core,
    o: &AmiOriginate,
    action_id: Option<&str>,
    success: bool,
    reason: u8,
    channel: &str,
    uniqueid: &str,
) {
    let app = !o.application.is_empty();
    let kind = if app {
        Kind::OriginateResponseApp
    } else {
        Kind::OriginateResponseExten
    };
    let t = core.ami.templates.get(kind);
    if !core.ami.bus.wants(t.category) {
        return;
    }
    let (name, number) = o
        .caller_id
        .as_deref()
        .map(parse_callerid)
        .unwrap_or((None, None));
    let reason = reason.to_string();
    let (k1, v1, k2, v2) = if app {
        (
            "Application",
            o.application.as_str(),
            "Data",
            o.data.as_str(),
        )
    } else {
        ("Context", o.context.as_str(), "Exten", o.exten.as_str())
    };
    let bytes = t.render(
        &[],
        &[
            ("ActionID", action_id),
            (
                "Response",
                Some(if success { "Success" } else { "Failure" }),
            ),
            ("Channel", Some(channel)),
            (k1, Some(v1)),
            (k2, Some(v2)),
            ("Reason", Some(&reason)),
            ("Uniqueid", Some(uniqueid)),
            (
                "CallerIDNum",
                Some(number.as_deref().unwrap_or("<unknown>")),
            ),
            ("CallerIDName", Some(name.as_deref().unwrap_or("<unknown>"))),
        ],
    );
    core.ami
        .bus
        .dispatch(Arc::new(crate::switch::sim::ami::bus::AmiEvent {
            category: t.category,
            bytes,
        }));
}

/// An originate the switch queues but cannot allocate a channel for (it is
/// shutting down, the channel driver is not loaded): logged, then
/// OriginateResponse Failure with Reason 0 and no channel events.
pub fn refuse(core: &Core, o: &AmiOriginate, reply: Reply) {
    let key = o
        .channel_id
        .clone()
        .or_else(|| o.action_id.clone())
        .unwrap_or_else(|| o.channel.clone());
    core.log_ami_originate(&key, o);
    unroutable(core, o, reply);
}
