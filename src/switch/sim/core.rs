//! The switch's shared state: identity, the event sequence, the listeners,
//! the live channels and the originate log. One `Arc<Core>` is shared by
//! the sessions and the call tasks; each piece of state has its own small
//! lock, held only for a lookup or an update, never across an await.

use super::ami::{AmiOriginate, AmiState};
use super::bus::{Bus, SimEvent, lock};
use super::clock;
use super::scenario::Scenario;
use super::templates::{Kind, Stamp, Templates};
use super::{OriginateLog, SimConfig};
use crate::switch::HangupCause;
use crate::switch::esl::Originate;
use crate::switch::esl::event::EslEvent;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A request to hang up one channel of a call.
#[derive(Clone, Debug)]
pub struct Kill {
    pub uuid: String,
    pub cause: HangupCause,
}

/// What a session asks of a live channel; its call task does it.
#[derive(Clone, Debug)]
pub enum Ask {
    Kill(Kill),
    /// `uuid_setvar`, AMI `Setvar`.
    SetVar {
        uuid: String,
        name: String,
        value: String,
    },
    /// `uuid_transfer`: the channel leaves what it runs for this extension.
    Transfer {
        uuid: String,
        exten: String,
        dialplan: String,
        context: String,
    },
    /// AMI `Redirect`: the channel goes on at this dialplan location.
    Redirect {
        uuid: String,
        context: String,
        exten: String,
        priority: u32,
    },
}

/// What the switch knows about a live channel from outside its call task.
#[derive(Debug)]
pub struct ChannelEntry {
    pub kill: mpsc::UnboundedSender<Ask>,
    /// The `show channels` row, refreshed by the call task.
    pub row: Vec<(&'static str, String)>,
    /// The originate's `{}` variables (for `hupall <cause> <var> <value>`).
    pub vars: Arc<Vec<(String, String)>>,
    /// Creation order, for listing.
    pub order: u64,
}

pub struct Core {
    /// The ESL password; the AMI user's secret.
    pub password: String,
    pub scenario: Scenario,
    pub seed: u64,
    pub speed: f64,
    pub heartbeat_interval: Duration,
    pub core_uuid: String,
    pub templates: Templates,
    pub bus: Bus,
    /// The AMI side: its sessions' bus, templates and id counters.
    pub ami: AmiState,
    pub started: Instant,
    /// Cancelled by `SimSwitch::shutdown` (and on drop): everything stops.
    pub shutdown: CancellationToken,
    seq: AtomicU64,
    session_ids: AtomicU64,
    listener_ids: AtomicU64,
    channel_order: AtomicU64,
    channels: Mutex<HashMap<String, ChannelEntry>>,
    live_calls: AtomicUsize,
    peak_channels: AtomicUsize,
    attempts: Mutex<HashMap<String, u64>>,
    originates: Mutex<OriginateLog>,
    /// Open ESL or AMI sessions: cancelling a token closes that socket at once.
    sessions: Mutex<HashMap<u64, CancellationToken>>,
    /// While set, every originate is refused the way the real switch
    /// refuses it in that state (a test hook for switch-side faults).
    refusal: Mutex<Option<super::Refusal>>,
    /// Keep every originate whole in the log (tests), or only the counts
    /// (long runs, whose memory must not grow with every call).
    keep_originates: bool,
}

impl Core {
    pub fn set_refusal(&self, r: Option<super::Refusal>) {
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = r;
    }

    pub fn refusal(&self) -> Option<super::Refusal> {
        self.refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn new(config: &SimConfig) -> Result<Core, String> {
        Ok(Core {
            password: config.password.clone(),
            scenario: config.scenario.clone(),
            seed: config.seed,
            speed: config.speed,
            heartbeat_interval: config.heartbeat_interval,
            core_uuid: uuid::Uuid::new_v4().to_string(),
            templates: Templates::load()?,
            bus: Bus::default(),
            ami: AmiState::new(&config.ami_username, config.ami_write_timeout)?,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            seq: AtomicU64::new(0),
            session_ids: AtomicU64::new(0),
            listener_ids: AtomicU64::new(0),
            channel_order: AtomicU64::new(0),
            channels: Mutex::new(HashMap::new()),
            live_calls: AtomicUsize::new(0),
            peak_channels: AtomicUsize::new(0),
            attempts: Mutex::new(HashMap::new()),
            originates: Mutex::new(OriginateLog::default()),
            sessions: Mutex::new(HashMap::new()),
            refusal: Mutex::new(None),
            keep_originates: config.keep_originates,
        })
    }

    /// The sequence number and date of an event created now.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            micros: clock::now_micros(),
        }
    }

