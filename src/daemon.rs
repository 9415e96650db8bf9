//! The daemon assembled: switch driver → call manager → dialer → agent hub
//! → HTTP. `dialpop serve`, the demo and the integration tests all start it
//! through here, so they run the same wiring.

use crate::api::{AppState, router};
use crate::config::{Config, SwitchProtocol};
use crate::customer::CustomerService;
use crate::customer::config::{CustomerConfig, SourceConfig};
use crate::dialer::{DialPlan, Dialer, DialerHandle, DialerParts, SwitchLink, SwitchPlan};
use crate::popup::hub::AgentHub;
use crate::store::writer::StoreWriter;
use crate::store::{Campaign, Store};
use crate::switch::ami::client::{AmiClientConfig, AmiClientError};
use crate::switch::ami::driver::AmiDriver;
use crate::switch::driver::{DriverNotice, SwitchControl};
use crate::switch::esl::client::{ClientError, EslClientConfig};
use crate::switch::esl::driver::EslDriver;
use crate::switch::manager::CallManager;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Everything the daemon needs, however it was configured.
#[derive(Clone)]
pub struct DaemonSetup {
    pub store: Arc<dyn Store>,
    pub listen: SocketAddr,
    pub api_token_sha256: String,
    /// How to reach each switch, in the order of `plan.switches`.
    pub switches: Vec<SwitchConnect>,
    pub plan: DialPlan,
    /// Where customer records come from (no source: dialpop's own store).
    pub customer: CustomerConfig,
    pub sources: Vec<SourceConfig>,
    pub monitor: crate::monitor::config::MonitorConfig,
    /// Per-address limits on callers that have not signed in.
    pub limits: crate::api::guard::Limits,
    /// HTTPS (and WSS) when set, plain HTTP otherwise.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// One node of several (None: the only one, driving every switch).
    pub cluster: Option<ClusterSetup>,
}

/// A node of a cluster: its section, and the store's URL for the leases'
/// own connections.
#[derive(Clone)]
pub struct ClusterSetup {
    pub config: crate::cluster::config::ClusterConfig,
    pub store_url: crate::redact::Secret,
}

/// What a cluster node runs beside the HTTP server.
struct ClusterRun {
    node: String,
    shards: crate::dialer::Shards,
    node_stop: tokio_util::sync::CancellationToken,
    node_task: JoinHandle<()>,
    lease_stop: tokio_util::sync::CancellationToken,
    lease_task: JoinHandle<()>,
    leases: crate::cluster::lease_store::LeaseStore,
    lease: Duration,
}

/// How to reach the switch.
#[derive(Clone, Debug)]
pub enum SwitchConnect {
    Esl(EslClientConfig),
    Ami(AmiClientConfig),
}

pub struct Daemon {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub writer: StoreWriter,
    pub hub: AgentHub,
    pub dialer: DialerHandle,
    pub customers: CustomerService,
    managers: Vec<CallManager>,
    connecting: Vec<JoinHandle<()>>,
    http: JoinHandle<()>,
    http_stop: tokio_util::sync::CancellationToken,
    cluster: Option<ClusterRun>,
}

/// How long a graceful stop lets calls in progress go on.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);

