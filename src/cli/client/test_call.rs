//! `dialpop campaign test-call --number N --agent A`: places a test call
//! through the daemon, follows it to its end, and prints its report: each
//! step with the time it took, then the record the agent was shown beside
//! its source's fresh answer.

use super::http::{Client, Req};
use super::table::{Table, cell, clean, fields};
use super::{Done, Exit, Failure, json_doc};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(clap::Args)]
pub struct TestCallArgs {
    /// The number to call (E.164, or national in the campaign's region).
    #[arg(long)]
    pub number: String,
    /// The agent the call is put through to: signed in and available.
    #[arg(long)]
    pub agent: String,
    /// The campaign whose pop rules and templates apply (default: the
    /// agent's home campaign).
    #[arg(long)]
    pub campaign: Option<String>,
    /// The customer the pop looks up (default: by the number).
    #[arg(long)]
    pub customer: Option<String>,
    /// How long to follow the call, in seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub wait: u64,
}

pub async fn run(c: Client, a: TestCallArgs, json: bool) -> Result<Done, Failure> {
    let mut body = json!({"number": a.number, "agent": a.agent});
    if let Some(k) = &a.campaign {
        body["campaign"] = json!(k);
    }
    if let Some(k) = &a.customer {
        body["customer"] = json!(k);
    }
    let first = c
        .send(Req::post(&["api", "test-calls"], format!("agent {}", a.agent)).json(body))
        .await?;
    let id = first["call_id"].as_str().unwrap_or_default().to_string();
    if !json {
        eprintln!("test call {id} placed; following it (up to {} s)", a.wait);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.wait);
    let mut report = first;
    while report["complete"] != true && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        report = c
            .send(Req::get(
                &["api", "test-calls", &id],
                format!("test call {id}"),
            ))
            .await?;
    }
    let out = if json {
        json_doc(&report)
    } else {
        render(&report)
    };
    let exit = if report["complete"] == true {
        Exit::Ok
    } else {
        eprintln!("the test call was not complete after {} s", a.wait);
        Exit::Failed
    };
    Ok(Done { out, exit })
}

fn ms(v: &Value) -> String {
    v.as_i64().map_or("-".into(), |m| format!("{m} ms"))
}

/// The report as text.
pub fn render(r: &Value) -> String {
    let mut out = fields(&[
        ("test call", cell(&r["call_id"])),
        ("number", cell(&r["phone"])),
        ("agent", cell(&r["agent"])),
        ("campaign", cell(&r["campaign"])),
        ("switch", cell(&r["switch"])),
        ("state", cell(&r["state"])),
        (
            "outcome",
            format!("{} ({})", cell(&r["outcome"]), cell(&r["cause"])),
        ),
        ("pop", cell(&r["pop_id"])),
        ("template", cell(&r["template"])),
        (
            "degraded",
            match &r["degraded"] {
                Value::Bool(true) => format!("yes: {}", cell(&r["degraded_reasons"])),
                Value::Bool(false) => "no".into(),
                _ => "-".into(),
            },
        ),
        ("pop rule", cell(&r["pop_rule"])),
    ]);
    let mut steps = Table::new(&["STEP", "FROM ORIGINATE", "FROM PREVIOUS"]);
    for s in r["steps"].as_array().into_iter().flatten() {
        steps.row(vec![
            cell(&s["step"]).replace('_', " "),
            ms(&s["offset_ms"]),
            ms(&s["since_previous_ms"]),
        ]);
    }
    out.push('\n');
    out.push_str(&steps.render());
    out.push_str(&format!(
        "answer → pop {}; pop → acknowledged {}; record {}\n",
        ms(&r["answer_to_pop_ms"]),
        ms(&r["pop_to_ack_ms"]),
        match r["record_before_answer"] {
            Value::Bool(true) => "ready before the answer (preloaded while ringing)",
            Value::Bool(false) => "ready after the answer",
            _ => "not ready",
        }
    ));
    let mut f = Table::new(&[
        "FIELD",
        "ON SCREEN",
        "SHOWN",
        "SOURCE",
        "PATH",
        "IN SOURCE NOW",
        "VERDICT",
    ]);
    for c in r["fields"].as_array().into_iter().flatten() {
        f.row(vec![
            cell(&c["field"]),
            if c["on_screen"] == true { "yes" } else { "no" }.into(),
            cell(&c["shown"]),
            cell(&c["source"]),
            cell(&c["path"]),
            cell(&c["in_source"]),
            cell(&c["verdict"]).replace('_', " "),
        ]);
    }
    if !f.is_empty() {
        out.push('\n');
        out.push_str(&f.render());
    }
    for s in r["sources"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\nsource {} ({}): {} in {:.1} ms\n",
            cell(&s["source"]),
            cell(&s["target"]),
            cell(&s["outcome"]),
            s["elapsed_ms"].as_f64().unwrap_or(0.0)
        ));
        if let Some(e) = s.get("error") {
            out.push_str(&format!(
                "  failed: {}: {}\n",
                cell(&e["kind"]),
                cell(&e["detail"])
            ));
        }
        if let Some(raw) = s["raw"].as_str() {
            out.push_str("  raw answer: ");
            out.push_str(&clean(raw));
            out.push('\n');
        }
    }
    out
}