    /// Creates and fires an event. Its sequence number is taken even when no
    /// listener wants it (as FreeSWITCH numbers every event), but then it is
    /// not built at all.
    pub fn emit(
        &self,
        kind: Kind,
        leg: Option<&super::channel::Leg>,
        extras: &[(&str, Option<&str>)],
        body: Option<String>,
    ) {
        let stamp = self.stamp();
        self.emit_at(stamp, kind, leg, extras, body);
    }

    /// Fires an event created earlier (`API` is created when the command
    /// starts and fired when it ends).
    pub fn emit_at(
        &self,
        stamp: Stamp,
        kind: Kind,
        leg: Option<&super::channel::Leg>,
        extras: &[(&str, Option<&str>)],
        body: Option<String>,
    ) {
        let t = self.templates.get(kind);
        if !self.bus.wants(t.event_id) {
            return;
        }
        let headers = t.render(&self.core_uuid, &stamp, leg, extras);
        let event = EslEvent {
            headers,
            body: body.filter(|b| !b.is_empty()).map(Bytes::from),
        };
        self.bus
            .dispatch(Arc::new(SimEvent::new(t.event_id, None, event)));
    }

    /// Creates and fires a CUSTOM event of `subclass`, which only sessions
    /// subscribed to that subclass (or to ALL) get.
    pub fn emit_custom(
        &self,
        kind: Kind,
        subclass: &str,
        leg: &super::channel::Leg,
        extras: &[(&str, Option<&str>)],
    ) {
        let stamp = self.stamp();
        let t = self.templates.get(kind);
        if !self.bus.wants(t.event_id) {
            return;
        }
        let headers = t.render(&self.core_uuid, &stamp, Some(leg), extras);
        let event = EslEvent {
            headers,
            body: None,
        };
        self.bus.dispatch(Arc::new(SimEvent::new(
            t.event_id,
            Some(subclass.to_string()),
            event,
        )));
    }

    /// Fires a ready-made event (`sendevent`).
    pub fn fire(&self, ev: SimEvent) {
        if self.bus.wants(ev.id) {
            self.bus.dispatch(Arc::new(ev));
        }
    }

