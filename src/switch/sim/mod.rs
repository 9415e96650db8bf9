//! The simulated switch: a FreeSWITCH 1.10.12 stand-in speaking ESL, or an
//! Asterisk 22 stand-in speaking AMI, for tests, load tests and the demo.
//!
//! It answers commands with the switch's exact replies and plays each
//! originated call out by a seeded scenario, sending the events of the real
//! captures in their order. The same scenario and seed give the same
//! outcomes on both protocols. The pieces, one job each:
//!
//! - `scenario`: destination number → ring time, outcome, talk time;
//! - `dial`: dial strings → endpoint, number, channel name;
//! - `templates` + `channel`: the events, cut from the real captures and
//!   filled from the channel's state;
//! - `call`: one call's timeline (a task per call); `call/hold.rs` the
//!   predictive dialer's `dialpop_*` extensions (AMD, transfer, message);
//! - `api`: `originate`, `uuid_kill`, `hupall`, `show channels`, `status` …;
//! - `bus`: subscriptions, filters and the per-session event queues;
//! - `esl_server`: the sessions; `wire`: the bytes of each frame;
//! - `core`: the state they share;
//! - `ami/`: the Asterisk side (sessions, events, calls over Local channels).

mod ami;
mod api;
mod bus;
mod call;
mod channel;
mod clock;
mod core;
pub mod dial;
mod esl_server;
mod registry;
pub mod scenario;
mod templates;
mod wire;

pub use ami::AmiOriginate;
pub use scenario::{Outcome, Plan, Scenario, ScenarioError};

use crate::switch::HangupCause;
use crate::switch::esl::Originate;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use templates::Kind;
use tokio::task::JoinHandle;

/// Which switch the simulator is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimProtocol {
    /// FreeSWITCH 1.10.12, Event Socket.
    #[default]
    Esl,
    /// Asterisk 22.10.1, Manager Interface 11.0.0.
    Ami,
}

/// How to run a simulated switch.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub protocol: SimProtocol,
    /// The ESL password (`auth <password>`), or the AMI user's secret.
    pub password: String,
    /// The AMI user (`Username:` of Login; compared case-insensitively).
    pub ami_username: String,
    /// AMI `writetimeout`: a session whose socket takes nothing for this
    /// long is closed, as Asterisk closes it (100 ms by default there).
    pub ami_write_timeout: Duration,
    pub scenario: Scenario,
    /// Same seed, same dialled numbers → same outcomes.
    pub seed: u64,
    /// Divides every ring, talk and originate timeout: 10.0 plays a 5 s call
    /// in 0.5 s. Event timestamps stay real time.
    pub speed: f64,
    /// HEARTBEAT (followed by RE_SCHEDULE) every this often.
    pub heartbeat_interval: Duration,
    /// Keep each originate whole in `originates()` (tests); without it only
    /// the counts are kept, so a long load run's memory does not grow with
    /// its calls.
    pub keep_originates: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            protocol: SimProtocol::Esl,
            password: "ClueCon".into(),
            ami_username: "dialpop".into(),
            ami_write_timeout: Duration::from_millis(100),
            scenario: Scenario::default(),
            seed: 1,
            speed: 1.0,
            heartbeat_interval: Duration::from_secs(20),
            keep_originates: true,
        }
    }
}

/// How a switch in trouble refuses an originate, as the real ones do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// FreeSWITCH whose core refuses new sessions (shutting down, `fsctl
    /// pause outbound`, max-sessions or sessions-per-second reached): the
    /// bgapi is accepted, no channel is created, and BACKGROUND_JOB says
    /// `-ERR DESTINATION_OUT_OF_ORDER` (sofia's default cause when the
    /// session cannot be made). `SYSTEM_SHUTDOWN` is what `sofia global
    /// standby` gives.
    EslNoSession { cause: String },
    /// Asterisk refusing the action itself: `Response: Error` with this
    /// `Message:` (`Asterisk is shutting down`, `Permission denied`).
    AmiError { message: String },
    /// Asterisk that queues the originate but cannot allocate its channel
    /// (shutting down, channel driver not loaded): OriginateResponse
    /// Failure, Reason 0, no channel events.
    AmiNoChannel,
}

/// What the switch was asked to originate (a test hook).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginateLog {
    /// Originates per call id. ESL: the `origination_uuid`, or else the
    /// bgapi Job-UUID, or else the uuid the switch gave the channel. AMI:
    /// the `ChannelId`, or else the Uniqueid the switch gave the channel.
    pub counts: HashMap<String, usize>,
    /// ESL: every originate command that could be parsed, in arrival order.
    pub commands: Vec<Originate>,
    /// AMI: every Originate action that was accepted, in arrival order.
    pub actions: Vec<AmiOriginate>,
    /// Originates per `dialpop_task_id` variable, kept even when the whole
    /// originates are not.
    pub by_task: HashMap<String, usize>,
}

impl OriginateLog {
    fn count(&mut self, key: &str, task: Option<&str>) {
        *self.counts.entry(key.to_string()).or_insert(0) += 1;
        if let Some(t) = task {
            *self.by_task.entry(t.to_string()).or_insert(0) += 1;
        }
    }

