//! CSV import of tasks and do-not-call entries: streamed (a parsing thread
//! hands batches to the store through a short queue, so memory stays flat
//! however long the file), good rows kept, every bad row reported with its
//! line number and reason, columns found by their header names.

mod columns;
mod lines;
mod parser;
#[cfg(test)]
mod tests;

use super::intake::Intake;
use super::phone;
use super::settings::FieldError;
use crate::store::{Campaign, DncEntry, NewTask, Store, StoreError, now_ms};
use columns::{TaskColumns, find, task_columns, task_input};
use parser::{Batch, parse_in_thread, parser_end};
use serde::Serialize;
use std::io::Read;
use std::sync::Arc;

/// Rows per store transaction.
pub const BATCH: usize = 5_000;
/// Bad rows reported one by one; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 1_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    pub added: u64,
    /// Rows whose external id (or number, for do-not-call) was already in.
    pub duplicates: u64,
    pub rejected: u64,
    pub errors: Vec<RowError>,
    /// Bad rows beyond those listed.
    pub errors_not_listed: u64,
    /// Header columns that were not used.
    pub ignored_columns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowError {
    /// 1-based, as an editor shows it (the header is line 1).
    pub line: u64,
    pub field: String,
    pub error: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be imported at all (no header, a required column
    /// missing); nothing was written.
    #[error("{0}")]
    File(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl ImportReport {
    fn reject(&mut self, line: u64, e: FieldError) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(RowError {
                line,
                field: e.field,
                error: e.message,
            });
        } else {
            self.errors_not_listed += 1;
        }
    }
}

/// Reads and checks every row as the import does, writing nothing: (good
/// rows, bad rows). The benchmark's middle figure (how much of an import
/// is the checking).
pub fn check_only(reader: impl Read, campaign: &Campaign) -> Result<(u64, u64), String> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .clone();
    let (cols, _) = task_columns(&header)?;
    let now = now_ms();
    let intake = Intake::new(campaign.clone());
    let (mut good, mut bad) = (0, 0);
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record).map_err(|e| e.to_string())? {
        match task_input(&cols, &record).and_then(|i| intake.task(&i, now, None)) {
            Ok(_) => good += 1,
            Err(_) => bad += 1,
        }
    }
    Ok((good, bad))
}

/// Imports tasks into `campaign`. `progress` is told the rows read after
/// each batch.
pub async fn import_tasks(
    store: &Arc<dyn Store>,
    campaign: &Campaign,
    reader: impl Read + Send + 'static,
    submitted_by: Option<String>,
    progress: impl Fn(u64),
) -> Result<ImportReport, ImportError> {
    let intake = Intake::new(campaign.clone());
    let columns: Arc<std::sync::OnceLock<TaskColumns>> = Arc::new(std::sync::OnceLock::new());
    let cols_for_header = columns.clone();
    let now = now_ms();
    let (mut rx, job) = parse_in_thread(
        reader,
        move |h| {
            let (cols, ignored) = task_columns(h)?;
            let _ = cols_for_header.set(cols);
            Ok(ignored)
        },
        move |r| {
            let Some(cols) = columns.get() else {
                return Err(super::settings::field_error("row", "no header"));
            };
            let input = task_input(cols, r)?;
            intake.task(&input, now, submitted_by.as_deref())
        },
    );
    let mut report = ImportReport::default();
    while let Some(b) = rx.recv().await {
        add_batch(store, &mut report, b).await?;
        progress(report.rows);
    }
    report.ignored_columns = parser_end(job).await?;
    Ok(report)
}

async fn add_batch(
    store: &Arc<dyn Store>,
    report: &mut ImportReport,
    b: Batch<NewTask>,
) -> Result<(), ImportError> {
    report.rows += (b.good.len() + b.bad.len()) as u64;
    let mut bad = b.bad;
    bad.sort_by_key(|(l, _)| *l);
    for (line, e) in bad {
        report.reject(line, e);
    }
    let tasks: Vec<NewTask> = b.good.into_iter().map(|(_, t)| t).collect();
    let added = store.insert_tasks(&tasks).await?;
    report.added += added;
    report.duplicates += tasks.len() as u64 - added;
    Ok(())
}

/// Imports do-not-call numbers (`phone` and an optional `reason` column),
/// normalised with `region`, into the campaign's list (None: the global
/// one).
pub async fn import_dnc(
    store: &Arc<dyn Store>,
    campaign_id: Option<String>,
    region: phonenumber::country::Id,
    reader: impl Read + Send + 'static,
    progress: impl Fn(u64),
) -> Result<ImportReport, ImportError> {
    let cols: Arc<std::sync::OnceLock<(usize, Option<usize>)>> =
        Arc::new(std::sync::OnceLock::new());
    let for_header = cols.clone();
    let now = now_ms();
    let (mut rx, job) = parse_in_thread(
        reader,
        move |h| {
            let phone = find(h, &["phone", "phone_number", "number"])
                .ok_or("the header has no phone column")?;
            let reason = find(h, &["reason"]);
            let _ = for_header.set((phone, reason));
            Ok(h.iter()
                .enumerate()
                .filter(|(i, _)| *i != phone && Some(*i) != reason)
                .map(|(_, h)| h.to_string())
                .collect())
        },
        move |r| {
            let Some(&(p, reason)) = cols.get() else {
                return Err(super::settings::field_error("row", "no header"));
            };
            let number = phone::normalise(r.get(p).unwrap_or_default(), region)
                .map_err(|e| super::settings::field_error("phone", e))?;
            Ok(DncEntry {
                phone: number.e164,
                campaign_id: campaign_id.clone(),
                reason: reason
                    .and_then(|i| r.get(i))
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.chars().take(200).collect()),
                added_ms: now,
            })
        },
    );
    let mut report = ImportReport::default();
    while let Some(b) = rx.recv().await {
        report.rows += (b.good.len() + b.bad.len()) as u64;
        // In file order, as for tasks: unreadable rows come after the
        // checked ones in a batch.
        let mut bad = b.bad;
        bad.sort_by_key(|(l, _)| *l);
        for (line, e) in bad {
            report.reject(line, e);
        }
        let entries: Vec<DncEntry> = b.good.into_iter().map(|(_, e)| e).collect();
        let added = store.add_dnc(&entries).await?;
        report.added += added;
        report.duplicates += entries.len() as u64 - added;
        progress(report.rows);
    }
    report.ignored_columns = parser_end(job).await?;
    Ok(report)
}
