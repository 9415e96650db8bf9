//! The parsing thread: reads the file a batch at a time, checks each row,
//! and hands the batches over through a short queue.

use super::lines::{LineEnds, Lines, NotingLineEnds};
use super::{BATCH, ImportError};
use crate::campaign::settings::FieldError;
use std::io::Read;
use tokio::sync::mpsc;

/// The parser's batches, and its end: the header columns it did not use,
/// or why the file could not be read.
type Parsing<T> = (
    mpsc::Receiver<Batch<T>>,
    tokio::task::JoinHandle<Result<Vec<String>, String>>,
);

/// What the parsing thread hands over: good rows (with their lines) and
/// the bad rows' errors.
pub(super) struct Batch<T> {
    pub(super) good: Vec<(u64, T)>,
    pub(super) bad: Vec<(u64, FieldError)>,
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

/// Runs the parser on its own thread, a batch at a time.
pub(super) fn parse_in_thread<T: Send + 'static>(
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
                    unreadable.push((
                        line,
                        crate::campaign::settings::field_error("row", e.to_string()),
                    ));
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
pub(super) async fn parser_end(
    job: tokio::task::JoinHandle<Result<Vec<String>, String>>,
) -> Result<Vec<String>, ImportError> {
    match job.await {
        Ok(r) => r.map_err(ImportError::File),
        Err(e) => Err(ImportError::File(format!("the parser stopped: {e}"))),
    }
}
