//! AMI event templates, cut byte for byte from the Asterisk 22.10.1
//! captures (`templates/ami/*.txt`, from `fixtures/real/asterisk_answered.txt`
//! and `asterisk_agent_bridge.txt`; `dial_state_caller.txt` is the captured
//! `DialEnd` with a caller, renamed `DialState` with `DialStatus: RINGING`,
//! because the lab's agents answered at once and never rang).
//!
//! A template keeps the captured keys in their order. Each key is one of:
//! - a channel snapshot block (`Channel` … `Linkedid`, or the same with a
//!   `Dest`, `LocalOne` or `LocalTwo` prefix), written from the channel;
//! - a value Asterisk writes the same every time (`Privilege`,
//!   `AMAFlags: DOCUMENTATION`, `BridgeType: basic` …), written as captured;
//! - anything else, which the caller must supply (`Variable`, `Cause`,
//!   `DialStatus`, times …). A slot supplied as `None` is left out, as
//!   Asterisk leaves out an empty `ActionID`.

use crate::switch::ami::frame::{AmiPacket, AmiScan, scan};
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;

use super::bus::category_of;

/// The fields `ast_manager_build_channel_state_string_prefix` writes, in
/// its order.
pub const SNAPSHOT_KEYS: [&str; 14] = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
];

/// Keys whose captured value is what Asterisk always writes here.
const CONSTANT: &[&str] = &[
    "Event",
    "Privilege",
    "CID-CallingPres",
    "LocalOptimization",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeVideoSourceMode",
    "AMAFlags",
    "Severity",
    "Service",
    "EventVersion",
    "UsingPassword",
    "Status",
];

macro_rules! kinds {
    ($($kind:ident => $file:literal,)*) => {
        /// Every AMI event the simulator sends.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind { $($kind,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            fn source(self) -> &'static str {
                match self {
                    $(Kind::$kind => include_str!(concat!("../templates/ami/", $file, ".txt")),)*
                }
            }

            pub fn file(self) -> &'static str {
                match self { $(Kind::$kind => $file,)* }
            }
        }
    };
}

kinds! {
    FullyBooted => "fully_booted",
    SuccessfulAuth => "successful_auth",
    Newchannel => "newchannel",
    Newexten => "newexten",
    VarSet => "varset",
    NewCallerid => "new_callerid",
    NewConnectedLine => "new_connected_line",
    LocalBridge => "local_bridge",
    DialBegin => "dial_begin",
    DialBeginCaller => "dial_begin_caller",
    Newstate => "newstate",
    DialState => "dial_state",
    DialStateCaller => "dial_state_caller",
    DialEnd => "dial_end",
    DialEndCaller => "dial_end_caller",
    OriginateResponseApp => "originate_response_app",
    OriginateResponseExten => "originate_response_exten",
    SoftHangupRequest => "soft_hangup_request",
    HangupRequest => "hangup_request",
    Hangup => "hangup",
    Cdr => "cdr",
    BridgeCreate => "bridge_create",
    BridgeEnter => "bridge_enter",
    BridgeLeave => "bridge_leave",
    BridgeDestroy => "bridge_destroy",
}

/// AST_STATE_* and `ast_state2str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Down = 0,
    Ring = 4,
    Ringing = 5,
    Up = 6,
    Busy = 7,
}

impl State {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn desc(self) -> &'static str {
        match self {
            State::Down => "Down",
            State::Ring => "Ring",
            State::Ringing => "Ringing",
            State::Up => "Up",
            State::Busy => "Busy",
        }
    }
}

/// What a channel event says about its channel (`ast_channel_snapshot`).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub name: String,
    pub state: State,
    pub cid_num: Option<String>,
    pub cid_name: Option<String>,
    pub connected_num: Option<String>,
    pub connected_name: Option<String>,
    pub account: String,
    pub context: String,
    pub exten: String,
    pub priority: u32,
    pub uniqueid: String,
    pub linkedid: String,
}

const UNKNOWN: &str = "<unknown>";

