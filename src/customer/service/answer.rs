//! A source's answer in dialpop's fields: the record, or the history page
//! with where the next one starts, found by the source's paths and mapping.

use super::SourceEntry;
use crate::customer::cache::{Fetched, HistoryPage};
use crate::customer::config::{Paging, SourceRole};
use crate::customer::mapping::MappingError;
use crate::customer::source::{PageRequest, Raw};
use serde_json::Value;

/// A source's answer in dialpop's fields.
pub(super) fn map_answer(
    e: &SourceEntry,
    raw: &Raw,
    page: &PageRequest,
) -> Result<Fetched, MappingError> {
    let doc = match raw {
        Raw::NotFound { .. } => return Ok(Fetched::NotFound),
        Raw::Found { doc, .. } => doc,
    };
    match e.cfg.role {
        SourceRole::Record => {
            let target = match &e.record_path {
                Some(p) => p.get(doc),
                None => Some(doc.clone()),
            };
            // An empty search result, or `"data": null`, is "not found".
            let target = match target {
                None | Some(Value::Null) => return Ok(Fetched::NotFound),
                Some(Value::Array(a)) => match a.into_iter().next() {
                    Some(first) => first,
                    None => return Ok(Fetched::NotFound),
                },
                Some(v) => v,
            };
            Ok(Fetched::Record {
                fields: e.mapping.apply(&e.name, &target)?,
            })
        }
        SourceRole::History => {
            let list = match &e.items_path {
                Some(p) => p.get(doc),
                None => Some(doc.clone()),
            };
            let items = match list {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a,
                Some(other) => {
                    return Err(MappingError {
                        source_name: e.name.to_string(),
                        field: "items".into(),
                        path: e
                            .items_path
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "$".into()),
                        value: match other {
                            Value::Object(_) => "an object".into(),
                            _ => "a scalar".into(),
                        },
                        problem: "expected a list".into(),
                    });
                }
            };
            let limit = page.limit.max(1) as usize;
            let full = items.len() >= limit;
            let items = items
                .iter()
                .take(limit)
                .map(|it| e.mapping.apply(&e.name, it))
                .collect::<Result<Vec<_>, _>>()?;
            let total = doc.get("total").and_then(Value::as_u64);
            let mut out = HistoryPage {
                next_offset: None,
                next_cursor: None,
                total,
                items,
            };
            match e.cfg.paging {
                Paging::Offset => {
                    let next = page.offset + out.items.len() as u64;
                    let more = match total {
                        Some(t) => next < t,
                        None => full,
                    };
                    if more {
                        out.next_offset = Some(next);
                    }
                }
                Paging::Cursor => {
                    out.next_cursor =
                        e.cursor_path
                            .as_ref()
                            .and_then(|p| p.get(doc))
                            .and_then(|v| match v {
                                Value::String(s) if !s.is_empty() => Some(s),
                                Value::Number(n) => Some(n.to_string()),
                                _ => None,
                            });
                }
            }
            Ok(Fetched::History { page: out })
        }
    }
}
