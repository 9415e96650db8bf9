//! Who gets which AMI event. Asterisk appends every manager event to one
//! queue that every session reads from its own position; a session writes an
//! event when it is logged in and its `send_events` mask holds the event's
//! category (`process_events` in manager.c). So every session sees every
//! call's events, whoever originated the call.
//!
//! Here each logged-in session is a listener with its mask and a queue; an
//! event is serialized once and the bytes are shared. The queue is not
//! bounded, as Asterisk's is not: a session that stops reading is ended by
//! its write timeout (`writetimeout`), not by the queue.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::mpsc;

// EVENT_FLAG_* of include/asterisk/manager.h.
pub const SYSTEM: u32 = 1 << 0;
pub const CALL: u32 = 1 << 1;
pub const LOG: u32 = 1 << 2;
pub const VERBOSE: u32 = 1 << 3;
pub const COMMAND: u32 = 1 << 4;
pub const AGENT: u32 = 1 << 5;
pub const USER: u32 = 1 << 6;
pub const CONFIG: u32 = 1 << 7;
pub const DTMF: u32 = 1 << 8;
pub const REPORTING: u32 = 1 << 9;
pub const CDR: u32 = 1 << 10;
pub const DIALPLAN: u32 = 1 << 11;
pub const ORIGINATE: u32 = 1 << 12;
pub const AGI: u32 = 1 << 13;
pub const CC: u32 = 1 << 15;
pub const AOC: u32 = 1 << 16;
pub const TEST: u32 = 1 << 17;
pub const SECURITY: u32 = 1 << 18;
pub const MESSAGE: u32 = 1 << 19;
/// `INT_MAX`, what "all" and "on" mean.
pub const ALL: u32 = i32::MAX as u32;

/// manager.c's `perms[]`.
const PERMS: &[(u32, &str)] = &[
    (SYSTEM, "system"),
    (CALL, "call"),
    (LOG, "log"),
    (VERBOSE, "verbose"),
    (COMMAND, "command"),
    (AGENT, "agent"),
    (USER, "user"),
    (CONFIG, "config"),
    (DTMF, "dtmf"),
    (REPORTING, "reporting"),
    (CDR, "cdr"),
    (DIALPLAN, "dialplan"),
    (ORIGINATE, "originate"),
    (AGI, "agi"),
    (CC, "cc"),
    (AOC, "aoc"),
    (TEST, "test"),
    (SECURITY, "security"),
    (MESSAGE, "message"),
    (ALL, "all"),
    (0, "none"),
];

/// The category of an event from its `Privilege` value (`call,all` → CALL).
pub fn category_of(privilege: &str) -> Option<u32> {
    let first = privilege.split(',').next()?;
    PERMS
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(first))
        .map(|(flag, _)| *flag)
}

/// `ast_true` / `ast_false` of utils.c.
fn is_true(s: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

fn is_false(s: &str) -> bool {
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

/// `strings_to_mask`: a number, on/off (and the other ast_true/ast_false
/// words), or a comma list of categories. `None` for an empty value, which
/// leaves the mask as it was.
pub fn strings_to_mask(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // atoi: saturates like a C int would not, but no mask is that big.
        return Some(s.parse::<u64>().map(|n| n as u32).unwrap_or(u32::MAX));
    }
    if is_false(s) {
        return Some(0);
    }
    if is_true(s) {
        return Some(PERMS.iter().fold(0, |m, (f, _)| m | f));
    }
    // get_perm: ast_instring, i.e. each comma-separated word compared whole.
    Some(
        PERMS
            .iter()
            .filter(|(_, name)| s.split(',').any(|w| w == *name))
            .fold(0, |m, (f, _)| m | f),
    )
}

/// One event, serialized once.
#[derive(Debug)]
pub struct AmiEvent {
    pub category: u32,
    pub bytes: Bytes,
}

/// A logged-in session as the bus sees it.
#[derive(Debug)]
pub struct AmiListener {
    pub id: u64,
    /// `send_events`.
    mask: AtomicU32,
    tx: mpsc::UnboundedSender<Arc<AmiEvent>>,
}

impl AmiListener {
    pub fn new(id: u64, mask: u32) -> (Arc<AmiListener>, mpsc::UnboundedReceiver<Arc<AmiEvent>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(AmiListener {
                id,
                mask: AtomicU32::new(mask),
                tx,
            }),
            rx,
        )
    }

    pub fn set_mask(&self, mask: u32) {
        self.mask.store(mask, Ordering::Relaxed);
    }

    pub fn mask(&self) -> u32 {
        self.mask.load(Ordering::Relaxed)
    }

    fn takes(&self, category: u32) -> bool {
        self.mask() & category == category
    }
}

