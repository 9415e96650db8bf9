//! A pop template: which of the customer's fields the agent sees, in which
//! blocks, under which conditions, formatted how.
//!
//! A template is a typed block structure (JSON), not a text template: the
//! server fills it into a `Screen` of typed blocks, and the page draws
//! those with `textContent` only. A value can fill a slot but never add
//! one, so customer data can never become markup, script or structure;
//! the conditions are the same typed filters as the pop rules'.

use super::format::{Format, FormatOptions, Locale};
use crate::campaign::pop_rules::{self, PopFilter};
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

/// Which template an agent's pops use in a campaign: the campaign's for
/// the agent's level, else the campaign's default, else the built-in one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateChoice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// By agent level (`novice`, `senior`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub levels: BTreeMap<String, serde_json::Value>,
}

impl TemplateChoice {
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.levels.is_empty()
    }

    /// Every template it names, checked (for the settings' validation).
    pub fn check(&self) -> Result<(), String> {
        let all = self
            .default
            .iter()
            .map(|v| ("default".to_string(), v))
            .chain(self.levels.iter().map(|(l, v)| (format!("levels.{l}"), v)));
        for (at, v) in all {
            if let Err(errors) = from_value(v) {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                return Err(format!("templates.{at}: {}", list.join("; ")));
            }
        }
        Ok(())
    }
}

/// A campaign's templates, read once when the campaign is: a stored
/// template that no longer reads keeps its error, and its pops fall back to
/// the plain field list with that reason.
#[derive(Clone, Debug)]
pub struct Templates {
    default: Result<Template, String>,
    levels: BTreeMap<String, Result<Template, String>>,
}

fn read(at: &str, v: &serde_json::Value) -> Result<Template, String> {
    from_value(v).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("template {at}: {}", list.join("; "))
    })
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            default: Ok(builtin()),
            levels: BTreeMap::new(),
        }
    }
}

impl Templates {
    /// One template for every agent (the admin page's preview).
    pub fn single(t: Template) -> Templates {
        Templates {
            default: Ok(t),
            levels: BTreeMap::new(),
        }
    }

    pub fn of(choice: &TemplateChoice) -> Templates {
        Templates {
            default: choice
                .default
                .as_ref()
                .map_or_else(|| Ok(builtin()), |v| read("default", v)),
            levels: choice
                .levels
                .iter()
                .map(|(l, v)| (l.to_ascii_lowercase(), read(&format!("levels.{l}"), v)))
                .collect(),
        }
    }

    /// The agent level's template, else the campaign's default.
    pub fn pick(&self, level: Option<&str>) -> Result<&Template, &str> {
        let chosen = level
            .and_then(|l| self.levels.get(&l.to_ascii_lowercase()))
            .unwrap_or(&self.default);
        chosen.as_ref().map_err(String::as_str)
    }
}

