//! The channel actions a predictive dialer uses, answered as manager.c
//! answers them: `Setvar` (`action_setvar`) and `Redirect`
//! (`action_redirect`, one channel). What they ask of the channel goes to
//! its call task; the Response says only whether the channel was found.

use super::originate::header;
use super::server::response;
use crate::switch::ami::AmiPacket;
use crate::switch::sim::core::{Ask, Core};
use bytes::Bytes;

/// `ast_channel_get_by_name`: a channel name (case-insensitive), or else a
/// Uniqueid; the channel's Uniqueid.
pub fn find_channel(core: &Core, name: &str) -> Option<String> {
    let rows = core.rows();
    let field = |row: &[(&'static str, String)], k: &str| {
        row.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    };
    rows.iter()
        .find(|r| field(r, "Channel").is_some_and(|c| c.eq_ignore_ascii_case(name)))
        .or_else(|| {
            rows.iter()
                .find(|r| field(r, "Uniqueid").as_deref() == Some(name))
        })
        .and_then(|r| field(r, "Uniqueid"))
}

/// `action_setvar`. Without a Channel it sets a global variable, which no
/// call here reads.
pub fn setvar(core: &Core, p: &AmiPacket, id: &str) -> Bytes {
    let name = header(p, "Channel");
    let variable = header(p, "Variable");
    let value = header(p, "Value");
    if variable.is_empty() {
        return response("Error", id, None, Some("No variable specified"));
    }
    if !name.is_empty() {
        let asked = find_channel(core, &name).is_some_and(|uuid| {
            core.ask(
                &uuid,
                Ask::SetVar {
                    uuid: uuid.clone(),
                    name: variable.clone(),
                    value: value.clone(),
                },
            )
        });
        if !asked {
            return response("Error", id, None, Some("No such channel"));
        }
    }
    response("Success", id, None, Some("Variable Set"))
}

/// `action_redirect` for one channel (no ExtraChannel): the checks in its
/// order, then `ast_async_goto`.
pub fn redirect(core: &Core, p: &AmiPacket, id: &str) -> Bytes {
    let name = header(p, "Channel");
    let context = header(p, "Context");
    let exten = header(p, "Exten");
    let priority = header(p, "Priority");
    let error = |m: &str| response("Error", id, None, Some(m));
    if name.is_empty() {
        return error("Channel not specified");
    }
    if context.is_empty() {
        return error("Context not specified");
    }
    if exten.is_empty() {
        return error("Exten not specified");
    }
    if priority.is_empty() {
        return error("Priority not specified");
    }
    // A label would be looked up in the dialplan; the simulator has none.
    let Some(priority) = priority.trim().parse::<u32>().ok().filter(|p| *p >= 1) else {
        return error("Priority is invalid");
    };
    let asked = find_channel(core, &name).is_some_and(|uuid| {
        core.ask(
            &uuid,
            Ask::Redirect {
                uuid: uuid.clone(),
                context: context.clone(),
                exten: exten.clone(),
                priority,
            },
        )
    });
    if !asked {
        return error(&format!("Channel does not exist: {name}"));
    }
    response("Success", id, None, Some("Redirect successful"))
}
