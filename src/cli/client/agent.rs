//! `dialpop agent ...`: `/api/agents` on a running daemon.

use super::http::{Client, Req};
use super::table::{Table, cell, fields};
use super::{Done, EXIT_CODES, Failure, Remote, json_doc, quoted};
use reqwest::Method;
use serde_json::{Map, Value, json};

#[derive(clap::Args)]
pub struct AgentCmd {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub action: AgentAction,
}

#[derive(clap::Subcommand)]
pub enum AgentAction {
    /// Every agent: id, name, extension, campaigns, state.
    #[command(after_help = EXIT_CODES)]
    List,
    #[command(after_help = EXIT_CODES)]
    Show { id: String },
    /// A new agent; prints its login token, which is shown only this once.
    #[command(after_help = EXIT_CODES)]
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        extension: String,
        /// A campaign the agent serves, as ID or ID:PRIORITY (higher first);
        /// repeat for several.
        #[arg(long = "campaign", value_name = "ID[:PRIORITY]", required = true, value_parser = parse_serves)]
        campaigns: Vec<(String, i64)>,
    },
    /// Changes name, extension or campaigns (the list given replaces the
    /// agent's).
    #[command(after_help = EXIT_CODES)]
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        id: String,
        #[arg(long, group = "change")]
        name: Option<String>,
        #[arg(long, group = "change")]
        extension: Option<String>,
        #[arg(long = "campaign", value_name = "ID[:PRIORITY]", group = "change", value_parser = parse_serves)]
        campaigns: Vec<(String, i64)>,
    },
    /// A new login token (printed once); the old one stops working.
    #[command(after_help = EXIT_CODES)]
    Token { id: String },
    /// No more calls for the agent, for a reason code (during a call: once
    /// it and its wrap-up are over).
    #[command(after_help = EXIT_CODES)]
    Pause {
        id: String,
        #[arg(long)]
        reason: String,
    },
    #[command(after_help = EXIT_CODES)]
    Resume { id: String },
}

/// `sales` or `sales:5`.
pub fn parse_serves(s: &str) -> Result<(String, i64), String> {
    match s.rsplit_once(':') {
        Some((id, p)) => p
            .parse::<i64>()
            .map(|p| (id.to_string(), p))
            .map_err(|_| format!("{p:?} is not a whole-number priority")),
        None => Ok((s.to_string(), 0)),
    }
}

fn serves_json(c: &[(String, i64)]) -> Value {
    Value::Array(
        c.iter()
            .map(|(id, p)| json!({"campaign": id, "priority": p}))
            .collect(),
    )
}

fn what(id: &str) -> String {
    format!("agent {}", quoted(id))
}

fn campaigns_cell(v: &Value) -> String {
    v["campaigns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{}:{}", cell(&c["campaign"]), cell(&c["priority"])))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(v: &Value) -> String {
    fields(&[
        ("id", cell(&v["id"])),
        ("name", cell(&v["name"])),
        ("extension", cell(&v["extension"])),
        ("campaigns", campaigns_cell(v)),
        ("state", cell(&v["state"])),
    ])
}

pub async fn run(c: Client, action: AgentAction, json: bool) -> Result<Done, Failure> {
    let out = |v: &Value, text: String| Done::ok(if json { json_doc(v) } else { text });
    match action {
        AgentAction::List => {
            let v = c.send(Req::get(&["api", "agents"], "agents")).await?;
            let mut t = Table::new(&["ID", "NAME", "EXTENSION", "CAMPAIGNS", "STATE"]);
            for a in v["agents"].as_array().into_iter().flatten() {
                t.row(vec![
                    cell(&a["id"]),
                    cell(&a["name"]),
                    cell(&a["extension"]),
                    campaigns_cell(a),
                    cell(&a["state"]),
                ]);
            }
            let text = if t.is_empty() {
                "no agents\n".to_string()
            } else {
                t.render()
            };
            Ok(out(&v, text))
        }
        AgentAction::Show { id } => {
            let v = c.send(Req::get(&["api", "agents", &id], what(&id))).await?;
            Ok(out(&v, describe(&v)))
        }
        AgentAction::Create {
            id,
            name,
            extension,
            campaigns,
        } => {
            let body = json!({"id": id, "name": name, "extension": extension, "campaigns": serves_json(&campaigns)});
            let v = c
                .send(Req::post(&["api", "agents"], what(&id)).json(body))
                .await?;
            let text = format!(
                "agent {} created\ntoken: {}\n(shown only now: the daemon keeps its hash)\n",
                quoted(&id),
                cell(&v["token"])
            );
            Ok(out(&v, text))
        }
        AgentAction::Update {
            id,
            name,
            extension,
            campaigns,
        } => {
            let mut body = Map::new();
            if let Some(n) = name {
                body.insert("name".into(), Value::String(n));
            }
            if let Some(e) = extension {
                body.insert("extension".into(), Value::String(e));
            }
            if !campaigns.is_empty() {
                body.insert("campaigns".into(), serves_json(&campaigns));
            }
            let v = c
                .send(
                    Req::new(Method::PATCH, &["api", "agents", &id], what(&id))
                        .json(Value::Object(body)),
                )
                .await?;
            Ok(out(
                &v,
                format!("agent {} updated\n{}", quoted(&id), describe(&v)),
            ))
        }
        AgentAction::Token { id } => {
            let v = c
                .send(Req::post(&["api", "agents", &id, "token"], what(&id)))
                .await?;
            let text = format!(
                "agent {}: new token {}\n(shown only now; the old one no longer signs in)\n",
                quoted(&id),
                cell(&v["token"])
            );
            Ok(out(&v, text))
        }
        AgentAction::Pause { id, reason } => {
            let v = c
                .send(
                    Req::post(&["api", "agents", &id, "pause"], what(&id))
                        .json(json!({"reason": reason})),
                )
                .await?;
            Ok(out(
                &v,
                format!("agent {}: {}\n", quoted(&id), cell(&v["state"])),
            ))
        }
        AgentAction::Resume { id } => {
            let v = c
                .send(Req::post(&["api", "agents", &id, "resume"], what(&id)))
                .await?;
            Ok(out(
                &v,
                format!("agent {}: {}\n", quoted(&id), cell(&v["state"])),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_serves;

    #[test]
    fn a_campaign_with_or_without_its_priority() {
        assert_eq!(parse_serves("sales"), Ok(("sales".into(), 0)));
        assert_eq!(parse_serves("sales:5"), Ok(("sales".into(), 5)));
        assert_eq!(parse_serves("sales:-2"), Ok(("sales".into(), -2)));
        assert!(parse_serves("sales:high").is_err());
    }
}
