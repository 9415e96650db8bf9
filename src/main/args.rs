//! The command line: the subcommands and their flags, as clap reads them.

use clap::{Parser, Subcommand};
use dialpop::cli::client::{self, Remote};
use dialpop::cli::decode::Protocol;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "dialpop",
    version,
    about = "Dialer and screen pops beside a FreeSWITCH or Asterisk PBX"
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
    /// Log lines as text (coloured only on a terminal) or as JSON, one
    /// object per line; always on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "DIALPOP_LOG_FORMAT"
    )]
    pub(super) log_format: dialpop::cli::logging::LogFormat,
    /// Write customers' numbers into call log lines (debugging with the
    /// operator's consent only; the log says so at startup). Off: no
    /// customer personal data at any level.
    #[arg(long, global = true, env = "DIALPOP_LOG_CUSTOMER_DATA")]
    pub(super) log_customer_data: bool,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Decode a raw capture of what a switch sent: one JSON object per frame.
    Decode {
        #[arg(long, value_enum)]
        protocol: Protocol,
        /// The capture file, or - for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// The simulated switch alone (for tests, load tests, trying dialpop).
    Simswitch {
        #[arg(long, value_enum)]
        protocol: Protocol,
        /// Address to listen on, e.g. 127.0.0.1:8021.
        #[arg(long)]
        listen: SocketAddr,
        /// The ESL password, or the AMI user's secret.
        #[arg(long, default_value = "ClueCon")]
        password: String,
        /// The AMI user (--protocol ami).
        #[arg(long, default_value = "dialpop")]
        username: String,
        /// Scenario file (TOML); the lab's default scenario without one.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Same seed, same outcomes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Divides ring, talk and timeout times.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// The daemon, with the switch, store and HTTP settings of a config file.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Campaigns on a running daemon (--server): list, show, create,
    /// update, start, pause, resume, stop, stats.
    #[command(after_help = client::EXIT_CODES)]
    Campaign(client::CampaignCmd),
    /// Agents on a running daemon (--server): list, show, create (prints
    /// the token once), update, token, pause, resume.
    #[command(after_help = client::EXIT_CODES)]
    Agent(client::AgentCmd),
    /// A cluster's nodes, switch leases and agents, from any node
    /// (--server): status.
    #[command(after_help = client::EXIT_CODES)]
    Cluster(client::cluster::ClusterCmd),
    /// Tasks on a running daemon (--server): add, list, show, update,
    /// cancel, import; `import` without --server works on the configured
    /// store directly.
    #[command(after_help = client::EXIT_CODES)]
    Task {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        action: TaskAction,
    },
    /// Do-not-call lists on a running daemon (--server): add, remove, list,
    /// import; `import` without --server works on the configured store.
    #[command(after_help = client::EXIT_CODES)]
    Dnc {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        action: DncAction,
    },
    /// Benchmark of the scheduling layer: CSV import rows/s and peak
    /// memory against parsing alone; claim time with a small queue against
    /// a large one. Prints JSON.
    BenchSchedule {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 10_000)]
        small_queue: u64,
        #[arg(long, default_value_t = 5_000)]
        claims: u64,
    },
    /// Customer sources: list them, or test one with a real request.
    Source {
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Everything in one process: the daemon, the simulated switch, and a
    /// fresh SQLite database with sample customers, agents and a campaign.
    Demo {
        #[arg(long, value_enum, default_value = "esl")]
        protocol: Protocol,
        #[arg(long, default_value_t = 5)]
        agents: usize,
        #[arg(long, default_value_t = 50)]
        customers: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Divides the simulated ring, talk and wrap-up times.
        #[arg(long, default_value_t = 10.0)]
        speed: f64,
        /// Simulated agents work the campaign to its end, then the demo exits.
        #[arg(long)]
        exit_when_done: bool,
        /// With --exit-when-done: print one JSON summary.
        #[arg(long, value_parser = ["json"])]
        report: Option<String>,
        /// Where the agent page is served (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Put a CRM stand-in (real HTTP with OAuth) answering in this many
        /// milliseconds behind the pops, beside the store.
        #[arg(long)]
        crm_latency_ms: Option<u64>,
        /// Fetch customers only at answer, not when the call is placed.
        #[arg(long)]
        no_preload: bool,
        /// Tasks for the first N customers only.
        #[arg(long)]
        tasks: Option<usize>,
        /// Look every customer up once before dialing (a full cache).
        #[arg(long)]
        warm_cache: bool,
        /// New calls a second at most on the simulated switch, spaced
        /// evenly (it has no limit of its own; a real switch's is the
        /// config's `originates_per_second`).
        #[arg(long, default_value_t = 2000.0)]
        originates_per_second: f64,
        /// Agents in another process: write their tokens to this file
        /// (`dialpop bench-agents` reads it) instead of simulating them here.
        #[arg(long)]
        external_agents: Option<PathBuf>,
        /// One of the seed's scenarios: its customer system (an SQLite file
        /// with its own schema) behind the pops, mapped by
        /// config/scenarios/<name>.toml and drawn by
        /// config/templates/<name>.json.
        #[arg(long, value_enum, conflicts_with = "crm_latency_ms")]
        scenario: Option<dialpop::cli::demo::scenario::Scenario>,
        /// How the campaign dials. power and predictive place calls with no
        /// agent, against far ends drawn like an outbound list (30 % people,
        /// machines), and the report gains occupancy, abandon_rate,
        /// machine_rate and dial_level.
        #[arg(long, value_enum)]
        dial_mode: Option<dialpop::campaign::dialing::DialMode>,
        /// Power: lines per available agent (1.5). Predictive: the most
        /// lines per agent (3).
        #[arg(long, requires = "dial_mode")]
        lines_per_agent: Option<f64>,
        /// With --dial-mode: stop dialing after this many simulated minutes.
        #[arg(long, requires = "dial_mode")]
        minutes: Option<f64>,
    },
    /// Load benchmark: agent pages as WebSocket clients, in their own
    /// process, signing in with the tokens file a demo or the floor wrote.
    BenchAgents {
        #[arg(long)]
        url: String,
        #[arg(long)]
        tokens: PathBuf,
        /// How long a page waits in wrap-up before it says ready.
        #[arg(long, default_value_t = 20)]
        wrap_ms: u64,
    },
    /// Load benchmark: the WebSocket floor, one pop-sized message and its
    /// ack at a steady rate over the same number of connections.
    BenchFloor {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        #[arg(long)]
        connections: usize,
        #[arg(long)]
        rate: f64,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long)]
        tokens: PathBuf,
    },
}

