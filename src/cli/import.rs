//! `dialpop task import` and `dialpop dnc import`: a CSV file into the
//! configured store, streamed, with a progress bar on a terminal and a
//! summary at the end. Exit codes: 0 every row kept, 3 some rows refused
//! (listed with their lines), 1 the file or the store failed.

use crate::campaign::import::{ImportReport, import_dnc, import_tasks};
use crate::config::Config;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// What the import ended with, for the exit code.
pub enum Ended {
    AllKept,
    SomeRefused,
}

fn progress_bar(file: &Path) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let len = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Counts the bytes the parser has read, for the bar.
struct Counted<R> {
    inner: R,
    bar: Option<indicatif::ProgressBar>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

fn open(
    file: &Path,
) -> anyhow::Result<(
    Counted<std::io::BufReader<std::fs::File>>,
    Option<indicatif::ProgressBar>,
)> {
    let f = std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let bar = progress_bar(file);
    Ok((
        Counted {
            inner: std::io::BufReader::with_capacity(256 * 1024, f),
            bar: bar.clone(),
        },
        bar,
    ))
}

fn summary(r: &ImportReport, json: bool, out: &mut impl Write) -> anyhow::Result<Ended> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(r)?)?;
    } else {
        for e in &r.errors {
            writeln!(out, "line {}: {}: {}", e.line, e.field, e.error)?;
        }
        if r.errors_not_listed > 0 {
            writeln!(out, "... and {} more refused rows", r.errors_not_listed)?;
        }
        if !r.ignored_columns.is_empty() {
            writeln!(out, "columns not used: {}", r.ignored_columns.join(", "))?;
        }
        writeln!(
            out,
            "{} rows: {} added, {} already there, {} refused",
            r.rows, r.added, r.duplicates, r.rejected
        )?;
    }
    Ok(if r.rejected == 0 {
        Ended::AllKept
    } else {
        Ended::SomeRefused
    })
}

pub async fn tasks(
    config: &Path,
    file: &Path,
    campaign: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<Ended> {
    let cfg = Config::load(config)?;
    let store = crate::store::open(cfg.store.url()?.expose()).await?;
    let c = store
        .campaign(campaign)
        .await?
        .ok_or_else(|| anyhow::anyhow!("--campaign {campaign:?}: no such campaign in the store"))?;
    let (reader, bar) = open(file)?;
    let report = import_tasks(&store, &c, reader, Some("cli".into()), |rows| {
        if let Some(b) = &bar {
            b.set_message(format!("{rows} rows"));
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    summary(&report, json, out)
}

pub async fn dnc(
    config: &Path,
    file: &Path,
    campaign: Option<&str>,
    region: &str,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<Ended> {
    let cfg = Config::load(config)?;
    let store = crate::store::open(cfg.store.url()?.expose()).await?;
    let region = crate::campaign::phone::region(region)
        .ok_or_else(|| anyhow::anyhow!("--region {region:?}: not an ISO 3166 region"))?;
    if let Some(c) = campaign
        && store.campaign(c).await?.is_none()
    {
        anyhow::bail!("--campaign {c:?}: no such campaign in the store");
    }
    let (reader, bar) = open(file)?;
    let report = import_dnc(&store, campaign.map(String::from), region, reader, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    summary(&report, json, out)
}
