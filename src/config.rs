//! The daemon's configuration file (`config/dialpop.toml` documents every
//! key). Errors name the key and what is wrong with it.

mod one_or_many;
mod validation;

pub use one_or_many::OneOrMany;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub api: ApiConfig,
    /// `[switch]` for one, `[[switch]]` for several (FreeSWITCH and
    /// Asterisk side by side; calls go where there is most room).
    pub switch: OneOrMany<SwitchConfig>,
    #[serde(default)]
    pub dialer: DialerConfig,
    #[serde(default, rename = "campaign")]
    pub campaigns: Vec<CampaignConfig>,
    #[serde(default, rename = "agent")]
    pub agents: Vec<AgentConfig>,
    #[serde(default)]
    pub customer: crate::customer::config::CustomerConfig,
    /// Where customer records come from, in order of precedence (none:
    /// dialpop's own customers and call history).
    #[serde(default, rename = "source")]
    pub sources: Vec<crate::customer::config::SourceConfig>,
    #[serde(default)]
    pub monitor: crate::monitor::config::MonitorConfig,
    /// Several nodes on one PostgreSQL (none: one node, the default).
    #[serde(default)]
    pub cluster: Option<crate::cluster::config::ClusterConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Agent sockets from one address open at once and not yet signed in.
    #[serde(default = "default_unauthenticated_sockets")]
    pub unauthenticated_sockets_per_address: usize,
    /// Failed sign-ins from one address in a minute before it is locked
    /// out for `lockout_seconds`.
    #[serde(default = "default_sign_in_failures")]
    pub sign_in_failures_per_minute: u32,
    #[serde(default = "default_lockout_seconds")]
    pub lockout_seconds: u64,
    /// HTTPS and WSS on `listen` (no plain listener beside it).
    #[serde(default)]
    pub tls: Option<crate::api::tls::TlsFiles>,
}

fn default_unauthenticated_sockets() -> usize {
    crate::api::guard::Limits::default().unauthenticated_sockets
}

fn default_sign_in_failures() -> u32 {
    crate::api::guard::Limits::default().failures
}

fn default_lockout_seconds() -> u64 {
    crate::api::guard::Limits::default().lockout.as_secs()
}

