//! `dialpop simswitch`: the simulated switch alone, until Ctrl-C.

use crate::switch::sim::{Scenario, SimConfig, SimProtocol, SimSwitch};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The subcommand's options, as parsed from the command line.
#[derive(Clone, Debug)]
pub struct SimswitchArgs {
    pub protocol: SimProtocol,
    pub listen: SocketAddr,
    /// The ESL password, or the AMI user's secret.
    pub password: String,
    /// The AMI user.
    pub username: String,
    pub scenario: Option<PathBuf>,
    pub seed: u64,
    pub speed: f64,
}

/// Runs the switch until Ctrl-C.
pub async fn run(args: SimswitchArgs) -> anyhow::Result<()> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number, not {}", args.speed);
    }
    let scenario = match &args.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::default(),
    };
    let config = SimConfig {
        listen: args.listen,
        protocol: args.protocol,
        password: args.password,
        ami_username: args.username,
        scenario,
        seed: args.seed,
        speed: args.speed,
        // A standalone switch runs for as long as it is left: counts only.
        keep_originates: false,
        ..SimConfig::default()
    };
    let switch = SimSwitch::start(config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let what = match args.protocol {
        SimProtocol::Esl => "simulated FreeSWITCH 1.10.12 listening (ESL)",
        SimProtocol::Ami => "simulated Asterisk 22.10.1 listening (AMI 11.0.0)",
    };
    tracing::info!(
        listen = %switch.local_addr(),
        seed = args.seed,
        speed = args.speed,
        scenario = args.scenario.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "default".into()),
        "{what}"
    );
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    tracing::info!("shutting down");
    switch.shutdown().await;
    Ok(())
}
