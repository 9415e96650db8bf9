//! Event templates: the a-leg events of the real FreeSWITCH 1.10.12 captures
//! (`templates/*.plain`, copied byte for byte from
//! `fixtures/real/freeswitch_answered.txt` and `freeswitch_agent_bridge.txt`;
//! `channel_progress_media.plain` is `channel_progress.plain` with the name
//! and calling function of `switch_channel_perform_mark_pre_answered`;
//! `custom_amd.plain`, not captured, is what mod_dptools' `event_function`
//! makes of `event Event-Name=CUSTOM,Event-Subclass=dialpop::amd,…`: the
//! head of a CHANNEL_APPLICATION created there (its calling line number is
//! not verified against 1.10.12), `Event-Name` deleted and added again at
//! the bottom as CUSTOM, the subclass and the given headers, then the
//! channel data of `channel_execute.plain`).
//!
//! A template is cut in three: the event's own headers before the channel
//! data (`Event-Name` … `Event-Sequence`, `Original-Channel-Call-State`,
//! `Bridge-A-Unique-ID` …), the channel data, and the event's own headers
//! after it (`Application`, `channel-read-codec-name` …). The first and last
//! parts are written as captured, with the per-event values (date, sequence,
//! Core-UUID and whatever the caller passes) put in; the channel data is
//! written fresh from the leg (`channel.rs`), the template only saying which
//! parts of it this event type carries (codecs, profile, variables).

use super::channel::{Leg, Sections};
use super::clock;
use crate::switch::esl::event::parse_event_plain;
use crate::switch::headers::Headers;
use bytes::Bytes;
use std::collections::HashSet;

/// `FreeSWITCH-Hostname` of the captures (and of `show channels`).
pub const HOSTNAME: &str = "vm";

macro_rules! kinds {
    ($($kind:ident => $file:literal,)*) => {
        /// Every event the simulator can produce.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind { $($kind,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            fn source(self) -> &'static str {
                match self {
                    $(Kind::$kind => include_str!(concat!("templates/", $file, ".plain")),)*
                }
            }

            pub fn file(self) -> &'static str {
                match self { $(Kind::$kind => $file,)* }
            }
        }
    };
}

kinds! {
    CodecRead => "codec_read",
    CodecWrite => "codec_write",
    ChannelOutgoing => "channel_outgoing",
    ChannelState => "channel_state",
    ChannelCreate => "channel_create",
    ChannelOriginate => "channel_originate",
    ChannelProgress => "channel_progress",
    ChannelProgressMedia => "channel_progress_media",
    ChannelCallstate => "channel_callstate",
    ChannelAnswer => "channel_answer",
    CallUpdate => "call_update",
    ChannelExecute => "channel_execute",
    ChannelExecuteComplete => "channel_execute_complete",
    ChannelPark => "channel_park",
    ChannelUnpark => "channel_unpark",
    ChannelBridge => "channel_bridge",
    ChannelUnbridge => "channel_unbridge",
    ChannelHangup => "channel_hangup",
    ChannelHangupComplete => "channel_hangup_complete",
    ChannelDestroy => "channel_destroy",
    Api => "api",
    BackgroundJob => "background_job",
    Heartbeat => "heartbeat",
    ReSchedule => "re_schedule",
    CustomAmd => "custom_amd",
}

/// The channel-data header names `switch_channel_event_set_basic_data` writes.
const BASIC: &[&str] = &[
    "Channel-State",
    "Channel-Call-State",
    "Channel-State-Number",
    "Channel-Name",
    "Unique-ID",
    "Call-Direction",
    "Presence-Call-Direction",
    "Channel-HIT-Dialplan",
    "Channel-Call-UUID",
    "Answer-State",
    "Hangup-Cause",
    "Channel-Read-Codec-Name",
    "Channel-Read-Codec-Rate",
    "Channel-Read-Codec-Bit-Rate",
    "Channel-Write-Codec-Name",
    "Channel-Write-Codec-Rate",
    "Channel-Write-Codec-Bit-Rate",
];

fn is_channel_data(name: &str) -> bool {
    BASIC.contains(&name)
        || name.starts_with("Caller-")
        || name.starts_with("Other-Leg-")
        || name == "Other-Type"
        || name.starts_with("variable_")
}

/// One parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    #[cfg_attr(not(test), allow(dead_code))]
    pub event_name: String,
    /// Index in `bus::EVENT_NAMES`.
    pub event_id: usize,
    head: Vec<(String, String)>,
    sections: Option<Sections>,
    tail: Vec<(String, String)>,
    /// Every header name of the captured event, in order (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub captured_names: Vec<String>,
}

/// The per-event values of the headers every event starts with.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub seq: u64,
    pub micros: i64,
}