impl HttpConfig {
    pub fn limits(&self) -> crate::api::guard::Limits {
        crate::api::guard::Limits {
            unauthenticated_sockets: self.unauthenticated_sockets_per_address,
            failures: self.sign_in_failures_per_minute,
            window: std::time::Duration::from_secs(60),
            lockout: std::time::Duration::from_secs(self.lockout_seconds),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://user:password@host/db`; or
    /// `{ env = "DIALPOP_STORE_URL" }`. Never printed with its password.
    url: crate::redact::SecretSource,
}

impl StoreConfig {
    pub fn new(url: &str) -> StoreConfig {
        StoreConfig {
            url: crate::redact::SecretSource::Literal(url.to_string()),
        }
    }

    /// The URL, or an error naming the key (an unset variable).
    pub fn url(&self) -> anyhow::Result<crate::redact::Secret> {
        self.url
            .secret()
            .map_err(|e| anyhow::anyhow!("store.url: {e}"))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// SHA-256 (hex) of the bearer token API clients present.
    pub token_sha256: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SwitchProtocol {
    Esl,
    Ami,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchConfig {
    #[serde(default = "default_switch_name")]
    pub name: String,
    pub protocol: SwitchProtocol,
    pub address: String,
    /// AMI only: manager.conf's user (default "dialpop").
    #[serde(default)]
    pub username: Option<String>,
    /// AMI only: "plain" (default) or "md5" (challenge; the secret never
    /// crosses the wire).
    #[serde(default)]
    pub ami_auth: Option<String>,
    /// ESL: event_socket.conf.xml's password; AMI: the manager user's
    /// secret. Or `{ env = "ESL_PASSWORD" }`.
    pub password: crate::redact::SecretSource,
    /// e.g. `sofia/gateway/{gateway}/{phone}`.
    pub customer_dial_string: String,
    #[serde(default)]
    pub gateway: String,
    /// e.g. `user/{extension}`: how the answered customer reaches the agent.
    pub agent_dial_string: String,
    #[serde(default)]
    pub caller_id_number: Option<String>,
    #[serde(default)]
    pub caller_id_name: Option<String>,
    /// Dialplan extension and context that connect the customer to the agent
    /// (see `dialplan/freeswitch/dialpop.xml`).
    #[serde(default = "default_connect_extension")]
    pub connect_extension: String,
    #[serde(default = "default_connect_context")]
    pub connect_context: String,
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// New calls a second at most, spaced evenly. Keep it at or below the
    /// switch's own limit (FreeSWITCH: `sessions-per-second` in
    /// switch.conf.xml, 30 in the stock file) and the trunk's.
    #[serde(default = "default_originates_per_second")]
    pub originates_per_second: f64,
}

fn default_switch_name() -> String {
    "fs1".into()
}
fn default_connect_extension() -> String {
    "dialpop_connect".into()
}
fn default_connect_context() -> String {
    "dialpop".into()
}
fn default_max_calls() -> usize {
    200
}
fn default_originates_per_second() -> f64 {
    30.0
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialerConfig {
    pub wrap_up_seconds: f64,
    pub ring_timeout_seconds: u64,
    /// On SIGTERM or Ctrl-C, how long calls in progress may go on.
    pub drain_seconds: u64,
    /// New calls a second on all switches together, whatever each allows
    /// (a carrier account shared by the switches); none: no such cap.
    pub max_originates_per_second: Option<f64>,
}

impl Default for DialerConfig {
    fn default() -> Self {
        DialerConfig {
            wrap_up_seconds: 10.0,
            ring_timeout_seconds: 30,
            drain_seconds: 30,
            max_originates_per_second: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    pub id: String,
    pub name: String,
    /// The state a seeded campaign starts in (running).
    #[serde(default = "default_campaign_state")]
    pub state: crate::campaign::CampaignState,
    /// Shorthand: busy and unanswered calls are tried this many times in
    /// all (`settings.retry` says it per outcome).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Shorthand: the delay of those retries.
    #[serde(default)]
    pub retry_delay_seconds: Option<f64>,
    /// `[campaign.settings]`: selection, calling window, region and zone,
    /// retry policy, wrap-up.
    #[serde(default)]
    pub settings: crate::campaign::CampaignSettings,
}

fn default_campaign_state() -> crate::campaign::CampaignState {
    crate::campaign::CampaignState::Running
}

impl CampaignConfig {
    /// The settings the campaign is seeded with: the table, with the
    /// shorthand keys applied over it.
    pub fn seed_settings(&self) -> crate::campaign::CampaignSettings {
        let mut s = self.settings.clone();
        for r in [&mut s.retry.busy, &mut s.retry.no_answer] {
            if let Some(n) = self.max_attempts {
                r.max_attempts = n;
            }
            if let Some(d) = self.retry_delay_seconds {
                r.delay_seconds = d;
            }
        }
        s
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub id: String,
    pub name: String,
    pub extension: String,
    pub campaign: String,
    /// More campaigns the agent serves, each with a priority (higher
    /// first); `campaign` is served at priority 0.
    #[serde(default)]
    pub also: Vec<crate::store::Serves>,
    #[serde(default)]
    pub level: Option<String>,
    /// `en` or `zh-CN`.
    #[serde(default)]
    pub locale: Option<String>,
    /// SHA-256 (hex) of the agent's login token.
    pub token_sha256: String,
}

impl AgentConfig {
    pub fn agent(&self) -> crate::store::Agent {
        let mut a = crate::store::Agent::of(&self.id, &self.name, &self.extension, &self.campaign);
        a.campaigns.extend(self.also.iter().cloned());
        a.sort_campaigns();
        a.level = self.level.clone();
        a.locale = self.locale.clone();
        a
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config file {path}: key `{key}`: {problem}")]
    Invalid {
        path: String,
        key: String,
        problem: String,
    },
}

pub use crate::campaign::settings::{MAX_RETRY_DELAY_SECONDS, MAX_WRAP_UP_SECONDS};
/// An hour of ringing is already far beyond any carrier's timer.
pub const MAX_RING_TIMEOUT_SECONDS: u64 = 3_600;
/// An hour for calls to finish at shutdown.
pub const MAX_DRAIN_SECONDS: u64 = 3_600;

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text, &shown)
    }

    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        // toml's messages already name the key and the line.
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }
}