    pub fn next_session_id(&self) -> u64 {
        self.session_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn sessions_since_startup(&self) -> u64 {
        self.session_ids.load(Ordering::Relaxed)
    }

    pub fn next_listener_id(&self) -> u64 {
        self.listener_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// How many times `number` was dialled before (and counts this one).
    pub fn next_attempt(&self, number: &str) -> u64 {
        let mut a = lock(&self.attempts);
        let n = a.entry(number.to_string()).or_insert(0);
        let this = *n;
        *n += 1;
        this
    }

    pub fn log_originate(&self, key: &str, o: &Originate) {
        let mut log = lock(&self.originates);
        log.count(key, o.variable("dialpop_task_id"));
        if self.keep_originates {
            log.commands.push(o.clone());
        }
    }

    /// An AMI Originate, under its ChannelId (or the Uniqueid given).
    pub fn log_ami_originate(&self, key: &str, o: &AmiOriginate) {
        let mut log = lock(&self.originates);
        log.count(key, o.variable("dialpop_task_id"));
        if self.keep_originates {
            log.actions.push(o.clone());
        }
    }

    pub fn originate_log(&self) -> OriginateLog {
        lock(&self.originates).clone()
    }

    /// Registers a new channel; `false` when the uuid is taken.
    pub fn add_channel(
        &self,
        uuid: &str,
        kill: mpsc::UnboundedSender<Ask>,
        vars: Arc<Vec<(String, String)>>,
        row: Vec<(&'static str, String)>,
    ) -> bool {
        let mut ch = lock(&self.channels);
        if ch.contains_key(uuid) {
            return false;
        }
        let order = self.channel_order.fetch_add(1, Ordering::Relaxed);
        ch.insert(
            uuid.to_string(),
            ChannelEntry {
                kill,
                row,
                vars,
                order,
            },
        );
        self.peak_channels.fetch_max(ch.len(), Ordering::Relaxed);
        true
    }

    pub fn update_row(&self, uuid: &str, row: Vec<(&'static str, String)>) {
        if let Some(e) = lock(&self.channels).get_mut(uuid) {
            e.row = row;
        }
    }

    pub fn remove_channel(&self, uuid: &str) {
        lock(&self.channels).remove(uuid);
    }

    pub fn channel_exists(&self, uuid: &str) -> bool {
        lock(&self.channels).contains_key(uuid)
    }

    pub fn channel_count(&self) -> usize {
        lock(&self.channels).len()
    }

    pub fn peak_channels(&self) -> usize {
        self.peak_channels.load(Ordering::Relaxed)
    }

    /// `show channels` rows, oldest first.
    pub fn rows(&self) -> Vec<Vec<(&'static str, String)>> {
        let ch = lock(&self.channels);
        let mut rows: Vec<(u64, Vec<(&'static str, String)>)> =
            ch.values().map(|e| (e.order, e.row.clone())).collect();
        rows.sort_by_key(|(o, _)| *o);
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// Asks the call owning `uuid` to hang that channel up.
    pub fn kill(&self, uuid: &str, cause: HangupCause) -> bool {
        match lock(&self.channels).get(uuid) {
            Some(e) => e
                .kill
                .send(Ask::Kill(Kill {
                    uuid: uuid.to_string(),
                    cause,
                }))
                .is_ok(),
            None => false,
        }
    }

    /// Hands `ask` to the call owning its channel; `false` when there is no
    /// such channel.
    pub fn ask(&self, uuid: &str, ask: Ask) -> bool {
        match lock(&self.channels).get(uuid) {
            Some(e) => e.kill.send(ask).is_ok(),
            None => false,
        }
    }

    /// Hangs up every channel, or those whose originate set `var` to `value`.
    pub fn kill_all(&self, cause: &HangupCause, matching: Option<(&str, &str)>) -> usize {
        let ch = lock(&self.channels);
        let mut n = 0;
        for (uuid, e) in ch.iter() {
            if let Some((var, val)) = matching
                && !e.vars.iter().any(|(k, v)| k == var && v == val)
            {
                continue;
            }
            let sent = e.kill.send(Ask::Kill(Kill {
                uuid: uuid.clone(),
                cause: cause.clone(),
            }));
            if sent.is_ok() {
                n += 1;
            }
        }
        n
    }

    pub fn call_started(&self) {
        self.live_calls.fetch_add(1, Ordering::Relaxed);
    }

    pub fn call_ended(&self) {
        self.live_calls.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn live_calls(&self) -> usize {
        self.live_calls.load(Ordering::Relaxed)
    }

    pub fn add_session(&self, id: u64, token: CancellationToken) {
        lock(&self.sessions).insert(id, token);
    }

    pub fn remove_session(&self, id: u64) {
        lock(&self.sessions).remove(&id);
    }

    /// Closes every session socket at once; returns how many there were.
    /// Like a network cut, nothing emitted after this returns reaches the
    /// dropped sessions: they leave the bus before their sockets close.
    pub fn drop_sessions(&self) -> usize {
        let dropped: Vec<(u64, CancellationToken)> = lock(&self.sessions).drain().collect();
        for (id, token) in &dropped {
            self.bus.remove(*id);
            self.ami.bus.remove(*id);
            token.cancel();
        }
        dropped.len()
    }

    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// `0 years, 0 days, 0 hours, 2 minutes, 19 seconds, 876 milliseconds,
    /// 163 microseconds` (status, HEARTBEAT `Up-Time`).
    pub fn uptime_text(&self) -> String {
        let us = self.started.elapsed().as_micros();
        let parts = [
            (us / (365 * 86_400_000_000), "year"),
            (us / 86_400_000_000 % 365, "day"),
            (us / 3_600_000_000 % 24, "hour"),
            (us / 60_000_000 % 60, "minute"),
            (us / 1_000_000 % 60, "second"),
            (us / 1_000 % 1_000, "millisecond"),
            (us % 1_000, "microsecond"),
        ];
        parts
            .iter()
            .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Accepts connections until the switch shuts down, each served by
/// `session` on its own task. Shared by the ESL and AMI servers.
pub async fn accept_loop<F, Fut>(
    core: Arc<Core>,
    listener: tokio::net::TcpListener,
    protocol: &'static str,
    session: F,
) where
    F: Fn(Arc<Core>, tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = core.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((sock, peer)) => {
                tracing::debug!(%peer, protocol, "connection");
                tokio::spawn(session(core.clone(), sock));
            }
            Err(e) => {
                // Out of descriptors and the like: wait a little, go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
