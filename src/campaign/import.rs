//! CSV import of tasks and do-not-call entries: streamed (a parsing thread
//! hands batches to the store through a short queue, so memory stays flat
//! however long the file), good rows kept, every bad row reported with its
//! line number and reason, columns found by their header names.

use super::intake::{Intake, TaskInput};
use super::phone;
use super::settings::FieldError;
use crate::store::{Campaign, DncEntry, NewTask, Store, StoreError, now_ms};
use serde::Serialize;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

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

/// Where each field is in a row.
struct TaskColumns {
    customer_id: usize,
    phone: usize,
    priority: Option<usize>,
    tags: Option<usize>,
    not_before: Option<usize>,
    not_after: Option<usize>,
    time_zone: Option<usize>,
    external_id: Option<usize>,
    variables: Vec<(String, usize)>,
}

fn find(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

fn task_columns(header: &csv::StringRecord) -> Result<(TaskColumns, Vec<String>), String> {
    let need = |names: &[&str]| {
        find(header, names).ok_or_else(|| format!("the header has no {} column", names[0]))
    };
    let cols = TaskColumns {
        customer_id: need(&["customer_id", "customer"])?,
        phone: need(&["phone", "phone_number", "number"])?,
        priority: find(header, &["priority"]),
        tags: find(header, &["tags"]),
        not_before: find(header, &["not_before"]),
        not_after: find(header, &["not_after"]),
        time_zone: find(header, &["time_zone", "timezone", "tz"]),
        external_id: find(header, &["external_id", "idempotency_key"]),
        variables: header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let h = h.trim();
                h.strip_prefix("var.")
                    .or_else(|| h.strip_prefix("var_"))
                    .map(|n| (n.to_string(), i))
            })
            .collect(),
    };
    let mut used = vec![cols.customer_id, cols.phone];
    used.extend(
        [
            cols.priority,
            cols.tags,
            cols.not_before,
            cols.not_after,
            cols.time_zone,
            cols.external_id,
        ]
        .into_iter()
        .flatten(),
    );
    used.extend(cols.variables.iter().map(|(_, i)| *i));
    let ignored = header
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, h)| h.to_string())
        .collect();
    Ok((cols, ignored))
}

