//! Reading a template and checking it: errors in the JSON carry their line
//! and column, errors found after it their path in the template.

use super::{BlockSpec, FieldSpec, Template};
use crate::campaign::pop_rules;
use crate::popup::format::Format;
use serde::Serialize;

/// A template that does not hold, with where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateError {
    /// 1-based, when the error is in the JSON itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// Where in the template (`blocks[2].columns[0].currency`).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

const MAX_BLOCKS: usize = 40;
const MAX_ITEMS: usize = 60;

/// Reads and checks a template's JSON text: errors in the JSON (syntax,
/// unknown keys, wrong kinds) carry their line and column; errors found
/// after (a bad currency, a filter that cannot hold) carry their path.
pub fn parse(source: &str) -> Result<Template, Vec<TemplateError>> {
    let t: Template = serde_json::from_str(source).map_err(|e| {
        vec![TemplateError {
            line: Some(e.line()),
            column: Some(e.column()),
            path: String::new(),
            message: e.to_string(),
        }]
    })?;
    let errors = check(&t);
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(errors)
    }
}

/// Reads a template given as JSON (a campaign's settings hold it so).
pub fn from_value(v: &serde_json::Value) -> Result<Template, Vec<TemplateError>> {
    let t: Template = serde_json::from_value(v.clone()).map_err(|e| {
        vec![TemplateError {
            line: None,
            column: None,
            path: String::new(),
            message: e.to_string(),
        }]
    })?;
    let errors = check(&t);
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(errors)
    }
}

fn check_fields(path: &str, fields: &[FieldSpec], errors: &mut Vec<TemplateError>) {
    let mut err = |p: String, m: &str| {
        errors.push(TemplateError {
            line: None,
            column: None,
            path: p,
            message: m.into(),
        })
    };
    if fields.len() > MAX_ITEMS {
        err(path.into(), "too many entries (at most 60)");
    }
    for (i, f) in fields.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if f.field.trim().is_empty() {
            err(format!("{p}.field"), "must name a field");
        }
        if let Some(c) = &f.currency
            && !(c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()))
        {
            err(
                format!("{p}.currency"),
                "must be an ISO 4217 code such as CNY or USD",
            );
        }
        if f.currency.is_some() && f.format != Format::Money {
            err(
                format!("{p}.currency"),
                "only a money field takes a currency",
            );
        }
        if let Some(z) = &f.time_zone
            && z.parse::<chrono_tz::Tz>().is_err()
        {
            err(
                format!("{p}.time_zone"),
                "is not an IANA time zone (e.g. Asia/Shanghai)",
            );
        }
    }
}

pub fn check(t: &Template) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    if t.name.trim().is_empty() {
        errors.push(TemplateError {
            line: None,
            column: None,
            path: "name".into(),
            message: "must not be empty".into(),
        });
    }
    check_fields("header", &t.header, &mut errors);
    if t.blocks.len() > MAX_BLOCKS {
        errors.push(TemplateError {
            line: None,
            column: None,
            path: "blocks".into(),
            message: "too many blocks (at most 40)".into(),
        });
    }
    for (i, b) in t.blocks.iter().enumerate() {
        let p = format!("blocks[{i}]");
        if let Err((at, message)) = pop_rules::check(&b.when().filters) {
            errors.push(TemplateError {
                line: None,
                column: None,
                path: format!("{p}.when.{}", at.replace("pop_filters", "filters")),
                message,
            });
        }
        match b {
            BlockSpec::Fields { fields, .. } => {
                check_fields(&format!("{p}.fields"), fields, &mut errors)
            }
            BlockSpec::History {
                columns, source, ..
            } => {
                if source.trim().is_empty() {
                    errors.push(TemplateError {
                        line: None,
                        column: None,
                        path: format!("{p}.source"),
                        message: "must name a history source".into(),
                    });
                }
                check_fields(&format!("{p}.columns"), columns, &mut errors)
            }
            BlockSpec::Notes { lines, .. } => {
                if lines.len() > MAX_ITEMS {
                    errors.push(TemplateError {
                        line: None,
                        column: None,
                        path: format!("{p}.lines"),
                        message: "too many lines (at most 60)".into(),
                    });
                }
            }
        }
    }
    errors
}
