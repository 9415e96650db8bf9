//! Who gets which event: each ESL session is a listener with a subscription
//! (event names, CUSTOM subclasses, filters, format) and a bounded queue, as
//! in mod_event_socket's `event_handler`. An event is serialized at most
//! once per format and the bytes are shared by every session that gets it.
//! A listener whose queue stays full for more than `MAX_MISSED` events in a
//! row is killed, as FreeSWITCH kills a listener that loses events, so one
//! session that stops reading never holds up the others.

mod names;
mod subscription;
#[cfg(test)]
mod tests;

use super::wire;
use crate::switch::esl::EventFormat;
use crate::switch::esl::event::EslEvent;
use bytes::Bytes;
pub use names::{ALL, CUSTOM, EVENT_NAMES, event_id};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
pub use subscription::Subscription;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// mod_event_socket's `MAX_QUEUE_LEN`.
pub const MAX_QUEUE_LEN: usize = 100_000;
/// mod_event_socket's `MAX_MISSED`.
pub const MAX_MISSED: usize = 500;

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
