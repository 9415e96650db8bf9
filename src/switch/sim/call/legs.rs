//! The legs of a call as FreeSWITCH creates them: the customer's (the
//! originate's a-leg) and the agent's (dialled by `bridge`), their
//! variables, and what a bridge leaves on them.

use super::super::channel::{AnswerState, Ccs, Cs, Leg, OtherLeg, Profile, Times, Vars};
use super::super::clock;
use super::super::core::Core;
use super::super::dial::Endpoint;
use super::CallSpec;
use crate::switch::HangupCause;

pub(super) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) fn channel_vars(core: &Core, uuid: &str, e: &Endpoint) -> Vars {
    let mut v = Vars::default();
    v.set("direction", "outbound");
    v.set("is_outbound", "true");
    v.set("uuid", uuid);
    v.set("call_uuid", uuid);
    v.set("session_id", core.next_session_id().to_string());
    v.set("read_codec", "L16");
    v.set("read_rate", "8000");
    v.set("write_codec", "L16");
    v.set("write_rate", "8000");
    v.set("channel_name", e.channel_name.clone());
    v
}

pub(super) fn customer_leg(core: &Core, spec: &CallSpec) -> Leg {
    let e = &spec.endpoint;
    let o = &spec.originate;
    let now = clock::now_micros();
    let cid_name = spec
        .cid_name
        .clone()
        .or_else(|| o.variable("origination_caller_id_name").map(str::to_string))
        .unwrap_or_default();
    let cid_number = spec
        .cid_number
        .clone()
        .or_else(|| {
            o.variable("origination_caller_id_number")
                .map(str::to_string)
        })
        .unwrap_or_else(|| "0000000000".to_string());
    let mut vars = channel_vars(core, &spec.uuid, e);
    for (k, v) in &o.variables {
        vars.set(k, v.clone());
    }
    let early_ok = o.variable("ignore_early_media") != Some("true");
    vars.set(
        "originate_early_media",
        if early_ok { "true" } else { "false" },
    );
    vars.set("originate_endpoint", e.tech.clone());
    if e.is_loopback {
        vars.set("other_loopback_leg_uuid", new_uuid());
        vars.set("loopback_leg", "A");
    }
    Leg {
        uuid: spec.uuid.clone(),
        call_uuid: spec.uuid.clone(),
        name: e.channel_name.clone(),
        running: Cs::None,
        state: Cs::New,
        callstate: Ccs::Down,
        answer_state: AnswerState::Ringing,
        hit_dialplan: false,
        hangup_cause: None,
        profile: Profile {
            logical_direction: "outbound",
            dialplan: e.dialplan.clone(),
            caller_id_name: cid_name.clone(),
            caller_id_number: cid_number.clone(),
            orig_caller_id_name: cid_name,
            orig_caller_id_number: cid_number.clone(),
            callee_id_name: "Outbound Call".into(),
            callee_id_number: e.callee_number.clone(),
            ani: cid_number,
            destination_number: e.number.clone(),
            unique_id: spec.uuid.clone(),
            source: e.source.clone(),
            transfer_source: None,
            context: e.context.clone(),
            rdnis: None,
            channel_name: e.channel_name.clone(),
            profile_index: 1,
            profile_created: now,
        },
        other: None,
        times: Times {
            created: now,
            ..Times::default()
        },
        vars,
        is_loopback: e.is_loopback,
        last_app: None,
        initial_dest: e.number.clone(),
    }
}

/// The profile of `leg` as the other leg of a bridge shows it.
pub(super) fn as_other(leg: &Leg, kind: &'static str, with_times: bool) -> OtherLeg {
    let mut profile = leg.profile.clone();
    profile.logical_direction = "inbound";
    if !with_times {
        profile.profile_created = 0;
    }
    OtherLeg {
        kind,
        profile,
        times: if with_times {
            leg.times.clone()
        } else {
            Times::default()
        },
    }
}