impl Daemon {
    /// Starts serving at once; each switch is connected in the background
    /// (retried while unreachable, given up on a refused login), so a
    /// switch that is down delays neither HTTP nor the other switches.
    pub async fn start(setup: DaemonSetup) -> anyhow::Result<Daemon> {
        if setup.switches.len() != setup.plan.switches.len() || setup.switches.is_empty() {
            anyhow::bail!("one connection per switch plan is needed");
        }
        let customers = CustomerService::new(&setup.customer, &setup.sources, setup.store.clone())
            .map_err(|e| anyhow::anyhow!("customer sources: {e}"))?;
        let writer = StoreWriter::start(setup.store.clone(), 16 * 1024);
        let listener = crate::api::tls::HttpListener::new(
            tokio::net::TcpListener::bind(setup.listen).await?,
            setup.tls.clone(),
        )?;
        let addr = axum::serve::Listener::local_addr(&listener)?;
        let monitor = crate::monitor::Monitor::start(&setup.monitor)?;
        let (hub, presence) = AgentHub::start(writer.clone(), monitor.clone());
        let mut managers = Vec::new();
        let mut connecting = Vec::new();
        let (dialer, cluster) = match &setup.cluster {
            None => {
                let (upd_tx, updates) = tokio::sync::mpsc::channel(16 * 1024);
                let mut links = Vec::new();
                for (i, (how, plan)) in setup
                    .switches
                    .iter()
                    .zip(setup.plan.switches.iter())
                    .enumerate()
                {
                    let manager = CallManager::start(i, upd_tx.clone());
                    let (m, how, name) = (manager.clone(), how.clone(), plan.name.clone());
                    connecting.push(tokio::spawn(async move {
                        match connect_switch(&how, &name).await {
                            Ok((driver, notices)) => m.attach(driver, notices).await,
                            Err(e) => {
                                tracing::error!(switch = %name, error = %e, "cannot connect to the switch; no calls will be placed on it");
                                m.give_up(e.to_string()).await;
                            }
                        }
                    }));
                    managers.push(manager.clone());
                    links.push(SwitchLink {
                        plan: plan.clone(),
                        manager,
                    });
                }
                drop(upd_tx);
                let agents = setup.store.agents().await?;
                let dialer = Dialer::start(DialerParts {
                    store: setup.store.clone(),
                    writer: writer.clone(),
                    customers: customers.clone(),
                    links,
                    updates,
                    hub: hub.clone(),
                    presence,
                    plan: setup.plan.clone(),
                    agents,
                    scope: None,
                })
                .await?;
                (dialer, None)
            }
            Some(c) => {
                let (dialer, run) =
                    start_node(&setup, c, addr, &writer, &customers, &hub, presence).await?;
                (dialer, Some(run))
            }
        };
        let scheme = if setup.tls.is_some() { "https" } else { "http" };
        // Which switch each agent is homed on: the same on every node.
        let homes =
            crate::cluster::home::Homes::new(setup.plan.switches.iter().map(|s| s.name.clone()));
        let relay = match (&setup.cluster, &cluster) {
            (Some(c), Some(run)) => match &c.config.broker {
                Some(url) => {
                    let url = url
                        .secret()
                        .map_err(|e| anyhow::anyhow!("cluster.broker: {e}"))?;
                    Some(
                        crate::cluster::relay::Relay::connect(
                            url.expose(),
                            &c.config.broker_prefix,
                            homes.clone(),
                            run.shards.clone(),
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!("cluster.broker: {e}"))?,
                    )
                }
                None => None,
            },
            _ => None,
        };
        let state = AppState {
            store: setup.store.clone(),
            dialer: dialer.clone(),
            hub: hub.clone(),
            customers: customers.clone(),
            writer: writer.clone(),
            monitor,
            guard: crate::api::guard::Guard::new(setup.limits),
            api_token_sha256: setup.api_token_sha256.clone(),
            cluster: cluster.as_ref().map(|c| crate::api::cluster::ClusterView {
                node: c.node.clone(),
                shards: c.shards.clone(),
                leases: c.leases.clone(),
                homes: homes.clone(),
                lease: c.lease,
            }),
            relay: relay.clone(),
        };
        if let Some(r) = &relay {
            r.serve(state.clone());
        }
        let app = router(state);
        let http_stop = tokio_util::sync::CancellationToken::new();
        let stop = http_stop.clone();
        let http = tokio::spawn(async move {
            let serve = axum::serve(
                axum::serve::ListenerExt::tap_io(listener, crate::api::tls::no_delay),
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        });
        tracing::info!(%addr, scheme, "dialpop listening");
        Ok(Daemon {
            addr,
            store: setup.store,
            writer,
            hub,
            dialer,
            customers,
            managers,
            connecting,
            http,
            http_stop,
            cluster,
        })
    }

    /// This node's name and the switches it drives now (a cluster node).
    pub fn cluster_switches(&self) -> Option<(String, Vec<String>)> {
        self.cluster
            .as_ref()
            .map(|c| (c.node.clone(), c.shards.switches()))
    }

    /// Leaves the switches politely and stops serving, at once.
    pub async fn stop(self) {
        self.leave_switches().await;
        self.http.abort();
    }

    /// Stops connecting, leaves every switch, then writes what is queued;
    /// a cluster node then gives its leases back, for the other nodes to
    /// take at once (after its last write: a write after the release
    /// would be dropped).
    async fn leave_switches(&self) {
        for c in &self.connecting {
            c.abort();
        }
        for m in &self.managers {
            m.shutdown().await;
        }
        if let Some(c) = &self.cluster {
            c.node_stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), wait_for(&c.node_task)).await;
        }
        self.writer.flush().await;
        if let Some(c) = &self.cluster {
            c.lease_stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), wait_for(&c.lease_task)).await;
            c.leases.close().await;
        }
    }

    /// A graceful stop (SIGTERM, Ctrl-C): no new calls; calls in progress
    /// and the wrap-ups that end on their own go on for up to `drain` (what
    /// is still up then, and wrap-ups waiting for a disposition, are left to
    /// the next start's recovery); every write is flushed; the pages are
    /// told the server is restarting. Returns how many calls were left up.
    pub async fn shutdown(self, drain: Duration) -> usize {
        self.dialer.drain().await;
        let deadline = tokio::time::Instant::now() + drain;
        let left = loop {
            let (up, wrapping) = self
                .dialer
                .snapshot()
                .await
                .map_or((0, 0), |s| (s.live_calls, s.timed_wrap_ups));
            if (up == 0 && wrapping == 0) || tokio::time::Instant::now() >= deadline {
                break up;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if left > 0 {
            tracing::warn!(
                calls = left,
                "calls still up at the drain deadline; the next start re-adopts them"
            );
        }
        self.hub.restarting().await;
        self.http_stop.cancel();
        self.leave_switches().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.http).await;
        left
    }
}

