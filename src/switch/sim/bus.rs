//! Who gets which event: each ESL session is a listener with a subscription
//! (event names, CUSTOM subclasses, filters, format) and a bounded queue, as
//! in mod_event_socket's `event_handler`. An event is serialized at most
//! once per format and the bytes are shared by every session that gets it.
//! A listener whose queue stays full for more than `MAX_MISSED` events in a
//! row is killed, as FreeSWITCH kills a listener that loses events, so one
//! session that stops reading never holds up the others.

use super::wire;
use crate::switch::esl::EventFormat;
use crate::switch::esl::event::EslEvent;
use bytes::Bytes;
use regex::{Regex, RegexBuilder};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// mod_event_socket's `MAX_QUEUE_LEN`.
pub const MAX_QUEUE_LEN: usize = 100_000;
/// mod_event_socket's `MAX_MISSED`.
pub const MAX_MISSED: usize = 500;

/// `EVENT_NAMES` of switch_event.c (1.10), in `switch_event_types_t` order.
pub const EVENT_NAMES: &[&str] = &[
    "CUSTOM",
    "CLONE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "API",
    "LOG",
    "INBOUND_CHAN",
    "OUTBOUND_CHAN",
    "STARTUP",
    "SHUTDOWN",
    "PUBLISH",
    "UNPUBLISH",
    "TALK",
    "NOTALK",
    "SESSION_CRASH",
    "MODULE_LOAD",
    "MODULE_UNLOAD",
    "DTMF",
    "MESSAGE",
    "PRESENCE_IN",
    "NOTIFY_IN",
    "PRESENCE_OUT",
    "PRESENCE_PROBE",
    "MESSAGE_WAITING",
    "MESSAGE_QUERY",
    "ROSTER",
    "CODEC",
    "BACKGROUND_JOB",
    "DETECTED_SPEECH",
    "DETECTED_TONE",
    "PRIVATE_COMMAND",
    "HEARTBEAT",
    "TRAP",
    "ADD_SCHEDULE",
    "DEL_SCHEDULE",
    "EXE_SCHEDULE",
    "RE_SCHEDULE",
    "RELOADXML",
    "NOTIFY",
    "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "REQUEST_PARAMS",
    "CHANNEL_DATA",
    "GENERAL",
    "COMMAND",
    "SESSION_HEARTBEAT",
    "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED",
    "SEND_INFO",
    "RECV_INFO",
    "RECV_RTCP_MESSAGE",
    "SEND_RTCP_MESSAGE",
    "CALL_SECURE",
    "NAT",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CALL_UPDATE",
    "FAILURE",
    "SOCKET_DATA",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA",
    "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT",
    "CALL_DETAIL",
    "DEVICE_STATE",
    "TEXT",
    "SHUTDOWN_REQUESTED",
    "ALL",
];

pub const CUSTOM: usize = 0;
pub const ALL: usize = EVENT_NAMES.len() - 1;

/// `switch_name_event`: case-insensitive, with or without the
/// `SWITCH_EVENT_` prefix.
pub fn event_id(name: &str) -> Option<usize> {
    EVENT_NAMES.iter().position(|n| {
        name.eq_ignore_ascii_case(n)
            || (name.len() > 13
                && name
                    .get(13..)
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(n)))
    })
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes an event's body in one format.
type Serializer = fn(&EslEvent) -> Vec<u8>;

/// One event on its way to the listeners, serialized lazily per format.
#[derive(Debug)]
pub struct SimEvent {
    pub id: usize,
    pub subclass: Option<String>,
    pub event: EslEvent,
    plain: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    xml: OnceLock<Bytes>,
}

impl SimEvent {
    pub fn new(id: usize, subclass: Option<String>, event: EslEvent) -> SimEvent {
        SimEvent {
            id,
            subclass,
            event,
            plain: OnceLock::new(),
            json: OnceLock::new(),
            xml: OnceLock::new(),
        }
    }

    /// The whole frame for a session listening in `format`.
    pub fn frame(&self, format: EventFormat) -> Bytes {
        let (cell, make): (&OnceLock<Bytes>, Serializer) = match format {
            EventFormat::Plain => (&self.plain, |e| e.to_plain()),
            EventFormat::Json => (&self.json, wire::event_json),
            EventFormat::Xml => (&self.xml, wire::event_xml),
        };
        cell.get_or_init(|| wire::event_frame(format, &make(&self.event)))
            .clone()
    }
}

#[derive(Clone, Debug)]
struct Filter {
    header: String,
    value: String,
    /// Compiled when the value is `/regex/flags`.
    regex: Option<Regex>,
}

