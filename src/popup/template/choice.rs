//! Which template an agent's pops use in a campaign, as the campaign's
//! settings name them and as they are read once, and the built-in one.

use super::{FieldSpec, Template, Text, from_value};
use crate::popup::format::Format;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
