//! `dialpop source list|test`: the configured customer sources, and one
//! real request to one of them, printed for whoever is setting it up.

use crate::config::Config;
use crate::customer::service::TestReport;
use crate::customer::{CustomerService, Lookup};
use std::io::Write;
use std::path::Path;

async fn service(config: &Path) -> anyhow::Result<CustomerService> {
    let cfg = Config::load(config)?;
    let store = crate::store::open(cfg.store.url()?.expose()).await?;
    CustomerService::new(&cfg.customer, &cfg.sources, store)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", config.display()))
}

pub async fn list(config: &Path, out: &mut impl Write) -> anyhow::Result<()> {
    let s = service(config).await?;
    for src in s.sources() {
        writeln!(
            out,
            "{:<16} {:<9} {:<8} by {:<12} ttl {:>5}s  timeout {:>5} ms  {}",
            src.name,
            format!("{:?}", src.kind).to_lowercase(),
            format!("{:?}", src.role).to_lowercase(),
            src.key.name(),
            src.ttl_seconds,
            src.timeout_ms,
            src.target
        )?;
    }
    Ok(())
}

/// Runs the test; `Ok(false)` when the source failed (the exit status says
/// so to scripts).
pub async fn test(
    config: &Path,
    name: &str,
    customer_id: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    if customer_id.is_none() && phone.is_none() && email.is_none() {
        anyhow::bail!("give --customer-id, --phone or --email");
    }
    let s = service(config).await?;
    let lookup = Lookup::new(customer_id, phone, email, s.region());
    let Some(report) = s.test_source(name, &lookup).await else {
        let names: Vec<String> = s.sources().into_iter().map(|x| x.name).collect();
        anyhow::bail!("no source named {name:?} (there are: {})", names.join(", "));
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_report(&report, out)?;
    }
    Ok(report.error.is_none())
}

fn print_report(r: &TestReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "source  {}  ({})", r.source, r.target)?;
    match &r.error {
        None => writeln!(
            out,
            "result  {} in {:.1} ms",
            r.outcome.replace('_', " "),
            r.elapsed_ms
        )?,
        Some(e) => writeln!(
            out,
            "result  FAILED after {:.1} ms: {} ({})",
            r.elapsed_ms,
            e.detail,
            e.kind.label()
        )?,
    }
    if let Some(m) = &r.mapped {
        writeln!(out, "mapped")?;
        for line in serde_json::to_string_pretty(m).unwrap_or_default().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if let Some(raw) = &r.raw {
        writeln!(out, "raw response")?;
        for line in raw.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}