/// `switch_regex_perform`'s `/expression/flags` form (i: caseless, s: dotall).
fn compile_slashed(value: &str) -> Option<Regex> {
    let inner = value.strip_prefix('/')?;
    let (expr, flags) = inner.rsplit_once('/')?;
    RegexBuilder::new(expr)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .ok()
}

/// What one listener wants: mod_event_socket's `event_list`, `event_hash`,
/// `filters`, `format` and the LFLAG_EVENTS / LFLAG_MYEVENTS flags.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub events_on: bool,
    pub format: EventFormat,
    list: [bool; EVENT_NAMES.len()],
    custom: HashSet<String>,
    filters: Vec<Filter>,
    /// `myevents <uuid>`: only that channel's events.
    pub my_uuid: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            events_on: false,
            format: EventFormat::Plain,
            list: [false; EVENT_NAMES.len()],
            custom: HashSet::new(),
            filters: Vec::new(),
            my_uuid: None,
        }
    }
}

/// The words after the command word, split on single spaces as
/// mod_event_socket does (`cmd + 5`, then from the first space).
fn words_after(line: &str, skip: usize) -> Option<std::str::Split<'_, char>> {
    let rest = line.get(skip..)?;
    let at = rest.find(' ')?;
    Some(rest[at + 1..].split(' '))
}

impl Subscription {
    /// Whether events of this type are wanted at all (before filters).
    pub fn wants(&self, id: usize, subclass: Option<&str>) -> bool {
        if !self.events_on {
            return false;
        }
        if self.list[ALL] {
            return true;
        }
        self.list.get(id).copied().unwrap_or(false)
            && (id != CUSTOM || subclass.is_none_or(|s| self.custom.contains(s)))
    }

    /// The whole of `event_handler`'s decision for one event.
    pub fn passes(&self, ev: &SimEvent) -> bool {
        if !self.wants(ev.id, ev.subclass.as_deref()) {
            return false;
        }
        let h = &ev.event.headers;
        if let Some(me) = &self.my_uuid {
            let mine = |name| h.get(name).is_some_and(|v| v == me.as_bytes());
            if !mine("Unique-ID") && !mine("Job-Owner-UUID") {
                return false;
            }
        }
        if self.filters.is_empty() {
            return true;
        }
        let mut send = false;
        for f in &self.filters {
            let Some(hval) = h.get(&f.header) else {
                continue;
            };
            let mut positive = true;
            let mut comp = f.value.as_str();
            while let Some(c) = comp.chars().next() {
                match c {
                    '+' => positive = true,
                    '-' => positive = false,
                    ' ' => {}
                    _ => break,
                }
                comp = &comp[1..];
            }
            if send && positive {
                continue;
            }
            let hval = String::from_utf8_lossy(hval);
            let matched = if f.value.starts_with('/') {
                f.regex.as_ref().is_some_and(|r| r.is_match(&hval))
            } else {
                hval.eq_ignore_ascii_case(comp)
            };
            if matched {
                if positive {
                    send = true;
                } else {
                    send = false;
                    break;
                }
            }
        }
        send
    }