fn task_input(c: &TaskColumns, r: &csv::StringRecord) -> Result<TaskInput, FieldError> {
    let get = |i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let priority = match get(c.priority) {
        Some(p) => Some(p.parse::<i64>().map_err(|_| {
            super::settings::field_error("priority", format!("{p:?} is not a whole number"))
        })?),
        None => None,
    };
    Ok(TaskInput {
        customer_id: get(Some(c.customer_id)).unwrap_or_default(),
        phone: get(Some(c.phone)).unwrap_or_default(),
        priority,
        tags: get(c.tags)
            .map(|t| {
                t.split([';', '|', ','])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        not_before: get(c.not_before),
        not_after: get(c.not_after),
        time_zone: get(c.time_zone),
        variables: c
            .variables
            .iter()
            .filter_map(|(n, i)| get(Some(*i)).map(|v| (n.clone(), v)))
            .collect(),
        idempotency_key: get(c.external_id),
    })
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

/// The parser's batches, and its end: the header columns it did not use,
/// or why the file could not be read.
type Parsing<T> = (
    mpsc::Receiver<Batch<T>>,
    tokio::task::JoinHandle<Result<Vec<String>, String>>,
);

/// What the parsing thread hands over: good rows (with their lines) and
/// the bad rows' errors.
struct Batch<T> {
    good: Vec<(u64, T)>,
    bad: Vec<(u64, FieldError)>,
}

/// Checks a batch of rows, in their order. One thread: phonenumber
/// matches patterns through one regex cache behind one lock, so a second
/// checking thread only waits on it, and takes the core the store's writes
/// need (measured: 63,000 rows/s with two, against more with one).
fn check_batch<T>(
    rows: Vec<(u64, csv::StringRecord)>,
    row: &impl Fn(&csv::StringRecord) -> Result<T, FieldError>,
) -> Batch<T> {
    let mut batch = Batch {
        good: Vec::with_capacity(rows.len()),
        bad: Vec::new(),
    };
    for (line, r) in rows {
        match row(&r) {
            Ok(t) => batch.good.push((line, t)),
            Err(e) => batch.bad.push((line, e)),
        }
    }
    batch
}

/// The CRs and LFs the parser has been handed, with their byte offsets:
/// csv's own line numbers are one short after a CRLF line end and after a
/// blank line (rust-csv #395, #208: a record's position is taken before
/// the line ends that precede it are skipped), so the import counts lines
/// itself. Only the line ends from the current record on are kept.
type LineEnds = std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<(u64, u8)>>>;

/// The file as the parser reads it, noting every CR and LF on the way.
struct NotingLineEnds<R> {
    inner: R,
    at: u64,
    ends: LineEnds,
}

impl<R: Read> Read for NotingLineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.borrow_mut();
        for i in memchr::memchr2_iter(b'\r', b'\n', &buf[..n]) {
            ends.push_back((self.at + i as u64, buf[i]));
        }
        self.at += n as u64;
        Ok(n)
    }
}

/// Line numbers (1-based, as an editor shows them) of the records. A line
/// ends at an LF, or at a CR that no LF follows (csv ends records there
/// too).
struct Lines {
    ends: LineEnds,
    /// Lines ended before the first line end still in `ends`.
    before: u64,
}

/// Whether the line end at `i` ends a line (a CR followed by an LF does
/// not: the LF does).
fn ends_line(ends: &std::collections::VecDeque<(u64, u8)>, i: usize) -> bool {
    let (at, b) = ends[i];
    b == b'\n' || ends.get(i + 1) != Some(&(at + 1, b'\n'))
}

impl Lines {
    /// The line of a record csv says starts at byte `start`; records are
    /// asked for in file order, once csv has read them. csv skips the line
    /// ends at the start of a record (the LF of a CRLF, blank lines): they
    /// count.
    fn line_of(&mut self, start: u64) -> u64 {
        let mut ends = self.ends.borrow_mut();
        while ends.front().is_some_and(|&(at, _)| at < start) {
            self.before += u64::from(ends_line(&ends, 0));
            ends.pop_front();
        }
        let mut skipped = 0;
        for (i, next) in (0..ends.len()).zip(start..) {
            if ends[i].0 != next {
                break;
            }
            skipped += u64::from(ends_line(&ends, i));
        }
        1 + self.before + skipped
    }
}

/// Runs the parser on its own thread, a batch at a time.
fn parse_in_thread<T: Send + 'static>(
    reader: impl Read + Send + 'static,
    header_check: impl FnOnce(&csv::StringRecord) -> Result<Vec<String>, String> + Send + 'static,
    row: impl Fn(&csv::StringRecord) -> Result<T, FieldError> + Send + 'static,
) -> Parsing<T> {
    let (tx, rx) = mpsc::channel::<Batch<T>>(2);
    let job = tokio::task::spawn_blocking(move || {
        let ends = LineEnds::default();
        let mut lines = Lines {
            ends: ends.clone(),
            before: 0,
        };
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(NotingLineEnds {
                inner: reader,
                at: 0,
                ends,
            });
        let header = csv
            .headers()
            .map_err(|e| format!("cannot read the header: {e}"))?
            .clone();
        let ignored = header_check(&header)?;
        let mut rows: Vec<(u64, csv::StringRecord)> = Vec::with_capacity(BATCH);
        let mut unreadable: Vec<(u64, FieldError)> = Vec::new();
        let mut end = false;
        while !end {
            let mut record = csv::StringRecord::new();
            let start = csv.position().byte();
            match csv.read_record(&mut record) {
                Ok(false) => end = true,
                Ok(true) => {
                    let line = lines.line_of(record.position().map_or(start, |p| p.byte()));
                    rows.push((line, record));
                }
                Err(e) => {
                    let line = lines.line_of(e.position().map_or(start, |p| p.byte()));
                    // An I/O error ends the file; a malformed row does not.
                    end = matches!(e.kind(), csv::ErrorKind::Io(_));
                    unreadable.push((line, super::settings::field_error("row", e.to_string())));
                }
            }
            if end || rows.len() + unreadable.len() >= BATCH {
                let mut batch = check_batch(std::mem::take(&mut rows), &row);
                batch.bad.append(&mut unreadable);
                if tx.blocking_send(batch).is_err() {
                    return Ok(ignored);
                }
            }
        }
        Ok(ignored)
    });
    (rx, job)
}

