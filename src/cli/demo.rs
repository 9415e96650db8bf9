//! `dialpop demo`: the simulated FreeSWITCH on loopback, the ESL driver and
//! the call manager, placing a batch of calls whose numbers cover every
//! outcome of the default scenario, and a summary at the end.
//!
//! The campaign, the customer database and the agent page join this demo as
//! they are built; today it shows the driver working end to end.

use crate::switch::calls::{CallEnd, CallState};
use crate::switch::esl::client::EslClientConfig;
use crate::switch::esl::driver::EslDriver;
use crate::switch::manager::{CallManager, CallUpdate};
use crate::switch::sim::{SimConfig, SimSwitch};
use crate::switch::{AnswerAction, CallId, HangupCause, OriginateRequest};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub calls: usize,
    pub concurrency: usize,
    pub seed: u64,
    pub speed: f64,
    pub report_json: bool,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DemoReport {
    pub calls: usize,
    pub answered: usize,
    pub busy: usize,
    pub no_answer: usize,
    pub failed: usize,
    /// Calls whose outcome was lost in a reconnect (none in a healthy run).
    pub vanished: usize,
    pub wall_ms: u128,
}

/// A customer number for the n-th call: the leading digit of the last four
/// picks the default scenario's outcome (1 answer, 2 busy, 3 no answer,
/// 4 congestion, 5 long answer).
fn number_for(n: usize) -> String {
    const MIX: [u32; 10] = [1, 1, 1, 1, 5, 2, 2, 3, 4, 1];
    format!("1555{}{:03}", MIX[n % MIX.len()], n % 1000)
}

pub async fn run(opts: DemoOptions) -> anyhow::Result<DemoReport> {
    let sim = SimSwitch::start(SimConfig {
        seed: opts.seed,
        speed: opts.speed,
        ..SimConfig::default()
    })
    .await?;
    let addr = sim.local_addr().to_string();
    let password = SimConfig::default().password;
    if !opts.report_json {
        println!("simulated FreeSWITCH listening on {addr} (ESL)");
    }
    let (driver, notices) = EslDriver::connect(EslClientConfig::new(addr, password)).await?;
    let client = driver.client().clone();
    let (manager, mut updates) = CallManager::start(Arc::new(driver), notices);

    let start = Instant::now();
    let mut report = DemoReport {
        calls: opts.calls,
        ..DemoReport::default()
    };
    let mut numbers: HashMap<CallId, String> = HashMap::new();
    let mut answered: std::collections::HashSet<CallId> = std::collections::HashSet::new();
    let mut next = 0usize;
    let mut live = 0usize;
    let mut done = 0usize;
    while done < opts.calls {
        while live < opts.concurrency && next < opts.calls {
            let id = CallId::new_random();
            let number = number_for(next);
            numbers.insert(id.clone(), number.clone());
            let req = OriginateRequest {
                call_id: id.clone(),
                destination: format!("sofia/gateway/demo/{number}"),
                caller_id_number: Some("5550100".into()),
                caller_id_name: Some("dialpop demo".into()),
                timeout: Duration::from_secs(15),
                variables: vec![("dialpop_demo_call".into(), next.to_string())],
                on_answer: AnswerAction::Park,
            };
            next += 1;
            live += 1;
            if let Err(e) = manager.originate(req).await {
                anyhow::bail!("originate refused: {e}");
            }
        }
        let Some(update) = tokio::time::timeout(Duration::from_secs(120), updates.recv()).await?
        else {
            anyhow::bail!("the call manager stopped");
        };
        if let CallUpdate::Changed { call_id, to, .. } = update {
            let number = numbers.get(&call_id).map(String::as_str).unwrap_or("?");
            if !opts.report_json {
                println!(
                    "{:>8.1}s  {call_id}  {number:<12} {}",
                    start.elapsed().as_secs_f64(),
                    describe(&to)
                );
            }
            if to == CallState::Answered {
                answered.insert(call_id.clone());
            }
            if let CallState::Ended(end) = to {
                live -= 1;
                done += 1;
                match end {
                    _ if answered.contains(&call_id) => report.answered += 1,
                    CallEnd::HungUp(HangupCause::UserBusy)
                    | CallEnd::Failed(HangupCause::UserBusy) => report.busy += 1,
                    CallEnd::HungUp(HangupCause::NoAnswer)
                    | CallEnd::Failed(HangupCause::NoAnswer) => report.no_answer += 1,
                    CallEnd::Failed(_) | CallEnd::HungUp(_) => report.failed += 1,
                    CallEnd::Vanished => report.vanished += 1,
                }
            }
        }
    }
    report.wall_ms = start.elapsed().as_millis();
    // Say goodbye before the switch goes, as a daemon stopping would.
    client.shutdown().await;
    sim.shutdown().await;
    Ok(report)
}

fn describe(s: &CallState) -> String {
    match s {
        CallState::Ended(CallEnd::HungUp(c)) => format!("hung up ({c})"),
        CallState::Ended(CallEnd::Failed(c)) => format!("failed ({c})"),
        CallState::Ended(CallEnd::Vanished) => "lost during a reconnect".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}
