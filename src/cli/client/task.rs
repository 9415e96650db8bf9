//! `dialpop task ...`: `/api/outbound/tasks` on a running daemon.

use super::http::{Client, Req};
use super::table::{Table, cell, fields, time_str};
use super::{Done, EXIT_CODES, Failure, json_doc, quoted};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::path::Path;

#[derive(clap::Subcommand)]
pub enum TaskCmd {
    /// Queues one customer for a campaign (the number is normalised with
    /// the campaign's region).
    #[command(after_help = EXIT_CODES)]
    Add {
        #[arg(long)]
        campaign: String,
        #[arg(long = "customer", value_name = "ID")]
        customer: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        priority: Option<i64>,
        /// Repeatable.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// RFC 3339, e.g. 2027-01-31T09:00:00+01:00.
        #[arg(long, value_name = "RFC3339")]
        not_before: Option<String>,
        #[arg(long, value_name = "RFC3339")]
        not_after: Option<String>,
        /// An IANA zone, e.g. Europe/Paris.
        #[arg(long, value_name = "ZONE")]
        time_zone: Option<String>,
        /// A variable for the dial plan, NAME=VALUE; repeatable.
        #[arg(long = "var", value_name = "K=V", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// The idempotency key: the same key twice in a campaign is one task.
        #[arg(long = "key", value_name = "IDEMPOTENCY")]
        key: Option<String>,
    },
    /// Tasks in the order they were added: one page (100 unless --limit), or every
    /// page with --all.
    #[command(after_help = EXIT_CODES)]
    List {
        #[arg(long)]
        campaign: Option<String>,
        /// pending, dialing, done, failed, cancelled, do_not_call, expired.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// Tasks a page (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Start after this cursor (the `next cursor` a page printed).
        #[arg(long)]
        cursor: Option<String>,
        /// Follow the cursors to the last page.
        #[arg(long)]
        all: bool,
    },
    /// One task with its attempts and the dialer's decisions about it.
    #[command(after_help = EXIT_CODES)]
    Show { id: i64 },
    /// Changes a pending task; what is not given stays.
    #[command(after_help = EXIT_CODES)]
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        id: i64,
        #[arg(long, group = "change")]
        priority: Option<i64>,
        /// Replaces the tags; repeatable.
        #[arg(long = "tag", value_name = "TAG", group = "change")]
        tags: Vec<String>,
        /// Removes every tag.
        #[arg(long, group = "change", conflicts_with = "tags")]
        clear_tags: bool,
        #[arg(long, value_name = "RFC3339", group = "change")]
        not_before: Option<String>,
        #[arg(long, group = "change", conflicts_with = "not_before")]
        clear_not_before: bool,
        #[arg(long, value_name = "RFC3339", group = "change")]
        not_after: Option<String>,
        #[arg(long, group = "change", conflicts_with = "not_after")]
        clear_not_after: bool,
        /// Replaces the variables, NAME=VALUE; repeatable.
        #[arg(long = "var", value_name = "K=V", value_parser = parse_var, group = "change")]
        vars: Vec<(String, String)>,
    },
    /// Cancels a pending task.
    #[command(after_help = EXIT_CODES)]
    Cancel { id: i64 },
    /// Calls a pending task back at a time, by an agent (the pool after the
    /// campaign's grace) or by the pool.
    #[command(after_help = EXIT_CODES)]
    Callback {
        id: i64,
        /// RFC 3339, e.g. 2027-03-01T10:30:00+01:00.
        #[arg(long)]
        at: String,
        #[arg(long)]
        agent: Option<String>,
    },
}

/// `NAME=VALUE`.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not NAME=VALUE")),
    }
}

