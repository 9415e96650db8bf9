//! A pop template: which of the customer's fields the agent sees, in which
//! blocks, under which conditions, formatted how.
//!
//! A template is a typed block structure (JSON), not a text template: the
//! server fills it into a `Screen` of typed blocks, and the page draws
//! those with `textContent` only. A value can fill a slot but never add
//! one, so customer data can never become markup, script or structure;
//! the conditions are the same typed filters as the pop rules'.

mod choice;
mod reading;
#[cfg(test)]
mod tests;

use super::format::{Format, FormatOptions, Locale};
use crate::campaign::pop_rules::PopFilter;
pub use choice::{TemplateChoice, Templates, builtin};
pub use reading::{TemplateError, check, from_value, parse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Text in one language for all, or per locale (`{"en": …, "zh-CN": …}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Text {
    One(String),
    PerLocale(BTreeMap<String, String>),
}

impl Text {
    pub fn get(&self, locale: Locale) -> &str {
        match self {
            Text::One(s) => s,
            Text::PerLocale(m) => m
                .get(locale.tag())
                .or_else(|| m.get("en"))
                .or_else(|| m.values().next())
                .map_or("", String::as_str),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// Who the customer is.
    #[default]
    Left,
    /// The customer's interactions.
    Right,
}

/// One value shown: a customer field (or a history column) and its format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub field: String,
    /// Defaults to the field's name.
    #[serde(default)]
    pub label: Option<Text>,
    #[serde(default = "text_format")]
    pub format: Format,
    /// Money: ISO 4217 code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Dates: an IANA zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

fn text_format() -> Format {
    Format::Text
}

impl FieldSpec {
    pub fn options(&self) -> FormatOptions {
        FormatOptions {
            currency: self.currency.clone(),
            time_zone: self
                .time_zone
                .as_deref()
                .and_then(|z| z.parse::<chrono_tz::Tz>().ok()),
        }
    }

    pub fn label(&self, locale: Locale) -> String {
        self.label
            .as_ref()
            .map_or_else(|| self.field.clone(), |l| l.get(locale).to_string())
    }
}

/// When a block is shown: every filter holds, and the agent's level is
/// one of `levels` (when given).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default)]
    pub filters: Vec<PopFilter>,
    #[serde(default)]
    pub levels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BlockSpec {
    /// Label and value rows from the customer's record.
    Fields {
        title: Text,
        #[serde(default)]
        column: Column,
        #[serde(default)]
        when: When,
        fields: Vec<FieldSpec>,
    },
    /// Fixed lines for the agent (hints, a script).
    Notes {
        title: Text,
        #[serde(default)]
        column: Column,
        #[serde(default)]
        when: When,
        lines: Vec<Text>,
    },
    /// A history source as a table, paged through the history API.
    History {
        title: Text,
        #[serde(default = "right")]
        column: Column,
        #[serde(default)]
        when: When,
        /// The history source's name.
        source: String,
        columns: Vec<FieldSpec>,
    },
}

fn right() -> Column {
    Column::Right
}

impl BlockSpec {
    pub fn when(&self) -> &When {
        match self {
            BlockSpec::Fields { when, .. }
            | BlockSpec::Notes { when, .. }
            | BlockSpec::History { when, .. } => when,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Shown in the pop log and the admin page.
    pub name: String,
    /// The line at the top: name, phone, tier.
    pub header: Vec<FieldSpec>,
    #[serde(default)]
    pub blocks: Vec<BlockSpec>,
    /// Every history source the pop carries that no block names, as a
    /// plain table in the right column.
    #[serde(default)]
    pub other_history: bool,
}
