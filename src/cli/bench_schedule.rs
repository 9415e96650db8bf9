//! `dialpop bench-schedule`: the scheduling layer's two figures, each with
//! a baseline from the same run. CSV import of N rows into a fresh SQLite
//! store (rows/s and peak memory) against reading the same file with the
//! csv crate alone; and the next-task claim with a small queue against a
//! large one (time per claim, and their ratio).

use crate::campaign::import::import_tasks;
use crate::store::{
    Campaign, CampaignSettings, CampaignState, ClaimFilter, NewTask, Store, now_ms,
};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// A valid New York number for row `i` (212, exchanges 200–999).
fn number(i: u64) -> String {
    format!("+1212{}{:04}", 200 + (i / 10_000) % 800, i % 10_000)
}

fn write_csv(path: &std::path::Path, rows: u64) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "external_id,customer_id,phone,priority,tags,var.offer")?;
    for i in 0..rows {
        writeln!(
            w,
            "x{i},c{i},{},{},{},o{}",
            number(i),
            i % 10,
            if i % 3 == 0 { "vip" } else { "std" },
            i % 100
        )?;
    }
    Ok(())
}

async fn store_with_campaign(
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(Arc<dyn Store>, Campaign)> {
    let store = crate::store::open(&format!("sqlite://{}", dir.join(name).display())).await?;
    let now = now_ms();
    let c = Campaign {
        id: "bench".into(),
        name: "bench".into(),
        state: CampaignState::Running,
        settings: CampaignSettings::default(),
        created_ms: now,
        updated_ms: now,
    };
    store.insert_campaign(&c).await?;
    Ok((store, c))
}

/// Mean time per claim (µs) over `n` claims.
async fn claims(store: &Arc<dyn Store>, n: u64) -> anyhow::Result<f64> {
    let f = ClaimFilter {
        campaign_id: "bench".into(),
        ..ClaimFilter::default()
    };
    let t = Instant::now();
    for _ in 0..n {
        store
            .claim_next_task(&f, i64::MAX / 2)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the queue ran dry"))?;
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / n as f64)
}

pub async fn run(
    rows: u64,
    small_queue: u64,
    claims_n: u64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("tasks.csv");
    write_csv(&csv, rows)?;
    let bytes = std::fs::metadata(&csv)?.len();

    // Baseline: the file read and split into records, nothing else.
    let t = Instant::now();
    let mut reader = csv::Reader::from_path(&csv)?;
    let mut record = csv::StringRecord::new();
    let mut n = 0u64;
    while reader.read_record(&mut record)? {
        n += 1;
    }
    let parse_s = t.elapsed().as_secs_f64();

    let (big, campaign) = store_with_campaign(dir.path(), "big.db").await?;
    // Middle figure: every row read and checked (the phone parsed and
    // validated, the zone found), nothing written.
    let t = Instant::now();
    let file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(&csv)?);
    let (good, _) =
        crate::campaign::import::check_only(file, &campaign).map_err(|e| anyhow::anyhow!(e))?;
    let check_s = t.elapsed().as_secs_f64();
    let rss_before = super::process_stats::current_rss_mb();
    let t = Instant::now();
    let file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(&csv)?);
    let report = import_tasks(&big, &campaign, file, None, |_| {}).await?;
    let import_s = t.elapsed().as_secs_f64();
    let peak = super::process_stats::process_figures().0;
    anyhow::ensure!(
        report.added == rows,
        "imported {} of {rows} rows: {:?}",
        report.added,
        report.errors.first()
    );

    let (small, _) = store_with_campaign(dir.path(), "small.db").await?;
    let t = Instant::now();
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..small_queue {
        batch.push(NewTask {
            campaign_id: "bench".into(),
            customer_id: format!("c{i}"),
            phone: number(i),
            priority: (i % 10) as i64,
            ..NewTask::default()
        });
        if batch.len() == 5_000 {
            small.add_tasks(&batch).await?;
            batch.clear();
        }
    }
    small.add_tasks(&batch).await?;
    let store_s = t.elapsed().as_secs_f64();
    let small_us = claims(&small, claims_n).await?;
    let big_us = claims(&big, claims_n).await?;
    // The same large queue once a national-size do-not-call list is loaded
    // (none of its numbers is in the queue, as for most claims): each claim
    // reads the list, and must not pay for its size.
    let dnc_n = rows;
    let mut entries = Vec::with_capacity(5_000);
    for i in 0..dnc_n {
        entries.push(crate::store::DncEntry {
            phone: format!("+1646{}{:04}", 200 + (i / 10_000) % 800, i % 10_000),
            campaign_id: None,
            reason: None,
            added_ms: 0,
        });
        if entries.len() == 5_000 {
            big.add_dnc(&entries).await?;
            entries.clear();
        }
    }
    big.add_dnc(&entries).await?;
    let dnc_us = claims(&big, claims_n).await?;

    let v = serde_json::json!({
        "import": {
            "rows": rows,
            "file_mb": bytes as f64 / 1e6,
            "rows_per_s": rows as f64 / import_s,
            "seconds": import_s,
            "baseline_parse_rows_per_s": n as f64 / parse_s,
            "checked_rows_per_s": good as f64 / check_s,
            "stored_rows_per_s": small_queue as f64 / store_s,
            "import_vs_parse": (rows as f64 / import_s) / (n as f64 / parse_s),
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak,
        },
        "claim": {
            "claims": claims_n,
            "queued_small": small_queue,
            "queued_large": rows,
            "small_us_per_claim": small_us,
            "large_us_per_claim": big_us,
            "ratio_large_to_small": big_us / small_us,
            "dnc_entries": dnc_n,
            "large_with_dnc_us_per_claim": dnc_us,
            "ratio_with_dnc_to_small": dnc_us / small_us,
        },
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}
