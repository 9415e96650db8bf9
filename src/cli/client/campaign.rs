//! `dialpop campaign ...`: `/api/campaigns` on a running daemon.

use super::http::{Client, Req};
use super::table::{Table, cell, fields, time_ms};
use super::{Done, EXIT_CODES, Failure, Remote, json_doc, quoted};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CampaignCmd {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub action: CampaignAction,
}

#[derive(clap::Subcommand)]
pub enum CampaignAction {
    /// Every campaign: id, name, state.
    #[command(after_help = EXIT_CODES)]
    List,
    /// One campaign with its settings.
    #[command(after_help = EXIT_CODES)]
    Show { id: String },
    /// A new campaign (state: created). Settings not given take defaults.
    #[command(after_help = EXIT_CODES)]
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The settings from a JSON file.
        #[arg(long, value_name = "FILE", conflicts_with = "settings")]
        settings_file: Option<PathBuf>,
        /// The settings as JSON, e.g. '{"region":"FR"}'.
        #[arg(long, value_name = "JSON", value_parser = parse_json)]
        settings: Option<Value>,
    },
    /// Changes a campaign: --settings is a merge patch (RFC 7386) over its
    /// current settings (what it names replaces, null removes).
    #[command(after_help = EXIT_CODES)]
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        id: String,
        #[arg(long, value_name = "JSON", value_parser = parse_json, group = "change")]
        settings: Option<Value>,
        /// The merge patch from a JSON file.
        #[arg(
            long,
            value_name = "FILE",
            group = "change",
            conflicts_with = "settings"
        )]
        settings_file: Option<PathBuf>,
        #[arg(long, group = "change")]
        name: Option<String>,
    },
    /// created or stopped → running.
    #[command(after_help = EXIT_CODES)]
    Start { id: String },
    /// running → paused.
    #[command(after_help = EXIT_CODES)]
    Pause { id: String },
    /// paused → running.
    #[command(after_help = EXIT_CODES)]
    Resume { id: String },
    /// running or paused → stopped.
    #[command(after_help = EXIT_CODES)]
    Stop { id: String },
    /// Tasks by status, the last 24 hours' dial decisions, dispositions,
    /// dials a minute, answer rate, average handle time and occupancy over
    /// the window (for the campaign and each agent), agents by state.
    #[command(after_help = EXIT_CODES)]
    Stats {
        id: String,
        /// The window of the rates and times, in minutes (60).
        #[arg(long, value_name = "MINUTES")]
        window: Option<u32>,
    },
    /// Places one call to a number, put through to an agent who is signed
    /// in and available, and prints its timing (originate → ringing →
    /// answer → record ready → pop sent → acknowledged) and the record shown
    /// compared field by field with its source's answer. Exits 1 when the
    /// call was not complete within --wait.
    #[command(after_help = EXIT_CODES)]
    TestCall(super::test_call::TestCallArgs),
}

/// A JSON argument, parsed where clap can say which one is wrong.
pub fn parse_json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

async fn read_json(file: &PathBuf) -> Result<Value, Failure> {
    let text = tokio::fs::read_to_string(file)
        .await
        .map_err(|e| Failure::failed(format!("{}: {e}", file.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: not JSON: {e}", file.display())))
}

fn what(id: &str) -> String {
    format!("campaign {}", quoted(id))
}

pub async fn run(c: Client, action: CampaignAction, json: bool) -> Result<Done, Failure> {
    match action {
        CampaignAction::List => {
            let v = c.send(Req::get(&["api", "campaigns"], "campaigns")).await?;
            if json {
                return Ok(Done::ok(json_doc(&v)));
            }
            let mut t = Table::new(&["ID", "NAME", "STATE", "UPDATED"]);
            for k in v["campaigns"].as_array().into_iter().flatten() {
                t.row(vec![
                    cell(&k["id"]),
                    cell(&k["name"]),
                    cell(&k["state"]),
                    time_ms(&k["updated_ms"]),
                ]);
            }
            if t.is_empty() {
                return Ok(Done::ok("no campaigns\n"));
            }
            Ok(Done::ok(t.render()))
        }
        CampaignAction::Show { id } => {
            let v = c
                .send(Req::get(&["api", "campaigns", &id], what(&id)))
                .await?;
            Ok(Done::ok(if json { json_doc(&v) } else { describe(&v) }))
        }
        CampaignAction::Create {
            id,
            name,
            settings_file,
            settings,
        } => {
            let mut body = json!({"id": id, "name": name});
            let settings = match settings_file {
                Some(f) => Some(read_json(&f).await?),
                None => settings,
            };
            if let Some(s) = settings {
                body["settings"] = s;
            }
            let v = c
                .send(Req::post(&["api", "campaigns"], what(&id)).json(body))
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!(
                    "campaign {} created ({})\n",
                    quoted(v["id"].as_str().unwrap_or(&id)),
                    cell(&v["state"])
                )
            }))
        }
        CampaignAction::Update {
            id,
            settings,
            settings_file,
            name,
        } => {
            let mut body = Map::new();
            let settings = match settings_file {
                Some(f) => Some(read_json(&f).await?),
                None => settings,
            };
            if let Some(s) = settings {
                body.insert("settings".into(), s);
            }
            if let Some(n) = name {
                body.insert("name".into(), Value::String(n));
            }
            let v = c
                .send(
                    Req::new(Method::PATCH, &["api", "campaigns", &id], what(&id))
                        .json(Value::Object(body)),
                )
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!("campaign {} updated\n{}", quoted(&id), describe(&v))
            }))
        }
        CampaignAction::Start { id } => transition(c, &id, "start", json).await,
        CampaignAction::Pause { id } => transition(c, &id, "pause", json).await,
        CampaignAction::Resume { id } => transition(c, &id, "resume", json).await,
        CampaignAction::Stop { id } => transition(c, &id, "stop", json).await,
        CampaignAction::Stats { id, window } => {
            let v = c
                .send(
                    Req::get(&["api", "campaigns", &id, "stats"], what(&id))
                        .query("window_minutes", window),
                )
                .await?;
            Ok(Done::ok(if json { json_doc(&v) } else { stats(&v) }))
        }
        CampaignAction::TestCall(args) => super::test_call::run(c, args, json).await,
    }
}

