//! The pops' delivery and acknowledgement counts and latencies, kept by
//! the hub and read by `/metrics` and the demo's report.

use crate::metrics::Latency;
use std::sync::Arc;

/// Pop latencies (answer event read off the switch → ack received), in a
/// fixed-size histogram: a run of a million calls costs what a run of ten
/// does.
#[derive(Clone, Default)]
pub struct PopStats {
    delivered: Arc<std::sync::atomic::AtomicU64>,
    acked: Arc<std::sync::atomic::AtomicU64>,
    /// From the answer to the hand-over to a page's connection.
    sent: Latency,
    /// From the answer to the page's acknowledgement.
    ack: Latency,
}

impl PopStats {
    pub(super) fn delivered(&self, latency: std::time::Duration) {
        self.delivered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.sent.record(latency);
    }

    pub(super) fn acked(&self, latency: std::time::Duration) {
        self.acked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.ack.record(latency);
    }

    /// The acknowledgement latencies as histogram buckets, for `/metrics`.
    pub fn latency(&self) -> crate::metrics::Counted {
        self.ack.counted()
    }

    /// The hand-over latencies as histogram buckets, for `/metrics`.
    pub fn sent_latency(&self) -> crate::metrics::Counted {
        self.sent.counted()
    }

    /// (delivered, acked, p50, p99, max) in ms, of the acknowledgements.
    pub fn summary(&self) -> (u64, u64, f64, f64, f64) {
        let (_, p50, p99, max) = self.ack.summary_ms();
        (
            self.delivered.load(std::sync::atomic::Ordering::Relaxed),
            self.acked.load(std::sync::atomic::Ordering::Relaxed),
            p50,
            p99,
            max,
        )
    }
}
