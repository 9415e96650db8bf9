//! The simulated switch's Asterisk 22 side: AMI 11.0.0 as the real captures
//! show it (`fixtures/real/asterisk_*.txt`, PROTOCOLS.md §2 and §5). The
//! pieces, one job each:
//!
//! - `server`: the sessions (banner, Login, the actions and their replies);
//! - `bus`: event categories, session masks and the per-session queues;
//! - `originate`: the Originate action and the channel it asks for;
//! - `templates` + `templates/ami/*.txt`: the events, cut from the captures;
//! - `call`: one originated call played out by its scenario plan over Local
//!   channel pairs, as Asterisk runs it (`call/customer.rs`: the customer's
//!   side; `call/agent.rs`: the agent's leg and bridge; `call/hold.rs`: the
//!   `dialpop_*` extensions; `call/originate_response.rs`: the action's
//!   closing event);
//! - `actions`: Setvar and Redirect.
//!
//! Calls, channels, sessions and the originate log live in the shared
//! `Core`, so the test hooks (`live_calls`, `hangup_all`,
//! `drop_connections`, `originates`) work as they do for ESL.

mod actions;
pub mod bus;
mod call;
pub mod originate;
pub mod server;
pub mod templates;

pub use originate::AmiOriginate;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::bus::lock;

/// What the AMI side shares between sessions and calls.
#[derive(Debug)]
pub struct AmiState {
    pub bus: bus::AmiBus,
    pub templates: templates::Templates,
    /// The one manager.conf user (`[dialpop]`, read/write all).
    pub username: String,
    /// `writetimeout`: a session whose socket takes nothing for this long
    /// is closed.
    pub write_timeout: Duration,
    /// The counter of `ast_channel_alloc`'s Uniqueids.
    uniqueids: AtomicU64,
    /// Each driver's channel name sequence (`Local/…-%08x`).
    sequences: Mutex<HashMap<&'static str, u32>>,
}

impl AmiState {
    pub fn new(username: &str, write_timeout: Duration) -> Result<AmiState, String> {
        Ok(AmiState {
            bus: bus::AmiBus::default(),
            templates: templates::Templates::load()?,
            username: username.to_string(),
            write_timeout,
            uniqueids: AtomicU64::new(0),
            sequences: Mutex::new(HashMap::new()),
        })
    }

    /// `<seconds since the epoch>.<counter>`, as Asterisk makes Uniqueids.
    pub fn new_uniqueid(&self) -> String {
        let n = self.uniqueids.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", super::clock::now_micros() / 1_000_000)
    }

    /// The next name sequence number of a driver.
    pub fn next_sequence(&self, tech: &'static str) -> u32 {
        let mut s = lock(&self.sequences);
        let n = s.entry(tech).or_insert(0);
        let this = *n;
        *n = n.wrapping_add(1);
        this
    }
}
