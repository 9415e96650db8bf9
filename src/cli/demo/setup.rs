//! Getting a demo ready before the campaign starts: its customer sources
//! (the CRM stand-in's, a scenario's) and, when asked, a warm cache.

use super::DemoOptions;
use super::scenario;
use super::seed::CAMPAIGN;
use crate::customer::standin::CrmStandin;
use crate::daemon::Daemon;
use crate::store::{Store, Task, token_hash};
use futures::StreamExt;
use std::sync::Arc;

/// The store's record and calls around the CRM stand-in's record and
/// orders (the tier from the CRM, the rest from the store first).
pub(super) fn crm_sources(
    crm: &CrmStandin,
) -> anyhow::Result<Vec<crate::customer::config::SourceConfig>> {
    let text = format!(
        "[[source]]\nname = \"internal\"\nkind = \"internal\"\n{}\n\
         [[source]]\nname = \"calls\"\nkind = \"internal\"\nrole = \"history\"\n\
         title = \"Previous calls\"\npage_size = 5\n",
        crm.sources_toml()
    );
    crate::customer::config::parse_sources(&text).map_err(|e| anyhow::anyhow!("demo sources: {e}"))
}

/// The scenario's database, filled for the demo's customers; its template
/// as the campaign's screen; agents alternating novice and senior, in
/// Chinese. Answers the scenario's sources.
pub(super) async fn set_up_scenario(
    s: scenario::Scenario,
    store: &Arc<dyn Store>,
    path: &std::path::Path,
    agents: &mut [(crate::store::Agent, String)],
    opts: &DemoOptions,
) -> anyhow::Result<Vec<crate::customer::config::SourceConfig>> {
    let mut customers = Vec::with_capacity(opts.customers);
    for i in 0..opts.customers {
        if let Some(c) = store.customer(&format!("c{i:06}")).await? {
            customers.push(c);
        }
    }
    let url = scenario::create(s, path, &customers, opts.seed).await?;
    let mut campaign = store
        .campaign(CAMPAIGN)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo campaign is missing"))?;
    campaign.settings.templates.default = Some(s.template().map_err(anyhow::Error::msg)?);
    campaign
        .settings
        .validate()
        .map_err(|e| anyhow::anyhow!("{} scenario: {e:?}", s.name()))?;
    store
        .update_campaign(CAMPAIGN, &format!("Demo: {}", s.name()), &campaign.settings)
        .await?;
    for (i, (a, t)) in agents.iter_mut().enumerate() {
        a.level = Some(if i % 2 == 0 { "novice" } else { "senior" }.into());
        a.locale = Some("zh-CN".into());
        store.upsert_agent(a, &token_hash(t)).await?;
    }
    s.sources(&url).map_err(anyhow::Error::msg)
}

/// Looks every customer up once through the daemon's own customer service,
/// as calls would, so that the cache holds them all.
pub(super) async fn warm(
    daemon: &Daemon,
    store: &Arc<dyn Store>,
    customers: usize,
) -> anyhow::Result<()> {
    let mut tasks = Vec::with_capacity(customers);
    for i in 0..customers {
        if let Some(c) = store.customer(&format!("c{i:06}")).await? {
            tasks.push(Task {
                campaign_id: CAMPAIGN.into(),
                customer_id: c.id,
                phone: c.phone,
                ..Task::default()
            });
        }
    }
    let service = daemon.customers.clone();
    futures::stream::iter(tasks)
        .map(|t| {
            let service = service.clone();
            async move {
                let lookup = service.lookup_for_task(&t);
                service.resolve(&lookup).await;
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    Ok(())
}