impl Template {
    fn parse(kind: Kind) -> Result<Template, String> {
        let ev = parse_event_plain(Bytes::from_static(kind.source().as_bytes()))
            .map_err(|e| format!("template {}: {e}", kind.file()))?;
        let pairs: Vec<(String, String)> = ev
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let event_name = pairs
            .iter()
            .find(|(k, _)| k == "Event-Name")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("template {} has no Event-Name", kind.file()))?;
        let event_id = super::bus::event_id(&event_name)
            .ok_or_else(|| format!("template {}: unknown event {event_name}", kind.file()))?;
        let captured_names = pairs.iter().map(|(k, _)| k.clone()).collect();
        let Some(start) = pairs.iter().position(|(k, _)| k == "Channel-State") else {
            return Ok(Template {
                event_name,
                event_id,
                head: pairs,
                sections: None,
                tail: Vec::new(),
                captured_names,
            });
        };
        let mut seen = HashSet::new();
        let mut s = Sections::default();
        let mut end = start;
        // The channel data ends at the first header that is not channel data
        // or that repeats one (CODEC events add their own codec headers).
        while let Some((k, _)) = pairs.get(end) {
            if !is_channel_data(k) || !seen.insert(k.as_str()) {
                break;
            }
            match k.as_str() {
                "Channel-Read-Codec-Name" => s.read_codec = true,
                "Channel-Write-Codec-Name" => s.write_codec = true,
                "Caller-Direction" => s.profile = true,
                k if k.starts_with("variable_") => s.variables = true,
                _ => {}
            }
            end += 1;
        }
        Ok(Template {
            event_name,
            event_id,
            head: pairs[..start].to_vec(),
            sections: Some(s),
            tail: pairs[end..].to_vec(),
            captured_names,
        })
    }

    fn put(
        out: &mut Headers,
        part: &[(String, String)],
        core_uuid: &str,
        stamp: &Stamp,
        extras: &[(&str, Option<&str>)],
    ) {
        for (k, v) in part {
            let value: Option<std::borrow::Cow<'_, str>> = match k.as_str() {
                "Core-UUID" => Some(core_uuid.into()),
                "Event-Date-Local" => Some(clock::local_stamp(stamp.micros).into()),
                "Event-Date-GMT" => Some(clock::gmt_stamp(stamp.micros).into()),
                "Event-Date-Timestamp" => Some(stamp.micros.to_string().into()),
                "Event-Sequence" => Some(stamp.seq.to_string().into()),
                name => match extras.iter().find(|(n, _)| *n == name) {
                    Some((_, Some(x))) => Some((*x).into()),
                    Some((_, None)) => None,
                    None => Some(v.as_str().into()),
                },
            };
            if let Some(value) = value {
                out.push_owned(k.as_bytes(), value.as_bytes());
            }
        }
    }

    /// The event's headers: the template's own headers with the per-event
    /// values put in (`extras` by name; `None` leaves the header out), and
    /// the leg's channel data where the template has it.
    pub fn render(
        &self,
        core_uuid: &str,
        stamp: &Stamp,
        leg: Option<&Leg>,
        extras: &[(&str, Option<&str>)],
    ) -> Headers {
        let mut out = Headers::default();
        Self::put(&mut out, &self.head, core_uuid, stamp, extras);
        if let (Some(s), Some(leg)) = (self.sections, leg) {
            leg.render(&mut out, s);
        }
        Self::put(&mut out, &self.tail, core_uuid, stamp, extras);
        out
    }
}

/// All templates, parsed once per switch.
#[derive(Debug)]
pub struct Templates(Vec<Template>);

impl Templates {
    pub fn load() -> Result<Templates, String> {
        Kind::ALL
            .iter()
            .map(|k| Template::parse(*k))
            .collect::<Result<Vec<_>, _>>()
            .map(Templates)
    }