/// Every logged-in AMI session.
#[derive(Debug, Default)]
pub struct AmiBus {
    listeners: crate::switch::sim::registry::Registry<AmiListener>,
}

impl AmiBus {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<AmiListener>>> {
        self.listeners.read()
    }

    pub fn add(&self, l: Arc<AmiListener>) {
        self.listeners.add(l);
    }

    pub fn remove(&self, id: u64) {
        self.listeners.remove(id);
    }

    /// Whether any session takes events of this category; when none does
    /// the event is not even built.
    pub fn wants(&self, category: u32) -> bool {
        self.read().iter().any(|l| l.takes(category))
    }

    pub fn dispatch(&self, ev: Arc<AmiEvent>) {
        for l in self.read().iter() {
            if l.takes(ev.category) {
                // A closed queue is a session on its way out.
                let _ = l.tx.send(ev.clone());
            }
        }
    }
}

impl crate::switch::sim::registry::Registered for AmiListener {
    fn id(&self) -> u64 {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_manager_c_reads_them() {
        assert_eq!(strings_to_mask(""), None);
        assert_eq!(strings_to_mask("off"), Some(0));
        assert_eq!(strings_to_mask("no"), Some(0));
        assert_eq!(strings_to_mask("on"), Some(ALL));
        assert_eq!(strings_to_mask("call"), Some(CALL));
        assert_eq!(strings_to_mask("call,cdr"), Some(CALL | CDR));
        assert_eq!(
            strings_to_mask("system,call,log"),
            Some(SYSTEM | CALL | LOG)
        );
        assert_eq!(strings_to_mask("bogus"), Some(0));
        assert_eq!(strings_to_mask("all"), Some(ALL));
        assert_eq!(strings_to_mask("2"), Some(CALL));
        assert_eq!(category_of("call,all"), Some(CALL));
        assert_eq!(category_of("dialplan,all"), Some(DIALPLAN));
        assert_eq!(category_of("cdr,all"), Some(CDR));
        assert_eq!(category_of("security,all"), Some(SECURITY));
    }

    #[test]
    fn only_sessions_whose_mask_holds_the_category_get_it() {
        let bus = AmiBus::default();
        let (calls, mut calls_rx) = AmiListener::new(1, CALL);
        let (all, mut all_rx) = AmiListener::new(2, ALL);
        let (none, mut none_rx) = AmiListener::new(3, 0);
        for l in [&calls, &all, &none] {
            bus.add(l.clone());
        }
        assert!(bus.wants(CDR));
        bus.dispatch(Arc::new(AmiEvent {
            category: CDR,
            bytes: Bytes::from_static(b"x"),
        }));
        bus.dispatch(Arc::new(AmiEvent {
            category: CALL,
            bytes: Bytes::from_static(b"y"),
        }));
        assert_eq!(
            calls_rx.try_recv().map(|e| e.bytes.clone()).ok(),
            Some(Bytes::from_static(b"y"))
        );
        assert!(calls_rx.try_recv().is_err());
        assert!(all_rx.try_recv().is_ok() && all_rx.try_recv().is_ok());
        assert!(none_rx.try_recv().is_err());
        bus.remove(2);
        bus.remove(3);
        assert!(!bus.wants(CDR));
        calls.set_mask(0);
        assert!(!bus.wants(CALL));
    }
}
