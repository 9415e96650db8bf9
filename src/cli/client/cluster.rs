//! `dialpop cluster status`: `/api/cluster` on any node of a cluster (they
//! all read the same tables): the nodes, the switch leases, and the node
//! that drives each agent.

use super::http::{Client, Req};
use super::table::{Table, cell, fields};
use super::{Done, EXIT_CODES, Exit, Failure, Remote, json_doc};
use serde_json::Value;

#[derive(clap::Args)]
pub struct ClusterCmd {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub action: ClusterAction,
}

#[derive(clap::Subcommand)]
pub enum ClusterAction {
    /// The nodes (alive or silent, the switches each drives), the switch
    /// leases with their tokens, and each agent's switch and node.
    #[command(after_help = EXIT_CODES)]
    Status,
}

pub async fn run(c: Client, action: ClusterAction, json: bool) -> Result<Done, Failure> {
    match action {
        ClusterAction::Status => {
            let v = c.send(Req::get(&["api", "cluster"], "the cluster")).await?;
            let out = if json { json_doc(&v) } else { render(&v) };
            Ok(Done {
                out,
                exit: Exit::Ok,
            })
        }
    }
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(cell).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

pub fn render(v: &Value) -> String {
    if v["cluster"] != true {
        return "a single node: no [cluster] section\n".into();
    }
    let mut out = fields(&[
        ("node answering", cell(&v["node"])),
        ("it drives", list(&v["driving"])),
    ]);
    let mut nodes = Table::new(&["NODE", "HTTP", "ALIVE", "SILENT MS", "SWITCHES"]);
    for n in v["nodes"].as_array().into_iter().flatten() {
        nodes.row(vec![
            cell(&n["node_id"]),
            cell(&n["http_addr"]),
            if n["alive"] == true { "yes" } else { "no" }.into(),
            cell(&n["silent_ms"]),
            list(&n["switches"]),
        ]);
    }
    let mut leases = Table::new(&["SWITCH", "NODE", "TOKEN", "EXPIRES IN MS"]);
    for l in v["leases"].as_array().into_iter().flatten() {
        leases.row(vec![
            cell(&l["switch_name"]),
            cell(&l["node_id"]),
            cell(&l["token"]),
            cell(&l["expires_in_ms"]),
        ]);
    }
    let mut agents = Table::new(&["AGENT", "SWITCH", "NODE"]);
    for a in v["agents"].as_array().into_iter().flatten() {
        agents.row(vec![
            cell(&a["agent_id"]),
            cell(&a["switch"]),
            cell(&a["node"]),
        ]);
    }
    for t in [nodes, leases, agents] {
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}