    /// `event [plain|json|xml] <names…>`; `line` is the whole command line.
    pub fn event_command(&mut self, line: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        if let Some(words) = words_after(line, 5) {
            for (i, w) in words.enumerate() {
                if i == 0
                    && let Some(f) = EventFormat::parse(&w.to_ascii_lowercase())
                {
                    self.format = f;
                    continue;
                }
                if custom {
                    self.custom.insert(w.to_string());
                } else if let Some(id) = event_id(w) {
                    keys += 1;
                    if id == ALL {
                        self.list = [true; EVENT_NAMES.len()];
                    }
                    self.list[id] = true;
                    if id == CUSTOM {
                        custom = true;
                    }
                }
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".into();
        }
        self.events_on = true;
        format!("+OK event listener enabled {}", self.format.as_str())
    }

    /// `nixevent <names…>`.
    pub fn nixevent_command(&mut self, line: &str) -> String {
        let mut keys = 0;
        let mut custom = false;
        if let Some(words) = words_after(line, 5) {
            for w in words {
                if custom {
                    self.custom.remove(w);
                } else if let Some(id) = event_id(w) {
                    keys += 1;
                    if id == CUSTOM {
                        custom = true;
                    } else if id == ALL {
                        self.list = [false; EVENT_NAMES.len()];
                    } else {
                        if self.list[ALL] {
                            self.list = [true; EVENT_NAMES.len()];
                            self.list[ALL] = false;
                        }
                        self.list[id] = false;
                    }
                }
            }
        }
        if keys == 0 {
            return "-ERR no keywords supplied".into();
        }
        self.events_on = true;
        "+OK events nixed".into()
    }

    /// `noevents`.
    pub fn noevents_command(&mut self) -> String {
        if !self.events_on {
            return "-ERR not listening for events".into();
        }
        self.events_on = false;
        self.list = [false; EVENT_NAMES.len()];
        self.custom.clear();
        "+OK no longer listening for events".into()
    }

    /// `filter <Header> <value>`, `filter add …`, `filter delete <Header>
    /// [value]`, `filter delete all`.
    pub fn filter_command(&mut self, line: &str) -> String {
        let rest = line.get(7..).unwrap_or("").trim_start_matches(' ');
        let (mut name, mut value) = match rest.split_once(' ') {
            Some((n, v)) => (n, Some(v)),
            None => (rest, None),
        };
        if name.eq_ignore_ascii_case("delete")
            && let Some(v) = value
        {
            let (n, val) = match v.split_once(' ') {
                Some((n, val)) => (n, Some(val)),
                None => (v, None),
            };
            if n.eq_ignore_ascii_case("all") {
                self.filters.clear();
            } else {
                self.filters.retain(|f| {
                    !(f.header.eq_ignore_ascii_case(n)
                        && val.is_none_or(|val| val.is_empty() || f.value == val))
                });
            }
            return format!("+OK filter deleted. [{n}][{}]", val.unwrap_or(""));
        }
        let Some(v) = value else {
            return "-ERR invalid syntax".into();
        };
        if name.eq_ignore_ascii_case("add") {
            match v.split_once(' ') {
                Some((n, val)) => {
                    name = n;
                    value = Some(val);
                }
                None => {
                    name = v;
                    value = None;
                }
            }
        }
        let Some(value) = value else {
            // `filter add Header`: FreeSWITCH adds nothing and prints the
            // missing value with printf's "(null)".
            return format!("+OK filter added. [{name}]=[(null)]");
        };
        self.filters.push(Filter {
            header: name.to_string(),
            value: value.to_string(),
            regex: compile_slashed(value),
        });
        format!("+OK filter added. [{name}]=[{value}]")
    }
}

/// One ESL session as the bus sees it.
#[derive(Debug)]
pub struct Listener {
    pub id: u64,
    pub sub: Mutex<Subscription>,
    tx: mpsc::Sender<Arc<SimEvent>>,
    lost: AtomicUsize,
    /// Cancelled when the listener lost too many events in a row.
    pub killed: CancellationToken,
}

impl Listener {
    pub fn new(id: u64) -> (Arc<Listener>, mpsc::Receiver<Arc<SimEvent>>) {
        let (tx, rx) = mpsc::channel(MAX_QUEUE_LEN);
        (
            Arc::new(Listener {
                id,
                sub: Mutex::new(Subscription::default()),
                tx,
                lost: AtomicUsize::new(0),
                killed: CancellationToken::new(),
            }),
            rx,
        )
    }
}

/// Every listener of the switch.
#[derive(Debug, Default)]
pub struct Bus {
    listeners: crate::switch::sim::registry::Registry<Listener>,
}

impl Bus {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Listener>>> {
        self.listeners.read()
    }

    pub fn add(&self, l: Arc<Listener>) {
        self.listeners.add(l);
    }

    pub fn remove(&self, id: u64) {
        self.listeners.remove(id);
    }

    /// Whether any listener could want an event of this type; when none
    /// does, the event is not even built.
    pub fn wants(&self, id: usize) -> bool {
        self.read().iter().any(|l| lock(&l.sub).wants(id, None))
    }