fn vars_json(vars: &[(String, String)]) -> Value {
    Value::Object(
        vars.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn what(id: i64) -> String {
    format!("task {id}")
}

pub async fn run(c: Client, cmd: TaskCmd, json: bool) -> Result<Done, Failure> {
    match cmd {
        TaskCmd::Add {
            campaign,
            customer,
            phone,
            priority,
            tags,
            not_before,
            not_after,
            time_zone,
            vars,
            key,
        } => {
            let mut body = Map::new();
            body.insert("campaign".into(), json!(campaign));
            body.insert("customer_id".into(), json!(customer));
            body.insert("phone".into(), json!(phone));
            let opt = |b: &mut Map<String, Value>, k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    b.insert(k.into(), v);
                }
            };
            opt(&mut body, "priority", priority.map(|p| json!(p)));
            opt(&mut body, "tags", (!tags.is_empty()).then(|| json!(tags)));
            opt(&mut body, "not_before", not_before.map(Value::String));
            opt(&mut body, "not_after", not_after.map(Value::String));
            opt(&mut body, "time_zone", time_zone.map(Value::String));
            opt(
                &mut body,
                "variables",
                (!vars.is_empty()).then(|| vars_json(&vars)),
            );
            opt(&mut body, "idempotency_key", key.map(Value::String));
            let v = c
                .send(
                    Req::post(
                        &["api", "outbound", "tasks"],
                        format!("task for {}", quoted(&customer)),
                    )
                    .json(Value::Object(body)),
                )
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else if v["created"] == json!(true) {
                format!(
                    "task {} added to campaign {} ({}, {})\n",
                    cell(&v["task_id"]),
                    quoted(&campaign),
                    cell(&v["status"]),
                    cell(&v["phone"])
                )
            } else {
                format!(
                    "task {} already there (same idempotency key), not added again\n",
                    cell(&v["task_id"])
                )
            }))
        }
        TaskCmd::List {
            campaign,
            status,
            tag,
            limit,
            cursor,
            all,
        } => {
            let limit = limit.or(all.then_some(1000));
            let mut cursor = cursor;
            let mut tasks: Vec<Value> = Vec::new();
            let next = loop {
                let page = c
                    .send(
                        Req::get(&["api", "outbound", "tasks"], "tasks")
                            .query("campaign", campaign.as_ref())
                            .query("status", status.as_ref())
                            .query("tag", tag.as_ref())
                            .query("limit", limit)
                            .query("cursor", cursor.as_ref()),
                    )
                    .await?;
                if let Some(a) = page["tasks"].as_array() {
                    tasks.extend(a.iter().cloned());
                }
                let next = page["next_cursor"].as_str().map(str::to_string);
                match next {
                    Some(n) if all => cursor = Some(n),
                    _ => break next,
                }
            };
            if json {
                return Ok(Done::ok(json_doc(
                    &json!({"tasks": tasks, "next_cursor": next}),
                )));
            }
            let mut t = Table::new(&[
                "ID", "CAMPAIGN", "CUSTOMER", "PHONE", "STATUS", "PRIO", "TRIES", "DUE", "TAGS",
            ]);
            for k in &tasks {
                t.row(vec![
                    cell(&k["id"]),
                    cell(&k["campaign"]),
                    cell(&k["customer_id"]),
                    cell(&k["phone"]),
                    cell(&k["status"]),
                    cell(&k["priority"]),
                    cell(&k["attempts"]),
                    time_str(&k["due"]),
                    cell(&k["tags"]),
                ]);
            }
            let mut out = if t.is_empty() {
                "no tasks\n".to_string()
            } else {
                t.render()
            };
            if let Some(n) = next {
                out.push_str(&format!(
                    "more: --cursor {n} for the next page, --all for every page\n"
                ));
            }
            Ok(Done::ok(out))
        }
        TaskCmd::Show { id } => {
            let s = id.to_string();
            let v = c
                .send(Req::get(&["api", "outbound", "tasks", &s], what(id)))
                .await?;
            Ok(Done::ok(if json { json_doc(&v) } else { describe(&v) }))
        }
        TaskCmd::Update {
            id,
            priority,
            tags,
            clear_tags,
            not_before,
            clear_not_before,
            not_after,
            clear_not_after,
            vars,
        } => {
            let mut body = Map::new();
            if let Some(p) = priority {
                body.insert("priority".into(), json!(p));
            }
            if clear_tags || !tags.is_empty() {
                body.insert("tags".into(), json!(tags));
            }
            if clear_not_before || not_before.is_some() {
                body.insert("not_before".into(), json!(not_before));
            }
            if clear_not_after || not_after.is_some() {
                body.insert("not_after".into(), json!(not_after));
            }
            if !vars.is_empty() {
                body.insert("variables".into(), vars_json(&vars));
            }
            let s = id.to_string();
            let v = c
                .send(
                    Req::new(Method::PATCH, &["api", "outbound", "tasks", &s], what(id))
                        .json(Value::Object(body)),
                )
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!("task {id} updated\n{}", describe(&v))
            }))
        }
        TaskCmd::Callback { id, at, agent } => {
            let s = id.to_string();
            let mut body = serde_json::json!({ "at": at });
            if let Some(a) = agent {
                body["agent_id"] = Value::String(a);
            }
            let v = c
                .send(Req::post(&["api", "outbound", "tasks", &s, "callback"], what(id)).json(body))
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!(
                    "task {id}: callback at {}{}\n",
                    cell(&v["due"]),
                    v["callback_agent"]
                        .as_str()
                        .map(|a| format!(" for agent {}", quoted(a)))
                        .unwrap_or_default()
                )
            }))
        }
        TaskCmd::Cancel { id } => {
            let s = id.to_string();
            let v = c
                .send(Req::post(
                    &["api", "outbound", "tasks", &s, "cancel"],
                    what(id),
                ))
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!("task {id} cancelled ({})\n", cell(&v["status"]))
            }))
        }
    }
}

/// `POST /api/outbound/tasks/import?campaign=C`, the file streamed.
pub async fn import(c: Client, file: &Path, campaign: &str, json: bool) -> Result<Done, Failure> {
    let v = c
        .send(
            Req::post(
                &["api", "outbound", "tasks", "import"],
                format!("import of {}", file.display()),
            )
            .query("campaign", Some(campaign))
            .csv(file),
        )
        .await?;
    Ok(super::import_summary(&v, json))
}

fn describe(v: &Value) -> String {
    let mut out = fields(&[
        ("id", cell(&v["id"])),
        ("campaign", cell(&v["campaign"])),
        ("customer", cell(&v["customer_id"])),
        ("phone", cell(&v["phone"])),
        ("status", cell(&v["status"])),
        ("priority", cell(&v["priority"])),
        ("attempts", cell(&v["attempts"])),
        ("tags", cell(&v["tags"])),
        ("due", cell(&v["due"])),
        ("not before", cell(&v["not_before"])),
        ("not after", cell(&v["not_after"])),
        ("time zone", cell(&v["time_zone"])),
        ("variables", cell(&v["variables"])),
        ("key", cell(&v["idempotency_key"])),
        ("last cause", cell(&v["last_cause"])),
        ("created", cell(&v["created"])),
    ]);
    if let Some(d) = v["decisions"].as_array().filter(|d| !d.is_empty()) {
        let mut t = Table::new(&["DECISION", "REASON", "DETAIL", "CALL"]);
        for r in d {
            t.row(vec![
                cell(&r["verdict"]),
                cell(&r["reason"]),
                cell(&r["detail"]),
                cell(&r["call_id"]),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}