/// The built-in template: the record's usual fields, and each history
/// source the pop carries as a table of its own.
pub fn builtin() -> Template {
    let f = |field: &str, en: &str, zh: &str, format: Format| FieldSpec {
        field: field.into(),
        label: Some(Text::PerLocale(BTreeMap::from([
            ("en".to_string(), en.to_string()),
            ("zh-CN".to_string(), zh.to_string()),
        ]))),
        format,
        currency: None,
        time_zone: None,
    };
    Template {
        name: "built-in".into(),
        header: vec![
            f("name", "Name", "姓名", Format::Text),
            f("phone", "Phone", "电话", Format::Phone),
            f("tier", "Tier", "等级", Format::Text),
        ],
        blocks: vec![],
        other_history: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_carry_their_line_and_later_ones_their_path() {
        let bad = "{\n  \"name\": \"x\",\n  \"header\": [\n    {\"field\": \"name\", \"colour\": 1}\n  ]\n}";
        let e = parse(bad).expect_err("unknown key");
        assert_eq!(e[0].line, Some(4), "{e:?}");
        assert!(e[0].message.contains("colour"), "{e:?}");
        let bad = r#"{"name":"x","header":[{"field":"balance","format":"money","currency":"yuan"}],
            "blocks":[{"kind":"fields","title":"VIP","when":{"filters":[{"field":"tier","op":"gt","value":"VIP"}]},"fields":[]}]}"#;
        let e = parse(bad).expect_err("two problems");
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["header[0].currency", "blocks[0].when.filters[0].value"],
            "{e:?}"
        );
    }

    #[test]
    fn a_good_template_reads_and_texts_follow_the_locale() {
        let t = parse(
            r#"{"name":"vip","header":[{"field":"name","label":{"en":"Name","zh-CN":"姓名"}}],
                "blocks":[{"kind":"notes","title":"Hints","when":{"levels":["novice"]},"lines":["Greet by name"]},
                          {"kind":"history","title":"Orders","source":"orders","columns":[{"field":"total","format":"money","currency":"CNY"}]}]}"#,
        )
        .expect("reads");
        assert_eq!(t.header[0].label(Locale::ZhCn), "姓名");
        assert_eq!(t.header[0].label(Locale::En), "Name");
        assert!(matches!(
            &t.blocks[1],
            BlockSpec::History {
                column: Column::Right,
                ..
            }
        ));
        assert!(check(&builtin()).is_empty());
    }

    #[test]
    fn the_scenario_templates_read_and_show_their_blocks() {
        use crate::popup::render::{Block, render};
        let files = [
            (
                "finance",
                include_str!("../../config/templates/finance.json"),
            ),
            (
                "ecommerce",
                include_str!("../../config/templates/ecommerce.json"),
            ),
            (
                "education",
                include_str!("../../config/templates/education.json"),
            ),
        ];
        let mut read = BTreeMap::new();
        for (name, text) in files {
            let t = parse(text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(t.name, name);
            read.insert(name, t);
        }
        let titles = |s: &crate::popup::render::Screen| -> Vec<String> {
            s.blocks
                .iter()
                .map(|b| match b {
                    Block::Fields { title, .. }
                    | Block::Notes { title, .. }
                    | Block::History { title, .. } => title.clone(),
                })
                .collect()
        };
        let record = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let finance = &read["finance"];
        let good = record(
            serde_json::json!({"name": "王芳", "vip": true, "credit_score": 712, "outstanding": "8800.5"}),
        );
        let s = render(finance, &good, &[], Some("novice"), Locale::ZhCn);
        assert_eq!(titles(&s), ["客户经理", "分期方案", "提示", "还款记录"]);
        assert_eq!(s.header[4].value, "¥8,800.50");
        let poor = record(serde_json::json!({"name": "Ana", "vip": false, "credit_score": "590"}));
        let s = render(finance, &poor, &[], Some("senior"), Locale::En);
        assert_eq!(titles(&s), ["Repayments"]);
        let returning = record(serde_json::json!({"name": "Li", "open_return": "R-1"}));
        let s = render(&read["ecommerce"], &returning, &[], None, Locale::En);
        assert_eq!(titles(&s), ["Open return", "Orders"]);
        let lead = record(
            serde_json::json!({"name": "Chen", "trial_booked": true, "trial_at": "2026-12-05T02:00:00Z"}),
        );
        let s = render(&read["education"], &lead, &[], None, Locale::ZhCn);
        assert_eq!(titles(&s), ["试听课", "历史咨询"]);
        assert!(
            matches!(&s.blocks[0], Block::Fields { items, .. } if items[0].value == "2026年12月5日 10:00"),
            "{s:?}"
        );
    }

    #[test]
    fn the_level_picks_then_the_default_then_the_builtin() {
        let senior = serde_json::json!({"name": "compact", "header": [{"field": "name"}]});
        let broken = serde_json::json!({"name": "", "header": []});
        let choice = TemplateChoice {
            default: None,
            levels: BTreeMap::from([
                ("Senior".to_string(), senior),
                ("novice".to_string(), broken),
            ]),
        };
        let t = Templates::of(&choice);
        assert_eq!(
            t.pick(Some("senior")).map(|t| t.name.as_str()),
            Ok("compact")
        );
        assert_eq!(t.pick(None).map(|t| t.name.as_str()), Ok("built-in"));
        assert_eq!(
            t.pick(Some("trainee")).map(|t| t.name.as_str()),
            Ok("built-in")
        );
        let e = t.pick(Some("novice")).expect_err("broken");
        assert!(e.contains("levels.novice") && e.contains("name"), "{e}");
    }
}