async fn transition(c: Client, id: &str, action: &str, json: bool) -> Result<Done, Failure> {
    let v = c
        .send(Req::post(&["api", "campaigns", id, action], what(id)))
        .await?;
    Ok(Done::ok(if json {
        json_doc(&v)
    } else {
        format!(
            "campaign {}: {} → {}\n",
            quoted(id),
            cell(&v["previous"]),
            cell(&v["state"])
        )
    }))
}

fn describe(v: &Value) -> String {
    let mut out = fields(&[
        ("id", cell(&v["id"])),
        ("name", cell(&v["name"])),
        ("state", cell(&v["state"])),
        ("created", time_ms(&v["created_ms"])),
        ("updated", time_ms(&v["updated_ms"])),
    ]);
    out.push_str("settings:\n");
    let settings = serde_json::to_string_pretty(&v["settings"]).unwrap_or_default();
    for line in settings.lines() {
        out.push_str("  ");
        out.push_str(&super::table::clean(line));
        out.push('\n');
    }
    out
}

fn ratio(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn seconds(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |s| format!("{s:.1} s"))
}

fn stats(v: &Value) -> String {
    let mut out = fields(&[
        ("campaign", cell(&v["campaign"])),
        ("state", cell(&v["state"])),
        ("window", format!("{} min", cell(&v["window_minutes"]))),
        (
            "dials a minute",
            v["dials_per_minute"]
                .as_f64()
                .map_or("-".into(), |d| format!("{d:.2}")),
        ),
        ("answer rate", ratio(&v["answer_rate"])),
        ("handle time (avg)", seconds(&v["aht_seconds"])),
        ("  talk", seconds(&v["talk_seconds"])),
        ("  wrap-up", seconds(&v["wrap_up_seconds"])),
        ("occupancy", ratio(&v["occupancy"])),
    ]);
    let mut by = Table::new(&["AGENT", "DIALS", "ANSWERED", "HANDLE (AVG)", "OCCUPANCY"]);
    for a in v["by_agent"].as_array().into_iter().flatten() {
        by.row(vec![
            cell(&a["agent"]),
            cell(&a["dials"]),
            cell(&a["answered"]),
            seconds(&a["aht_seconds"]),
            ratio(&a["occupancy"]),
        ]);
    }
    let nobody = &v["without_agent"];
    if nobody["dials"].as_u64().unwrap_or(0) > 0 {
        by.row(vec![
            "(no agent)".to_string(),
            cell(&nobody["dials"]),
            cell(&nobody["answered"]),
            "-".into(),
            "-".into(),
        ]);
    }
    if !by.is_empty() {
        out.push('\n');
        out.push_str(&by.render());
    }
    let mut d = Table::new(&["DISPOSITION", "COUNT"]);
    for (k, n) in v["dispositions"].as_object().into_iter().flatten() {
        d.row(vec![k.clone(), cell(n)]);
    }
    if !d.is_empty() {
        out.push('\n');
        out.push_str(&d.render());
    }
    let mut t = Table::new(&["TASKS", "COUNT"]);
    for (k, n) in v["tasks"].as_object().into_iter().flatten() {
        t.row(vec![k.clone(), cell(n)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    let mut d = Table::new(&["DECISION (24H)", "REASON", "COUNT"]);
    for r in v["decisions_24h"].as_array().into_iter().flatten() {
        d.row(vec![
            cell(&r["verdict"]),
            cell(&r["reason"]),
            cell(&r["count"]),
        ]);
    }
    out.push('\n');
    if d.is_empty() {
        out.push_str("no dial decisions in the last 24 hours\n");
    } else {
        out.push_str(&d.render());
    }
    let mut a = Table::new(&["AGENTS", "COUNT"]);
    for (k, n) in v["agents"].as_object().into_iter().flatten() {
        a.row(vec![k.clone(), cell(n)]);
    }
    if !a.is_empty() {
        out.push('\n');
        out.push_str(&a.render());
    }
    out
}