/// The leg the bridge application dials for the answered customer leg.
pub(super) fn agent_leg(core: &Core, a: &Leg, e: &Endpoint) -> Leg {
    let uuid = new_uuid();
    let now = clock::now_micros();
    let mut v = Vars::default();
    v.set("direction", "outbound");
    v.set("is_outbound", "true");
    v.set("uuid", uuid.clone());
    v.set("session_id", core.next_session_id().to_string());
    v.set("read_codec", "L16");
    v.set("read_rate", "8000");
    v.set("write_codec", "L16");
    v.set("write_rate", "8000");
    if e.is_loopback {
        v.set("loopback_from_uuid", a.uuid.clone());
    }
    v.set("channel_name", e.channel_name.clone());
    if let Some(mf) = a
        .vars
        .get("max_forwards")
        .and_then(|m| m.parse::<u32>().ok())
    {
        v.set("max_forwards", mf.saturating_sub(1).to_string());
    }
    v.set("originator_codec", "L16@8000h@20i");
    v.set("originator", a.uuid.clone());
    v.set("signal_bond", a.uuid.clone());
    v.set("call_uuid", a.uuid.clone());
    v.set("originate_early_media", "true");
    v.set("originating_leg_uuid", a.uuid.clone());
    v.set("originate_endpoint", e.tech.clone());
    if e.is_loopback {
        v.set("other_loopback_leg_uuid", new_uuid());
        v.set("loopback_leg", "A");
    }
    let p = &a.profile;
    Leg {
        uuid: uuid.clone(),
        call_uuid: a.uuid.clone(),
        name: e.channel_name.clone(),
        running: Cs::None,
        state: Cs::New,
        callstate: Ccs::Down,
        answer_state: AnswerState::Ringing,
        hit_dialplan: false,
        hangup_cause: None,
        profile: Profile {
            logical_direction: "outbound",
            dialplan: "XML".into(),
            caller_id_name: p.caller_id_name.clone(),
            caller_id_number: p.caller_id_number.clone(),
            orig_caller_id_name: p.orig_caller_id_name.clone(),
            orig_caller_id_number: p.orig_caller_id_number.clone(),
            callee_id_name: "Outbound Call".into(),
            callee_id_number: e.callee_number.clone(),
            ani: p.ani.clone(),
            destination_number: e.number.clone(),
            unique_id: uuid,
            source: e.source.clone(),
            transfer_source: None,
            context: e.context.clone(),
            rdnis: p.rdnis.clone(),
            channel_name: e.channel_name.clone(),
            profile_index: 1,
            profile_created: now,
        },
        other: Some(as_other(a, "originator", false)),
        times: Times {
            created: now,
            ..Times::default()
        },
        vars: v,
        is_loopback: e.is_loopback,
        last_app: None,
        initial_dest: e.number.clone(),
    }
}

/// What the customer leg remembers of the bridge once it ends.
pub(super) fn unbridge_vars(a: &mut Leg, b: &Leg, cause: &HangupCause) {
    a.vars.set("last_bridge_to", b.uuid.clone());
    a.vars.set("bridge_channel", b.name.clone());
    a.vars.set("bridge_uuid", b.uuid.clone());
    a.vars.set("signal_bond", b.uuid.clone());
    a.vars
        .set("last_sent_callee_id_name", b.profile.callee_id_name.clone());
    a.vars.set(
        "last_sent_callee_id_number",
        b.profile.callee_id_number.clone(),
    );
    a.vars.set("last_bridge_hangup_cause", cause.name());
    a.vars.set("bridge_hangup_cause", cause.name());
}

/// `${name}` → the channel variable's value (empty when unset), as the XML
/// dialplan expands application data.
pub(super) fn expand_vars(data: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                let name = &rest[start + 2..start + 2 + end];
                out.push_str(vars.get(name).unwrap_or(""));
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
