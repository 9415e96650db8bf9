//! What `dialpop demo` is asked to run: its size, speed, sources and modes.

use super::{scenario, study};
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub agents: usize,
    pub customers: usize,
    pub seed: u64,
    pub speed: f64,
    pub exit_when_done: bool,
    pub report_json: bool,
    pub listen: SocketAddr,
    pub protocol: crate::switch::sim::SimProtocol,
    /// A CRM stand-in (real HTTP, OAuth) answering in this many ms becomes
    /// a customer source beside the store.
    pub crm_latency_ms: Option<u64>,
    /// Fetch customers when the call is placed (the default).
    pub preload: bool,
    /// Tasks for the first this many customers only (all without it).
    pub tasks: Option<usize>,
    /// Look every customer up once before the campaign starts, so that the
    /// cache holds all of them (a large cache, as in production).
    pub warm_cache: bool,
    pub originates_per_second: f64,
    /// No simulated agents here: their tokens go to this file (one
    /// `agent_id token` line each), for agents in another process
    /// (`dialpop bench-agents`); the campaign starts when all have signed in.
    pub external_agents: Option<std::path::PathBuf>,
    /// One of the seed's scenarios: its foreign system as the customer
    /// source, its mapping and its screen.
    pub scenario: Option<scenario::Scenario>,
    /// A dialing mode other than progressive, and the study's far ends.
    pub dial: Option<study::DialOptions>,
}