impl Snapshot {
    /// The value of `SNAPSHOT_KEYS[field]`.
    pub fn value(&self, field: usize) -> Cow<'_, str> {
        fn opt(v: &Option<String>) -> Cow<'_, str> {
            match v {
                Some(s) if !s.is_empty() => Cow::Borrowed(s.as_str()),
                _ => Cow::Borrowed(UNKNOWN),
            }
        }
        match field {
            0 => Cow::Borrowed(&self.name),
            1 => Cow::Owned(self.state.number().to_string()),
            2 => Cow::Borrowed(self.state.desc()),
            3 => opt(&self.cid_num),
            4 => opt(&self.cid_name),
            5 => opt(&self.connected_num),
            6 => opt(&self.connected_name),
            7 => Cow::Borrowed("en"),
            8 => Cow::Borrowed(&self.account),
            9 => Cow::Borrowed(&self.context),
            10 => Cow::Borrowed(&self.exten),
            11 => Cow::Owned(self.priority.to_string()),
            12 => Cow::Borrowed(&self.uniqueid),
            _ => Cow::Borrowed(&self.linkedid),
        }
    }
}

fn line(out: &mut BytesMut, prefix: &str, key: &str, value: &str) {
    out.put_slice(prefix.as_bytes());
    out.put_slice(key.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

#[derive(Clone, Debug)]
enum Field {
    /// Written as captured (the whole line, CRLF included).
    Literal(Vec<u8>),
    /// Field `field` of the `slot`-th snapshot block, under `key`.
    Snap {
        key: String,
        slot: usize,
        field: usize,
    },
    /// Supplied by the caller.
    Slot(String),
}

/// One parsed template.
#[derive(Clone, Debug)]
pub struct Template {
    pub event: String,
    /// The event's `EVENT_FLAG_*` (from its `Privilege`).
    pub category: u32,
    fields: Vec<Field>,
    /// Every key of the captured event, in order (for tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub captured_keys: Vec<String>,
    /// How many snapshot blocks the event carries.
    #[cfg_attr(not(test), allow(dead_code))]
    pub blocks: usize,
}

impl Template {
    fn parse(kind: Kind) -> Result<Template, String> {
        let src = kind.source().as_bytes();
        let bad = |what: &str| format!("AMI template {}: {what}", kind.file());
        match scan(src, false).map_err(|e| bad(&e.to_string()))? {
            AmiScan::Packet { len, output: None } if len == src.len() => {}
            _ => return Err(bad("not exactly one packet")),
        }
        let packet = AmiPacket::from_bytes(Bytes::from_static(src), None)
            .map_err(|e| bad(&e.to_string()))?;
        let pairs: Vec<(String, String)> = packet
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let event = match pairs.first() {
            Some((k, v)) if k == "Event" => v.clone(),
            _ => return Err(bad("does not start with Event")),
        };
        let privilege = pairs
            .iter()
            .find(|(k, _)| k == "Privilege")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| bad("has no Privilege"))?;
        let category = category_of(privilege).ok_or_else(|| bad("unknown Privilege"))?;
        let mut fields = Vec::with_capacity(pairs.len());
        let mut blocks = 0;
        let mut i = 0;
        while i < pairs.len() {
            let key = &pairs[i].0;
            // A snapshot block starts at `<prefix>Channel` followed by
            // `<prefix>ChannelState` (Cdr and OriginateResponse have a
            // `Channel` that is not one).
            if let Some(prefix) = key.strip_suffix("Channel")
                && pairs
                    .get(i + 1)
                    .is_some_and(|(k, _)| *k == format!("{prefix}ChannelState"))
            {
                for (field, name) in SNAPSHOT_KEYS.iter().enumerate() {
                    let want = format!("{prefix}{name}");
                    match pairs.get(i + field) {
                        Some((k, _)) if *k == want => fields.push(Field::Snap {
                            key: want,
                            slot: blocks,
                            field,
                        }),
                        _ => return Err(bad(&format!("snapshot block lacks {want}"))),
                    }
                }
                blocks += 1;
                i += SNAPSHOT_KEYS.len();
                continue;
            }
            if CONSTANT.contains(&key.as_str()) {
                fields.push(Field::Literal(
                    format!("{key}: {}\r\n", pairs[i].1).into_bytes(),
                ));
            } else {
                fields.push(Field::Slot(key.clone()));
            }
            i += 1;
        }
        Ok(Template {
            event,
            category,
            fields,
            captured_keys: pairs.into_iter().map(|(k, _)| k).collect(),
            blocks,
        })
    }

    /// The event with `snaps` in its snapshot blocks (in order) and
    /// `extras` in its slots.
    pub fn render(&self, snaps: &[&Snapshot], extras: &[(&str, Option<&str>)]) -> Bytes {
        let mut out = BytesMut::with_capacity(64 + 40 * self.fields.len());
        for f in &self.fields {
            match f {
                Field::Literal(l) => out.put_slice(l),
                Field::Snap { key, slot, field } => match snaps.get(*slot) {
                    Some(s) => {
                        out.put_slice(key.as_bytes());
                        out.put_slice(b": ");
                        out.put_slice(s.value(*field).as_bytes());
                        out.put_slice(b"\r\n");
                    }
                    None => debug_assert!(false, "{}: snapshot {slot} missing", self.event),
                },
                Field::Slot(key) => match extras.iter().find(|(k, _)| k == key) {
                    Some((_, Some(v))) => line(&mut out, "", key, v),
                    Some((_, None)) => {}
                    None => {
                        debug_assert!(false, "{}: no value for {key}", self.event);
                        line(&mut out, "", key, "");
                    }
                },
            }
        }
        out.put_slice(b"\r\n");
        out.freeze()
    }
}

/// Every template, parsed once at start-up.
#[derive(Clone, Debug)]
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

    fn snap(name: &str, id: &str) -> Snapshot {
        Snapshot {
            name: name.into(),
            state: State::Down,
            cid_num: None,
            cid_name: Some("Dialer".into()),
            connected_num: None,
            connected_name: None,
            account: String::new(),
            context: "customers".into(),
            exten: "1001".into(),
            priority: 1,
            uniqueid: id.into(),
            linkedid: id.into(),
        }
    }

    #[test]
    fn every_template_parses_and_renders_its_captured_keys() {
        let t = Templates::load().expect("templates parse");
        for kind in Kind::ALL {
            let tpl = t.get(*kind);
            assert_eq!(tpl.captured_keys[0], "Event");
            let a = snap("Local/1@c-00000001;1", "1.1");
            let b = snap("Local/1@c-00000001;2", "1.2");
            let snaps = [&a, &b];
            let extras: Vec<(&str, Option<&str>)> = tpl
                .fields
                .iter()
                .filter_map(|f| match f {
                    Field::Slot(k) => Some((k.as_str(), Some("x"))),
                    _ => None,
                })
                .collect();
            let bytes = tpl.render(&snaps[..tpl.blocks], &extras);
            let p = AmiPacket::from_bytes(bytes, None).expect("rendered packet parses");
            let keys: Vec<String> = p
                .headers
                .iter()
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect();
            assert_eq!(keys, tpl.captured_keys, "{}", kind.file());
        }
    }

    #[test]
    fn snapshot_values_and_unknowns() {
        let t = Templates::load().expect("templates parse");
        let a = snap("Local/1001@customers-00000004;1", "1795554353.8");
        let bytes = t.get(Kind::Newchannel).render(&[&a], &[]);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/1001@customers-00000004;1\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: <unknown>\r\nCallerIDName: Dialer\r\n"), "{text}");
        assert!(text.ends_with("Uniqueid: 1795554353.8\r\nLinkedid: 1795554353.8\r\n\r\n"));
        assert!(text.contains("\r\nAccountCode: \r\n"));
        let r = t.get(Kind::OriginateResponseApp).render(
            &[],
            &[
                ("ActionID", None),
                ("Response", Some("Success")),
                ("Channel", Some("c")),
                ("Application", Some("Wait")),
                ("Data", Some("10")),
                ("Reason", Some("4")),
                ("Uniqueid", Some("u")),
                ("CallerIDNum", Some("<unknown>")),
                ("CallerIDName", Some("<unknown>")),
            ],
        );
        assert!(String::from_utf8_lossy(&r).starts_with(
            "Event: OriginateResponse\r\nPrivilege: call,all\r\nResponse: Success\r\n"
        ));
    }
}