    pub fn get(&self, kind: Kind) -> &Template {
        // Kind::ALL lists the kinds in declaration order, so the index of a
        // kind is its discriminant.
        &self.0[kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::HangupCause;
    use crate::switch::sim::channel::{AnswerState, Ccs, Cs, OtherLeg, Profile, Times, Vars};

    #[test]
    fn every_template_parses_and_is_split_as_the_event_type_demands() {
        let t = Templates::load().expect("templates parse");
        for k in Kind::ALL {
            assert_eq!(
                t.get(*k).event_name,
                match k {
                    Kind::CodecRead | Kind::CodecWrite => "CODEC".to_string(),
                    Kind::CustomAmd => "CUSTOM".to_string(),
                    other => other.file().to_ascii_uppercase(),
                },
                "{k:?}"
            );
        }
        let s = |k| t.get(k).sections;
        assert_eq!(
            s(Kind::CodecRead),
            Some(Sections {
                read_codec: true,
                ..Sections::default()
            })
        );
        assert_eq!(
            s(Kind::CodecWrite),
            Some(Sections {
                read_codec: true,
                write_codec: true,
                ..Sections::default()
            })
        );
        let state = s(Kind::ChannelState).unwrap_or_default();
        assert!(state.profile && !state.variables);
        let create = s(Kind::ChannelCreate).unwrap_or_default();
        assert!(create.profile && create.variables);
        assert_eq!(s(Kind::BackgroundJob), None);
        assert_eq!(s(Kind::Heartbeat), None);
        let tail: Vec<&str> = t
            .get(Kind::ChannelExecuteComplete)
            .tail
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            tail,
            [
                "Application",
                "Application-Data",
                "Application-Response",
                "Application-UUID"
            ]
        );
    }

    fn leg_like_the_capture(bridged: bool) -> Leg {
        let profile = Profile {
            logical_direction: "outbound",
            dialplan: "xml".into(),
            caller_id_name: "Dialer".into(),
            caller_id_number: "5550100".into(),
            orig_caller_id_name: "Dialer".into(),
            orig_caller_id_number: "5550100".into(),
            callee_id_name: "Outbound Call".into(),
            callee_id_number: "customers".into(),
            ani: "5550100".into(),
            destination_number: "1001".into(),
            unique_id: "u".into(),
            source: "mod_loopback".into(),
            transfer_source: bridged.then(|| "x".to_string()),
            context: "customers".into(),
            rdnis: bridged.then(|| "5001".to_string()),
            channel_name: "loopback/1001-a".into(),
            profile_index: 1,
            profile_created: 1,
        };
        Leg {
            uuid: "u".into(),
            call_uuid: "u".into(),
            name: "loopback/1001-a".into(),
            running: Cs::Execute,
            state: Cs::Hangup,
            callstate: Ccs::Active,
            answer_state: AnswerState::Hangup,
            hit_dialplan: true,
            hangup_cause: Some(HangupCause::NormalClearing),
            other: bridged.then(|| OtherLeg {
                kind: "originatee",
                profile: Profile {
                    transfer_source: None,
                    ..profile.clone()
                },
                times: Times::default(),
            }),
            profile,
            times: Times::default(),
            vars: Vars::default(),
            is_loopback: true,
            last_app: None,
            initial_dest: "1001".into(),
        }
    }

    /// The channel data written from a leg has the header names, in order,
    /// of the real events the templates were cut from.
    #[test]
    fn rendered_channel_data_has_the_captured_header_order() {
        let t = Templates::load().expect("templates parse");
        let stamp = Stamp { seq: 1, micros: 1 };
        let names = |k: Kind, leg: &Leg| -> Vec<String> {
            t.get(k)
                .render("core", &stamp, Some(leg), &[])
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .filter(|n| !n.starts_with("variable_"))
                .collect()
        };
        let captured = |k: Kind| -> Vec<String> {
            t.get(k)
                .captured_names
                .iter()
                .filter(|n| !n.starts_with("variable_"))
                .cloned()
                .collect()
        };
        let plain = leg_like_the_capture(false);
        for k in [
            Kind::ChannelHangup,
            Kind::ChannelUnpark,
            Kind::ChannelHangupComplete,
        ] {
            assert_eq!(names(k, &plain), captured(k), "{k:?}");
        }
        let mut ringing = plain.clone();
        ringing.hangup_cause = None;
        for k in [
            Kind::CodecRead,
            Kind::CodecWrite,
            Kind::ChannelOutgoing,
            Kind::ChannelState,
            Kind::ChannelCreate,
            Kind::ChannelCallstate,
            Kind::ChannelAnswer,
            Kind::CallUpdate,
            Kind::ChannelPark,
        ] {
            assert_eq!(names(k, &ringing), captured(k), "{k:?}");
        }
        let mut bridged = leg_like_the_capture(true);
        bridged.hangup_cause = None;
        for k in [
            Kind::ChannelBridge,
            Kind::ChannelUnbridge,
            Kind::ChannelExecuteComplete,
        ] {
            assert_eq!(names(k, &bridged), captured(k), "{k:?}");
        }
        // Extras fill the event's own headers or leave them out.
        let h = t.get(Kind::ChannelExecute).render(
            "core",
            &stamp,
            Some(&ringing),
            &[("Application", Some("park")), ("Application-Data", None)],
        );
        assert_eq!(h.get("Application"), Some(&b"park"[..]));
        assert!(!h.contains("Application-Data"));
        assert_eq!(h.get("Event-Sequence"), Some(&b"1"[..]));
        assert_eq!(h.get("Core-UUID"), Some(&b"core"[..]));
    }
}