    /// Each originate's channel variables (ESL `{...}`, AMI `Variable:`),
    /// in arrival order, whichever protocol the switch speaks.
    pub fn variables_of_each(&self) -> Vec<Vec<(String, String)>> {
        self.commands
            .iter()
            .map(|o| o.variables.clone())
            .chain(self.actions.iter().map(|a| a.variables.clone()))
            .collect()
    }

    /// Each originate's call id as dialpop chose it: `origination_uuid`
    /// (ESL) or `ChannelId` (AMI); `None` where the originate set none.
    pub fn call_id_of_each(&self) -> Vec<Option<String>> {
        self.commands
            .iter()
            .map(|o| o.variable("origination_uuid").map(str::to_string))
            .chain(self.actions.iter().map(|a| a.channel_id.clone()))
            .collect()
    }

    /// How many originates were logged (both protocols).
    pub fn len(&self) -> usize {
        self.commands.len() + self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A running simulated switch. Dropping it stops it.
pub struct SimSwitch {
    core: Arc<core::Core>,
    addr: SocketAddr,
    protocol: SimProtocol,
    tasks: Vec<JoinHandle<()>>,
}

impl SimSwitch {
    /// Binds the listen address and starts serving.
    pub async fn start(config: SimConfig) -> io::Result<SimSwitch> {
        let core = Arc::new(
            core::Core::new(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        );
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let tasks = match config.protocol {
            SimProtocol::Esl => vec![
                tokio::spawn(esl_server::serve(core.clone(), listener)),
                tokio::spawn(heartbeat(core.clone())),
            ],
            SimProtocol::Ami => vec![tokio::spawn(ami::server::serve(core.clone(), listener))],
        };
        Ok(SimSwitch {
            core,
            addr,
            protocol: config.protocol,
            tasks,
        })
    }

    /// The protocol this switch speaks.
    pub fn protocol(&self) -> SimProtocol {
        self.protocol
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every session and ends every call (without
    /// events, as if the switch process died).
    pub async fn shutdown(mut self) {
        self.core.shutdown.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    /// From now on, every originate is refused this way (`None`: accepted
    /// again). Calls already up go on.
    pub fn refuse_originates(&self, how: Option<Refusal>) {
        self.core.set_refusal(how);
    }

    /// Closes every client socket at once, as a network cut would; the
    /// calls go on.
    pub fn drop_connections(&self) -> usize {
        self.core.drop_sessions()
    }

    /// How often each call id was originated, and the originates (see
    /// `OriginateLog::variables_of_each` for what works on both protocols).
    pub fn originates(&self) -> OriginateLog {
        self.core.originate_log()
    }

    /// Calls not yet over (an originated call counts until its last leg is
    /// destroyed).
    pub fn live_calls(&self) -> usize {
        self.core.live_calls()
    }

    /// Live channels (customer and agent legs).
    pub fn live_channels(&self) -> usize {
        self.core.channel_count()
    }

    /// Open ESL or AMI sessions.
    pub fn sessions(&self) -> usize {
        self.core.session_count()
    }

    /// Hangs up every channel with `cause`, as `hupall` does (on AMI, as a
    /// `Hangup` action with that cause on each channel); returns how many
    /// were asked to hang up.
    pub fn hangup_all(&self, cause: HangupCause) -> usize {
        self.core.kill_all(&cause, None)
    }
}

impl Drop for SimSwitch {
    fn drop(&mut self) {
        self.core.shutdown.cancel();
    }
}

/// `send_heartbeat` of switch_core.c and the scheduler's RE_SCHEDULE after it.
async fn heartbeat(core: Arc<core::Core>) {
    let every = core
        .heartbeat_interval
        .clamp(Duration::from_millis(10), scenario::LONGEST);
    let now = tokio::time::Instant::now();
    let Some(first) = now.checked_add(every) else {
        return;
    };
    let mut tick = tokio::time::interval_at(first, every);
    loop {
        tokio::select! {
            _ = core.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let uptime_ms = core.started.elapsed().as_millis().to_string();
        let count = core.channel_count().to_string();
        let since = core.sessions_since_startup().to_string();
        let peak = core.peak_channels().to_string();
        let up = core.uptime_text();
        core.emit(
            Kind::Heartbeat,
            None,
            &[
                ("Up-Time", Some(&up)),
                ("Uptime-msec", Some(&uptime_ms)),
                ("Session-Count", Some(&count)),
                ("Session-Since-Startup", Some(&since)),
                ("Session-Peak-Max", Some(&peak)),
                ("Session-Peak-FiveMin", Some(&peak)),
                ("Session-Per-Sec-Last", Some("0")),
                ("Session-Per-Sec-Max", Some("0")),
                ("Session-Per-Sec-FiveMin", Some("0")),
            ],
            None,
        );
        let next = (clock::now_micros() / 1_000_000 + every.as_secs() as i64).to_string();
        core.emit(
            Kind::ReSchedule,
            None,
            &[("Task-Runtime", Some(&next))],
            None,
        );
    }
}
