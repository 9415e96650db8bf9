//! A template filled with one customer's record: the typed block tree a
//! page draws. Pure; every value is text by the time it leaves here.

use super::format::{self, Locale};
use super::template::{BlockSpec, Column, FieldSpec, Template};
use crate::campaign::pop_rules;
use crate::customer::HistoryBlock;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most history rows a pop carries per table; the rest are paged.
pub const MAX_ROWS: usize = 50;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub field: String,
    pub label: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Fields {
        title: String,
        column: Column,
        items: Vec<Item>,
    },
    Notes {
        title: String,
        column: Column,
        lines: Vec<String>,
    },
    History {
        title: String,
        column: Column,
        source: String,
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
        /// Where the next page starts, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_offset: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_cursor: Option<String>,
    },
}

impl Block {
    pub fn title(&self) -> &str {
        match self {
            Block::Fields { title, .. }
            | Block::Notes { title, .. }
            | Block::History { title, .. } => title,
        }
    }
}

/// What the agent's page shows for a pop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Screen {
    pub template: String,
    pub locale: Locale,
    pub header: Vec<Item>,
    pub blocks: Vec<Block>,
    /// The template could not be used, and why: the plain field list is
    /// shown instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl Screen {
    /// The customer fields on the screen (history columns are not the
    /// record's), for the pop log.
    pub fn fields_shown(&self) -> Vec<String> {
        let mut out: Vec<String> = self.header.iter().map(|i| i.field.clone()).collect();
        for b in &self.blocks {
            if let Block::Fields { items, .. } = b {
                out.extend(items.iter().map(|i| i.field.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn item(spec: &FieldSpec, fields: &Map<String, Value>, locale: Locale) -> Item {
    let v = fields.get(&spec.field).unwrap_or(&Value::Null);
    Item {
        field: spec.field.clone(),
        label: spec.label(locale),
        value: format::show(v, spec.format, &spec.options(), locale),
    }
}

/// The rows of one history page under a template's columns.
pub fn rows(
    columns: &[FieldSpec],
    items: &[Map<String, Value>],
    locale: Locale,
) -> Vec<Vec<String>> {
    items
        .iter()
        .take(MAX_ROWS)
        .map(|row| columns.iter().map(|c| item(c, row, locale).value).collect())
        .collect()
}

fn shown(spec: &BlockSpec, fields: &Map<String, Value>, level: Option<&str>) -> bool {
    let when = spec.when();
    let level_ok = when.levels.is_empty()
        || level.is_some_and(|l| when.levels.iter().any(|w| w.eq_ignore_ascii_case(l)));
    level_ok && pop_rules::decide(&when.filters, fields).pops
}

pub fn render(
    t: &Template,
    fields: &Map<String, Value>,
    history: &[HistoryBlock],
    level: Option<&str>,
    locale: Locale,
) -> Screen {
    let mut blocks: Vec<Block> = t
        .blocks
        .iter()
        .filter(|b| shown(b, fields, level))
        .map(|b| match b {
            BlockSpec::Fields {
                title,
                column,
                fields: specs,
                ..
            } => Block::Fields {
                title: title.get(locale).to_string(),
                column: *column,
                items: specs.iter().map(|s| item(s, fields, locale)).collect(),
            },
            BlockSpec::Notes {
                title,
                column,
                lines,
                ..
            } => Block::Notes {
                title: title.get(locale).to_string(),
                column: *column,
                lines: lines.iter().map(|l| l.get(locale).to_string()).collect(),
            },
            BlockSpec::History {
                title,
                column,
                source,
                columns,
                ..
            } => {
                let page = history.iter().find(|h| &h.source == source);
                Block::History {
                    title: title.get(locale).to_string(),
                    column: *column,
                    source: source.clone(),
                    columns: columns.iter().map(|c| c.label(locale)).collect(),
                    rows: page.map_or_else(Vec::new, |h| rows(columns, &h.page.items, locale)),
                    total: page.and_then(|h| h.page.total),
                    next_offset: page.and_then(|h| h.page.next_offset),
                    next_cursor: page.and_then(|h| h.page.next_cursor.clone()),
                }
            }
        })
        .collect();
    if t.other_history {
        let named = |source: &str| {
            t.blocks
                .iter()
                .any(|b| matches!(b, BlockSpec::History { source: s, .. } if s == source))
        };
        blocks.extend(
            history
                .iter()
                .filter(|h| !named(&h.source))
                .map(|h| plain_history(h, locale)),
        );
    }
    Screen {
        template: t.name.clone(),
        locale,
        header: t.header.iter().map(|s| item(s, fields, locale)).collect(),
        blocks,
        fallback: None,
    }
}

fn plain(field: &str) -> FieldSpec {
    FieldSpec {
        field: field.to_string(),
        label: None,
        format: format::Format::Text,
        currency: None,
        time_zone: None,
    }
}

/// The columns of a history page without a template: the keys its rows
/// have, in the order they first come (at most 12).
pub fn plain_columns(items: &[Map<String, Value>]) -> Vec<FieldSpec> {
    let mut keys: Vec<&String> = Vec::new();
    for row in items.iter().take(MAX_ROWS) {
        for k in row.keys() {
            if !keys.contains(&k) && keys.len() < 12 {
                keys.push(k);
            }
        }
    }
    keys.into_iter().map(|k| plain(k)).collect()
}

/// A history page as a plain table.
fn plain_history(h: &HistoryBlock, locale: Locale) -> Block {
    let columns = plain_columns(&h.page.items);
    Block::History {
        title: h.title.clone(),
        column: Column::Right,
        source: h.source.clone(),
        columns: columns.iter().map(|c| c.field.clone()).collect(),
        rows: rows(&columns, &h.page.items, locale),
        total: h.page.total,
        next_offset: h.page.next_offset,
        next_cursor: h.page.next_cursor.clone(),
    }
}

/// The plain list of every field and each history page as it came, for a
/// pop whose template could not be used.
pub fn fallback(
    fields: &Map<String, Value>,
    history: &[HistoryBlock],
    locale: Locale,
    reason: String,
) -> Screen {
    let mut blocks = vec![Block::Fields {
        title: match locale {
            Locale::En => "Customer".into(),
            Locale::ZhCn => "客户".into(),
        },
        column: Column::Left,
        items: fields
            .keys()
            .map(|k| item(&plain(k), fields, locale))
            .collect(),
    }];
    blocks.extend(history.iter().map(|h| plain_history(h, locale)));
    Screen {
        template: "plain".into(),
        locale,
        header: Vec::new(),
        blocks,
        fallback: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::cache::HistoryPage;
    use crate::popup::template::parse;
    use serde_json::json;

    fn vip_template() -> Template {
        parse(
            r#"{"name":"vip","header":[{"field":"name"},{"field":"balance","format":"money","currency":"CNY"}],
              "blocks":[
                {"kind":"fields","title":{"en":"Account manager","zh-CN":"客户经理"},
                 "when":{"filters":[{"field":"tier","op":"eq","value":"VIP"}]},
                 "fields":[{"field":"manager_phone","label":"Manager","format":"phone"}]},
                {"kind":"notes","title":"Hints","when":{"levels":["novice"]},"lines":["Greet by name"]},
                {"kind":"history","title":"Orders","source":"orders",
                 "columns":[{"field":"id","label":"Order"},{"field":"total","format":"money","currency":"CNY"}]}]}"#,
        )
        .expect("template")
    }

    fn fields(tier: &str) -> Map<String, Value> {
        json!({"name": "<script>alert(1)</script>", "tier": tier, "balance": "12000.5",
               "manager_phone": "+8613800138000"})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    fn orders(n: usize) -> Vec<HistoryBlock> {
        vec![HistoryBlock {
            source: "orders".into(),
            title: "Orders".into(),
            page: HistoryPage {
                items: (0..n)
                    .map(|i| {
                        json!({"id": format!("o{i}"), "total": i})
                            .as_object()
                            .cloned()
                            .unwrap_or_default()
                    })
                    .collect(),
                next_offset: Some(n as u64),
                next_cursor: None,
                total: Some(10_000),
            },
        }]
    }

    #[test]
    fn the_vip_block_only_for_a_vip_and_hints_only_for_a_novice() {
        let t = vip_template();
        let vip = render(&t, &fields("VIP"), &[], Some("novice"), Locale::ZhCn);
        let titles: Vec<String> = vip
            .blocks
            .iter()
            .map(|b| match b {
                Block::Fields { title, .. }
                | Block::Notes { title, .. }
                | Block::History { title, .. } => title.clone(),
            })
            .collect();
        assert_eq!(titles, ["客户经理", "Hints", "Orders"]);
        let plain = render(&t, &fields("gold"), &[], Some("senior"), Locale::En);
        assert_eq!(plain.blocks.len(), 1, "{plain:?}");
        // Data stays data: the hostile name is a value, formatted money too.
        assert_eq!(vip.header[0].value, "<script>alert(1)</script>");
        assert_eq!(vip.header[1].value, "¥12,000.50");
    }

    #[test]
    fn history_is_a_first_page_with_where_the_next_starts() {
        let s = render(
            &vip_template(),
            &fields("VIP"),
            &orders(10_000),
            None,
            Locale::En,
        );
        let Some(Block::History {
            rows,
            total,
            next_offset,
            columns,
            ..
        }) = s.blocks.last()
        else {
            panic!("no history block: {s:?}");
        };
        assert_eq!(rows.len(), MAX_ROWS);
        assert_eq!(rows[3], ["o3", "CN¥3.00"]);
        assert_eq!(columns, &["Order", "total"]);
        assert_eq!(*total, Some(10_000));
        assert_eq!(*next_offset, Some(10_000));
    }

    #[test]
    fn the_fallback_lists_every_field_and_says_why() {
        let s = fallback(
            &fields("VIP"),
            &orders(3),
            Locale::En,
            "template x: bad".into(),
        );
        assert_eq!(s.fallback.as_deref(), Some("template x: bad"));
        let Some(Block::Fields { items, .. }) = s.blocks.first() else {
            panic!("{s:?}");
        };
        assert_eq!(items.len(), 4);
        assert!(matches!(&s.blocks[1], Block::History { rows, .. } if rows.len() == 3));
    }
}