    /// Queues the event for every listener that takes it.
    pub fn dispatch(&self, ev: Arc<SimEvent>) {
        for l in self.read().iter() {
            if !lock(&l.sub).passes(&ev) {
                continue;
            }
            match l.tx.try_send(ev.clone()) {
                Ok(()) => l.lost.store(0, Ordering::Relaxed),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if l.lost.fetch_add(1, Ordering::Relaxed) + 1 > MAX_MISSED {
                        l.killed.cancel();
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}

impl crate::switch::sim::registry::Registered for Listener {
    fn id(&self) -> u64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::headers::Headers;

    fn ev(name: &str, headers: &[(&str, &str)]) -> SimEvent {
        let mut h = Headers::from_pairs([("Event-Name", name)]);
        for (k, v) in headers {
            h.push_owned(k.as_bytes(), v.as_bytes());
        }
        SimEvent::new(
            event_id(name).unwrap_or(CUSTOM),
            None,
            EslEvent {
                headers: h,
                body: None,
            },
        )
    }

    #[test]
    fn event_names_as_freeswitch_reads_them() {
        assert_eq!(event_id("channel_answer"), event_id("CHANNEL_ANSWER"));
        assert_eq!(
            event_id("SWITCH_EVENT_CHANNEL_ANSWER"),
            event_id("CHANNEL_ANSWER")
        );
        assert_eq!(event_id("ALL"), Some(ALL));
        assert_eq!(event_id("NOPE"), None);
    }

    #[test]
    fn event_commands_add_to_the_set() {
        let mut s = Subscription::default();
        assert_eq!(s.event_command("event plain"), "-ERR no keywords supplied");
        assert_eq!(s.event_command("event"), "-ERR no keywords supplied");
        assert_eq!(
            s.event_command("event json CHANNEL_ANSWER BOGUS"),
            "+OK event listener enabled json"
        );
        assert_eq!(
            s.event_command("event plain BACKGROUND_JOB"),
            "+OK event listener enabled plain"
        );
        assert!(s.passes(&ev("CHANNEL_ANSWER", &[])));
        assert!(s.passes(&ev("BACKGROUND_JOB", &[])));
        assert!(!s.passes(&ev("CHANNEL_CREATE", &[])));
        assert_eq!(
            s.nixevent_command("nixevent CHANNEL_ANSWER"),
            "+OK events nixed"
        );
        assert!(!s.passes(&ev("CHANNEL_ANSWER", &[])));
        s.event_command("event plain ALL");
        assert_eq!(s.nixevent_command("nixevent HEARTBEAT"), "+OK events nixed");
        assert!(s.passes(&ev("CHANNEL_CREATE", &[])));
        assert!(!s.passes(&ev("HEARTBEAT", &[])));
        assert_eq!(s.noevents_command(), "+OK no longer listening for events");
        assert_eq!(s.noevents_command(), "-ERR not listening for events");
        assert!(!s.passes(&ev("CHANNEL_CREATE", &[])));
    }

    #[test]
    fn filters_as_event_handler_applies_them() {
        let mut s = Subscription::default();
        s.event_command("event plain ALL");
        assert_eq!(s.filter_command("filter Unique-ID"), "-ERR invalid syntax");
        assert_eq!(
            s.filter_command("filter Unique-ID abc"),
            "+OK filter added. [Unique-ID]=[abc]"
        );
        // Events without the header are dropped once a filter exists.
        assert!(!s.passes(&ev("BACKGROUND_JOB", &[("Job-UUID", "j")])));
        assert!(s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "ABC")])));
        assert!(!s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "other")])));
        s.filter_command("filter Event-Name BACKGROUND_JOB");
        assert!(s.passes(&ev("BACKGROUND_JOB", &[("Job-UUID", "j")])));
        s.filter_command("filter Answer-State -ringing");
        assert!(!s.passes(&ev(
            "CHANNEL_STATE",
            &[("Unique-ID", "abc"), ("Answer-State", "ringing")]
        )));
        s.filter_command("filter add Channel-Name /^sofia\\/.*/i");
        assert!(s.passes(&ev("CHANNEL_STATE", &[("Channel-Name", "SOFIA/x")])));
        assert_eq!(
            s.filter_command("filter delete Unique-ID"),
            "+OK filter deleted. [Unique-ID][]"
        );
        assert!(!s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "abc")])));
        assert_eq!(
            s.filter_command("filter delete all"),
            "+OK filter deleted. [all][]"
        );
        assert!(s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "other")])));
    }

    #[tokio::test]
    async fn a_listener_that_stops_reading_is_killed_not_waited_for() {
        let bus = Bus::default();
        let (slow, _slow_rx) = Listener::new(1);
        let (fast, mut fast_rx) = Listener::new(2);
        for l in [&slow, &fast] {
            lock(&l.sub).event_command("event plain ALL");
            bus.add(l.clone());
        }
        let e = Arc::new(ev("HEARTBEAT", &[]));
        for _ in 0..MAX_QUEUE_LEN + MAX_MISSED {
            bus.dispatch(e.clone());
            // The reading listener keeps up.
            let _ = fast_rx.try_recv();
        }
        assert!(!slow.killed.is_cancelled(), "500 lost events are tolerated");
        bus.dispatch(e.clone());
        assert!(slow.killed.is_cancelled());
        assert!(!fast.killed.is_cancelled());
        assert!(fast_rx.try_recv().is_ok());
    }
}