/// Waits for a task by polling its end (the handle stays where it is).
async fn wait_for(task: &JoinHandle<()>) {
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A cluster node's lease task and the dialers of the switches it holds.
async fn start_node(
    setup: &DaemonSetup,
    c: &ClusterSetup,
    addr: SocketAddr,
    writer: &StoreWriter,
    customers: &CustomerService,
    hub: &AgentHub,
    presence: tokio::sync::mpsc::Receiver<crate::popup::hub::Presence>,
) -> anyhow::Result<(DialerHandle, ClusterRun)> {
    use crate::cluster::{lease_store::LeaseStore, leases::LeaseTask, node};
    let leases = LeaseStore::connect(c.store_url.expose())
        .await
        .map_err(|e| anyhow::anyhow!("cluster: the store for the leases: {e}"))?;
    let names = setup.plan.switches.iter().map(|s| s.name.clone()).collect();
    let (task, held) = LeaseTask::new(
        leases.clone(),
        &c.config.node_id,
        &addr.to_string(),
        names,
        c.config.timing(),
    );
    let lease_stop = tokio_util::sync::CancellationToken::new();
    let lease_task = tokio::spawn(task.run(lease_stop.clone()));
    let node_stop = tokio_util::sync::CancellationToken::new();
    let (dialer, shards, node_task) = node::start(node::NodeParts {
        store: setup.store.clone(),
        writer: writer.clone(),
        customers: customers.clone(),
        hub: hub.clone(),
        presence,
        plan: setup.plan.clone(),
        connects: setup.switches.clone(),
        held,
        stop: node_stop.clone(),
    });
    tracing::info!(node = %c.config.node_id, "cluster node started; switches are driven as their leases are won");
    Ok((
        dialer,
        ClusterRun {
            node: c.config.node_id.clone(),
            shards,
            node_stop,
            node_task,
            lease_stop,
            lease_task,
            leases,
            lease: Duration::from_secs_f64(c.config.lease_seconds),
        },
    ))
}

pub(crate) async fn connect_switch(
    how: &SwitchConnect,
    name: &str,
) -> anyhow::Result<(
    Arc<dyn SwitchControl>,
    tokio::sync::mpsc::Receiver<DriverNotice>,
)> {
    // Unreachable is retried (the PBX may still be booting); a refused
    // password is not.
    let (initial, max) = match how {
        SwitchConnect::Esl(c) => (c.backoff_initial, c.backoff_max),
        SwitchConnect::Ami(c) => (c.backoff_initial, c.backoff_max),
    };
    let mut wait = initial;
    loop {
        let attempt: Result<(Arc<dyn SwitchControl>, _), (bool, anyhow::Error)> = match how {
            SwitchConnect::Esl(c) => match EslDriver::connect(c.clone()).await {
                Ok((d, n)) => Ok((Arc::new(d), n)),
                Err(e @ ClientError::Connect { .. }) => Err((true, e.into())),
                Err(e) => Err((false, e.into())),
            },
            SwitchConnect::Ami(c) => match AmiDriver::connect(c.clone()).await {
                Ok((d, n)) => Ok((Arc::new(d), n)),
                Err(e @ AmiClientError::Connect { .. }) => Err((true, e.into())),
                Err(e) => Err((false, e.into())),
            },
        };
        match attempt {
            Ok(pair) => return Ok(pair),
            Err((true, e)) => {
                let pause = crate::switch::backoff::jittered(wait);
                tracing::warn!(switch = %name, error = %e, retry_in = ?pause, "switch unreachable; retrying");
                tokio::time::sleep(pause).await;
                wait = crate::switch::backoff::next_ceiling(wait, max);
            }
            Err((false, e)) => return Err(e),
        }
    }
}

/// The daemon's setup from a config file. Campaigns declared there seed
/// the store the first time only: once a campaign is in the store, the
/// store is its truth (what the API changed is never overwritten).
pub async fn setup_from_config(cfg: &Config) -> anyhow::Result<DaemonSetup> {
    let store = crate::store::open(cfg.store.url()?.expose()).await?;
    for c in &cfg.campaigns {
        let now = crate::store::now_ms();
        let created = store
            .insert_campaign(&Campaign {
                id: c.id.clone(),
                name: c.name.clone(),
                state: c.state,
                settings: c.seed_settings(),
                created_ms: now,
                updated_ms: now,
            })
            .await?;
        if created {
            tracing::info!(campaign = %c.id, state = c.state.as_str(), "campaign seeded from the config file");
        } else {
            tracing::info!(campaign = %c.id, "campaign already in the store; the config file's block is not applied (the store is the truth)");
        }
    }
    // Seeded once, like campaigns: a token rotated or a campaign changed
    // through the API is not undone by the next start.
    for a in &cfg.agents {
        if store
            .insert_agent(&a.agent(), &a.token_sha256.to_ascii_lowercase())
            .await?
        {
            tracing::info!(agent = %a.id, "agent seeded from the config file");
        } else {
            tracing::info!(agent = %a.id, "agent already in the store; the config file's block is not applied");
        }
    }
    let mut switches = Vec::new();
    let mut plans = Vec::new();
    for sw in cfg.switch.iter() {
        let password = sw
            .password
            .secret()
            .map_err(|e| anyhow::anyhow!("switch {}: password: {e}", sw.name))?;
        switches.push(match sw.protocol {
            SwitchProtocol::Esl => {
                SwitchConnect::Esl(EslClientConfig::new(sw.address.clone(), password))
            }
            SwitchProtocol::Ami => {
                let mut c = AmiClientConfig::new(
                    sw.address.clone(),
                    sw.username.clone().unwrap_or_else(|| "dialpop".into()),
                    password,
                );
                c.md5 = sw.ami_auth.as_deref() == Some("md5");
                SwitchConnect::Ami(c)
            }
        });
        plans.push(SwitchPlan {
            name: sw.name.clone(),
            customer_dial_string: sw.customer_dial_string.clone(),
            gateway: sw.gateway.clone(),
            agent_dial_string: sw.agent_dial_string.clone(),
            connect_extension: sw.connect_extension.clone(),
            connect_context: sw.connect_context.clone(),
            caller_id_number: sw.caller_id_number.clone(),
            caller_id_name: sw.caller_id_name.clone(),
            max_calls: sw.max_calls,
            originates_per_second: sw.originates_per_second,
        });
    }
    Ok(DaemonSetup {
        store,
        listen: cfg.http.listen,
        api_token_sha256: cfg.api.token_sha256.to_ascii_lowercase(),
        switches,
        plan: DialPlan {
            switches: plans,
            ring_timeout: Duration::from_secs(cfg.dialer.ring_timeout_seconds),
            max_originates_per_second: cfg.dialer.max_originates_per_second,
            pacing_round: crate::dialer::PACING_ROUND,
            wrap_up: Duration::try_from_secs_f64(cfg.dialer.wrap_up_seconds).map_err(|e| {
                anyhow::anyhow!("dialer.wrap_up_seconds {}: {e}", cfg.dialer.wrap_up_seconds)
            })?,
        },
        customer: cfg.customer.clone(),
        sources: cfg.sources.clone(),
        monitor: cfg.monitor.clone(),
        limits: cfg.http.limits(),
        tls: match &cfg.http.tls {
            Some(files) => Some(crate::api::tls::server_config(files).map_err(anyhow::Error::msg)?),
            None => None,
        },
        cluster: match &cfg.cluster {
            Some(c) => Some(ClusterSetup {
                config: c.clone(),
                store_url: cfg.store.url()?,
            }),
            None => None,
        },
    })
}
