//! The lease check of fenced writes (`Write::Fenced`).
//!
//! Once per lease and transaction the lease row is read `FOR SHARE`: a
//! takeover (which bumps the token by an `UPDATE` of that row) then waits
//! until this transaction has committed, so the new owner's recovery
//! reads every write the old owner got in, and none lands after it. A
//! plain check in each statement would not do: under READ COMMITTED the
//! old owner's transaction could see the old token and still commit after
//! the new owner had read the store. The holder's own renewals wait for
//! its writes' commits as well; a writer's batch takes milliseconds.
//!
//! SQLite has no leases (a cluster needs PostgreSQL, which the config
//! checks): there a fenced write is written as it is.

use super::*;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// The leases checked in one transaction, and the writes they turned
/// away.
#[derive(Default)]
pub(super) struct Checked {
    held: HashMap<Fence, bool>,
    refused: u64,
}

impl SqlStore {
    /// Whether a write under `fence` may land in this transaction.
    pub(super) async fn holds(
        &self,
        conn: &mut AnyConnection,
        fence: &Fence,
        checked: &mut Checked,
    ) -> StoreResult<bool> {
        if self.dialect == Dialect::Sqlite {
            return Ok(true);
        }
        let held = match checked.held.get(fence) {
            Some(h) => *h,
            None => {
                let row = self
                    .q("SELECT token FROM switch_leases WHERE switch_name = ? AND token = ? FOR SHARE")
                    .bind(fence.switch.clone())
                    .bind(fence.token)
                    .fetch_optional(&mut *conn)
                    .await?;
                let h = row.is_some();
                if !h {
                    tracing::warn!(
                        switch = %fence.switch,
                        token = fence.token,
                        "writes for a switch whose lease has moved on are dropped"
                    );
                }
                checked.held.insert(fence.clone(), h);
                h
            }
        };
        if !held {
            checked.refused += 1;
        }
        Ok(held)
    }

    pub(super) fn count_fenced(&self, checked: &Checked) {
        if checked.refused > 0 {
            self.fenced.fetch_add(checked.refused, Ordering::Relaxed);
        }
    }
}
