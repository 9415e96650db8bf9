//! The store writer: the one way writes leave the hot path. Callers submit
//! `Write`s to a bounded queue (a full queue makes them wait: backpressure,
//! not unbounded spawned tasks); one task takes whatever has queued up and
//! commits it as one transaction (group commit), in submission order, so a
//! pop's row is always written before its acknowledgement.
//!
//! A batch that fails is retried; if it keeps failing, its writes are tried
//! one by one so that one bad write cannot hold back the others, and a write
//! that still fails is counted and logged, never dropped silently.

use super::{Store, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Retries of a failing batch (then of each of its writes) before giving up.
const RETRIES: u32 = 4;

/// What happened to the writes so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    pub written: u64,
    pub batches: u64,
    pub retried: u64,
    pub failed: u64,
    /// Writes waiting in the queue now.
    pub queued: u64,
}

#[derive(Default)]
struct Counters {
    commit_latency: crate::metrics::Latency,
    written: AtomicU64,
    batches: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    queued: AtomicU64,
}

enum Msg {
    Writes(Vec<Write>, Option<Box<dyn FnOnce() + Send>>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct StoreWriter {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    /// Every write through this handle is made under this lease.
    fence: Option<crate::store::Fence>,
}

impl StoreWriter {
    /// Starts the writer; `queue` is how many submissions may wait.
    pub fn start(store: Arc<dyn Store>, queue: usize) -> StoreWriter {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(store, rx, counters.clone()));
        StoreWriter {
            tx,
            counters,
            fence: None,
        }
    }

    /// The same writer (its queue, its batches) for one switch's calls
    /// under that switch's lease: each write it takes lands only while the
    /// lease is held under this token.
    pub fn fenced(&self, fence: crate::store::Fence) -> StoreWriter {
        StoreWriter {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// Queues one write (waits while the queue is full).
    pub async fn submit(&self, w: Write) {
        self.send(vec![w], None).await;
    }

    /// Queues writes that belong together (one transaction), and a function
    /// to run once they are committed (or given up on).
    pub async fn submit_then(&self, writes: Vec<Write>, then: Box<dyn FnOnce() + Send>) {
        self.send(writes, Some(then)).await;
    }

    async fn send(&self, writes: Vec<Write>, then: Option<Box<dyn FnOnce() + Send>>) {
        let writes = match &self.fence {
            None => writes,
            Some(fence) => writes
                .into_iter()
                .map(|w| match w {
                    w @ Write::Fenced { .. } => w,
                    w => Write::Fenced {
                        fence: fence.clone(),
                        write: Box::new(w),
                    },
                })
                .collect(),
        };
        let n = writes.len() as u64;
        self.counters.queued.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(Msg::Writes(writes, then)).await.is_err() {
            self.counters.queued.fetch_sub(n, Ordering::Relaxed);
            self.counters.failed.fetch_add(n, Ordering::Relaxed);
            tracing::error!(writes = n, "store writer stopped; writes lost");
        }
    }

    /// Returns once everything submitted before it is committed.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// How long commits take, for `/metrics`.
    pub fn commit_latency(&self) -> crate::metrics::Counted {
        self.counters.commit_latency.counted()
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            written: c.written.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>, c: Arc<Counters>) {
    let mut batch: Vec<Write> = Vec::with_capacity(MAX_BATCH);
    let mut after: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Take what has queued up meanwhile: one transaction for all.
        while let Some(m) = next.take() {
            match m {
                Msg::Writes(w, then) => {
                    batch.extend(w);
                    after.extend(then);
                }
                Msg::Flush(tx) => flushes.push(tx),
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let started = std::time::Instant::now();
            commit(&*store, &batch, &c).await;
            c.commit_latency.record(started.elapsed());
            c.queued.fetch_sub(n, Ordering::Relaxed);
            batch.clear();
        }
        for f in after.drain(..) {
            f();
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}

async fn commit(store: &dyn Store, batch: &[Write], c: &Counters) {
    if with_retries(store, batch, c).await {
        c.batches.fetch_add(1, Ordering::Relaxed);
        c.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        return;
    }
    // One by one: a write the store refuses must not hold back the others.
    for w in batch {
        if with_retries(store, std::slice::from_ref(w), c).await {
            c.written.fetch_add(1, Ordering::Relaxed);
        } else {
            c.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                write = kind(w),
                "a store write failed after {RETRIES} retries; it is not recorded"
            );
        }
    }
}

async fn with_retries(store: &dyn Store, writes: &[Write], c: &Counters) -> bool {
    let mut wait = Duration::from_millis(20);
    for attempt in 0..=RETRIES {
        match store.apply(writes).await {
            Ok(()) => return true,
            Err(e) if attempt < RETRIES => {
                c.retried.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, writes = writes.len(), retry_in = ?wait, "store write failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = writes.len(), "store write failed");
            }
        }
    }
    false
}

/// The write's kind, for logs (no ids or customer data).
fn kind(w: &Write) -> &'static str {
    match w {
        Write::Ringing { .. } => "ringing",
        Write::Connected { .. } => "connected",
        Write::Answer { .. } => "answer",
        Write::CloseAttempt { .. } => "close_attempt",
        Write::FinishTask { .. } => "finish_task",
        Write::Decision(_) => "dial_decision",
        Write::PopAcked { .. } => "pop_acked",
        Write::Disposition(_) => "disposition",
        Write::AddDnc(_) => "add_dnc",
        Write::WrapEnded { .. } => "wrap_ended",
        Write::PopRule { .. } => "pop_rule",
        Write::Pop(_) => "pop",
        Write::AgentState { .. } => "agent_state",
        Write::Fenced { write, .. } => kind(write),
    }
}
