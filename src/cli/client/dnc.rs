//! `dialpop dnc ...`: `/api/dnc` on a running daemon.

use super::http::{Client, Req};
use super::table::{Table, cell, time_ms};
use super::{Done, EXIT_CODES, Failure, json_doc, quoted};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

#[derive(clap::Subcommand)]
pub enum DncCmd {
    /// Puts a number on the global list, or a campaign's.
    #[command(after_help = EXIT_CODES)]
    Add {
        phone: String,
        /// The campaign's list (its region reads national numbers).
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// How national numbers are read (default: the campaign's region, else US).
        #[arg(long)]
        region: Option<String>,
    },
    /// Takes a number off the global list, or a campaign's.
    #[command(after_help = EXIT_CODES)]
    Remove {
        phone: String,
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        region: Option<String>,
    },
    /// The global list, or a campaign's, by number: one page (100 unless
    /// --limit), or every page with --all.
    #[command(after_help = EXIT_CODES)]
    List {
        #[arg(long)]
        campaign: Option<String>,
        /// Entries a page (1 to 1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Start after this number (the `next cursor` a page printed).
        #[arg(long)]
        cursor: Option<String>,
        /// Follow the cursors to the last page.
        #[arg(long)]
        all: bool,
    },
}

fn list_name(campaign: Option<&str>) -> String {
    match campaign {
        Some(c) => format!("the do-not-call list of campaign {}", quoted(c)),
        None => "the global do-not-call list".into(),
    }
}

pub async fn run(c: Client, cmd: DncCmd, json: bool) -> Result<Done, Failure> {
    match cmd {
        DncCmd::Add {
            phone,
            campaign,
            reason,
            region,
        } => {
            let mut body = json!({"phone": phone});
            if let Some(c) = &campaign {
                body["campaign"] = json!(c);
            }
            if let Some(r) = &reason {
                body["reason"] = json!(r);
            }
            let v = c
                .send(
                    Req::post(
                        &["api", "dnc"],
                        format!("{} on {}", quoted(&phone), list_name(campaign.as_deref())),
                    )
                    .query("region", region.as_ref())
                    .json(body),
                )
                .await?;
            let number = cell(&v["entry"]["phone"]);
            Ok(Done::ok(if json {
                json_doc(&v)
            } else if v["created"] == json!(true) {
                format!("{number} added to {}\n", list_name(campaign.as_deref()))
            } else {
                format!("{number} already on {}\n", list_name(campaign.as_deref()))
            }))
        }
        DncCmd::Remove {
            phone,
            campaign,
            region,
        } => {
            let list = list_name(campaign.as_deref());
            let v = c
                .send(
                    Req::new(
                        Method::DELETE,
                        &["api", "dnc", &phone],
                        format!("{} on {list}", quoted(&phone)),
                    )
                    .query("campaign", campaign.as_ref())
                    .query("region", region.as_ref())
                    .not_found(format!("{} not found on {list}", quoted(&phone))),
                )
                .await?;
            Ok(Done::ok(if json {
                json_doc(&v)
            } else {
                format!("{} removed from {list}\n", cell(&v["removed"]))
            }))
        }
        DncCmd::List {
            campaign,
            limit,
            cursor,
            all,
        } => {
            let limit = limit.or(all.then_some(1000));
            let mut cursor = cursor;
            let mut entries: Vec<Value> = Vec::new();
            let next = loop {
                let page = c
                    .send(
                        Req::get(&["api", "dnc"], list_name(campaign.as_deref()))
                            .query("campaign", campaign.as_ref())
                            .query("limit", limit)
                            .query("cursor", cursor.as_ref()),
                    )
                    .await?;
                if let Some(a) = page["entries"].as_array() {
                    entries.extend(a.iter().cloned());
                }
                let next = page["next_cursor"].as_str().map(str::to_string);
                match next {
                    Some(n) if all => cursor = Some(n),
                    _ => break next,
                }
            };
            if json {
                return Ok(Done::ok(json_doc(
                    &json!({"entries": entries, "next_cursor": next}),
                )));
            }
            let mut t = Table::new(&["PHONE", "CAMPAIGN", "REASON", "ADDED"]);
            for e in &entries {
                t.row(vec![
                    cell(&e["phone"]),
                    e["campaign_id"].as_str().unwrap_or("(global)").to_string(),
                    cell(&e["reason"]),
                    time_ms(&e["added_ms"]),
                ]);
            }
            let mut out = if t.is_empty() {
                format!("{} is empty\n", list_name(campaign.as_deref()))
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
    }
}

/// `POST /api/dnc/import?campaign=C`, the file streamed.
pub async fn import(
    c: Client,
    file: &Path,
    campaign: Option<&str>,
    region: Option<&str>,
    json: bool,
) -> Result<Done, Failure> {
    let v = c
        .send(
            Req::post(
                &["api", "dnc", "import"],
                format!("import of {}", file.display()),
            )
            .query("campaign", campaign)
            .query("region", region)
            .csv(file),
        )
        .await?;
    Ok(super::import_summary(&v, json))
}
