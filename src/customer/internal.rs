//! dialpop's own store as a source: its customers table (record) and the
//! calls it made to the customer (history).

use super::config::SourceRole;
use super::source::{FailureKind, Query, Raw, SourceDriver, SourceError};
use crate::store::Store;
use async_trait::async_trait;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub struct InternalSource {
    store: Arc<dyn Store>,
    role: SourceRole,
}

impl InternalSource {
    pub fn new(store: Arc<dyn Store>, role: SourceRole) -> InternalSource {
        InternalSource { store, role }
    }
}

fn ms_to_rfc3339(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

#[async_trait]
impl SourceDriver for InternalSource {
    async fn fetch(&self, q: &Query<'_>) -> Result<Raw, SourceError> {
        let db =
            |e: crate::store::StoreError| SourceError::new(FailureKind::Database, e.to_string());
        let Some(id) = q.lookup.customer_id.as_deref() else {
            return Ok(Raw::NotFound { raw: String::new() });
        };
        let doc = match self.role {
            SourceRole::Record => {
                let Some(c) = self.store.customer(id).await.map_err(db)? else {
                    return Ok(Raw::NotFound { raw: String::new() });
                };
                let mut m = Map::new();
                m.insert("id".into(), c.id.into());
                m.insert("name".into(), c.name.into());
                m.insert("phone".into(), c.phone.into());
                if let Some(e) = c.email {
                    m.insert("email".into(), e.into());
                }
                if let Some(t) = c.tier {
                    m.insert("tier".into(), t.into());
                }
                m.insert("vip".into(), c.vip.into());
                for (k, v) in c.fields {
                    m.entry(k).or_insert(v);
                }
                Value::Object(m)
            }
            SourceRole::History => {
                let calls = self
                    .store
                    .customer_calls(id, q.page.limit, q.page.offset)
                    .await
                    .map_err(db)?;
                Value::Array(
                    calls
                        .into_iter()
                        .map(|(a, campaign)| {
                            let talk = match (a.answer_ms, a.hangup_ms) {
                                (Some(s), Some(e)) if e >= s => json!((e - s) / 1000),
                                _ => Value::Null,
                            };
                            json!({
                                "call_id": a.call_id,
                                "campaign_id": campaign,
                                "agent_id": a.agent_id,
                                "started": ms_to_rfc3339(a.originate_ms),
                                "outcome": a.outcome,
                                "cause": a.hangup_cause,
                                "talk_seconds": talk,
                            })
                        })
                        .collect(),
                )
            }
        };
        let raw = doc.to_string();
        Ok(Raw::Found { doc, raw })
    }

    fn describe(&self) -> String {
        match self.role {
            SourceRole::Record => "dialpop store: customers".into(),
            SourceRole::History => "dialpop store: past calls".into(),
        }
    }
}