#[derive(Subcommand)]
pub(super) enum TaskAction {
    /// Streams a CSV file into a campaign: columns by header name
    /// (customer_id, phone, and optionally priority, tags, not_before,
    /// not_after, time_zone, external_id, var.NAME). With --server, the
    /// file is streamed to the daemon; without, into the configured store.
    /// Exit 0: every row kept; 3: some rows refused (each listed with its
    /// line); 1: failed.
    #[command(after_help = client::EXIT_CODES)]
    Import {
        file: PathBuf,
        #[arg(long)]
        campaign: String,
        /// Without --server: the config file naming the store.
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    #[command(flatten)]
    Client(client::TaskCmd),
}

#[derive(Subcommand)]
pub(super) enum DncAction {
    /// Streams a CSV file (a phone column, an optional reason) into the
    /// global list, or a campaign's. With --server, the file is streamed
    /// to the daemon; without, into the configured store.
    #[command(after_help = client::EXIT_CODES)]
    Import {
        file: PathBuf,
        #[arg(long)]
        campaign: Option<String>,
        /// How national numbers are read (default: US; with --server, the
        /// campaign's region, else US).
        #[arg(long)]
        region: Option<String>,
        /// Without --server: the config file naming the store.
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    #[command(flatten)]
    Client(client::DncCmd),
}

#[derive(Subcommand)]
pub(super) enum SourceAction {
    /// The configured sources, where they point, their TTL and timeout.
    List {
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
    },
    /// One real request to the source, past the cache: the mapped result,
    /// the raw response, the time taken, or why it failed.
    #[command(group(clap::ArgGroup::new("key").required(true).multiple(true)))]
    Test {
        /// The source's name (`dialpop source list`).
        name: String,
        #[arg(long, default_value = "config/dialpop.toml")]
        config: PathBuf,
        #[arg(long, group = "key")]
        customer_id: Option<String>,
        #[arg(long, group = "key")]
        phone: Option<String>,
        #[arg(long, group = "key")]
        email: Option<String>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
}