/// How the parser ended: the columns it did not use, or why the file could
/// not be read.
async fn parser_end(
    job: tokio::task::JoinHandle<Result<Vec<String>, String>>,
) -> Result<Vec<String>, ImportError> {
    match job.await {
        Ok(r) => r.map_err(ImportError::File),
        Err(e) => Err(ImportError::File(format!("the parser stopped: {e}"))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{CampaignSettings, CampaignState};

    async fn store_with(campaign: &Campaign) -> Arc<dyn Store> {
        let store = crate::store::open("sqlite::memory:").await.expect("store");
        store.insert_campaign(campaign).await.expect("campaign");
        store
    }

    fn campaign() -> Campaign {
        Campaign {
            id: "c".into(),
            name: "c".into(),
            state: CampaignState::Running,
            settings: CampaignSettings::default(),
            created_ms: 0,
            updated_ms: 0,
        }
    }

    fn lines(r: &ImportReport) -> Vec<u64> {
        r.errors.iter().map(|e| e.line).collect()
    }

    /// Found by fuzzing (fuzz/fuzz_targets/csv_import.rs): with CRLF line
    /// ends, as spreadsheets write CSV, every bad row was reported on the
    /// line before its own (the first one on the header's line). The same
    /// cause put a row after a blank line on the blank line, and csv counts
    /// only LFs, so with CR line ends (old Mac exports) every row was on
    /// line 1.
    #[tokio::test]
    async fn bad_rows_are_reported_on_their_own_lines_whatever_the_line_ends() {
        let c = campaign();
        let store = store_with(&c).await;
        for (file, want) in [
            (
                &b"customer_id,phone\r\n,+12127360001\r\nc2,bad\r\n"[..],
                vec![2, 3],
            ),
            (b"customer_id,phone\n,+12127360001\nc2,bad\n", vec![2, 3]),
            (
                b"customer_id,phone\n\n,+12127360001\n\r\n\r\nc2,bad",
                vec![3, 6],
            ),
            (
                b"customer_id,phone\rc1,bad\r\"c2\nstill c2\",bad\nc3,bad",
                vec![2, 3, 5],
            ),
            (
                b"customer_id,phone\r\nc1,+12127360011\r\nc\xff,bad\r\n",
                vec![3],
            ),
        ] {
            let r = import_tasks(
                &store,
                &c,
                std::io::Cursor::new(file.to_vec()),
                None,
                |_| {},
            )
            .await
            .expect("imports");
            assert_eq!(lines(&r), want, "{:?}", String::from_utf8_lossy(file));
        }
    }

    /// Seen while writing the fuzz target's file-order check: a do-not-call
    /// file's unreadable rows were listed after its bad numbers.
    #[tokio::test]
    async fn dnc_errors_are_in_file_order() {
        let store = store_with(&campaign()).await;
        let file = b"phone,reason\n\xff,x\nnope,\n+12127360110,asked\n".to_vec();
        let r = import_dnc(
            &store,
            None,
            phonenumber::country::Id::US,
            std::io::Cursor::new(file),
            |_| {},
        )
        .await
        .expect("imports");
        assert_eq!(lines(&r), vec![2, 3]);
        assert_eq!((r.rows, r.added, r.rejected), (3, 1, 2));
    }
}
