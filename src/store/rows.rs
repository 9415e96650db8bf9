//! Rows to records. Columns that hold JSON or lists are read leniently (a
//! value the daemon cannot read becomes its default, and says so), so that
//! one bad row never stops the dialer.

use super::*;
use sqlx::Row;
use sqlx::any::AnyRow;

pub const TASK_COLUMNS: &str = "id, campaign_id, customer_id, phone, priority, status, attempts, tags, next_attempt_ms, not_before_ms, not_after_ms, time_zone, variables, idempotency_key, last_cause, submitted_by, agent_id, agent_until_ms, created_ms, updated_ms";
pub const ATTEMPT_COLUMNS: &str = "call_id, task_id, agent_id, switch_name, originate_ms, ring_ms, answer_ms, hangup_ms, outcome, hangup_cause, wrap_end_ms, pop_rule";
/// A column list qualified by a table's name or alias, for joins and
/// `UPDATE … FROM`: one list per table, so a column added to it reaches
/// every query that reads the table.
pub fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}
pub const CAMPAIGN_COLUMNS: &str = "id, name, state, settings, created_ms, updated_ms";
pub const AGENT_COLUMNS: &str = "id, name, extension, campaign_id, serves, level, locale";
pub const DISPOSITION_COLUMNS: &str =
    "call_id, task_id, campaign_id, agent_id, code, notes, callback_ms, at_ms";
pub const CUSTOMER_COLUMNS: &str = "id, name, phone, email, tier, vip, fields";

fn json_map(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

/// `,a,b,` as the store keeps tags.
pub fn tags_column(tags: &[String]) -> String {
    let mut s = String::from(",");
    for t in tags {
        s.push_str(t);
        s.push(',');
    }
    s
}

fn tags_from(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn count(row: &AnyRow, col: &str) -> StoreResult<u32> {
    Ok(row.try_get::<i64, _>(col)?.clamp(0, u32::MAX as i64) as u32)
}

pub fn customer(row: &AnyRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        tier: row.try_get("tier")?,
        vip: row.try_get::<i64, _>("vip")? != 0,
        fields: json_map(&row.try_get::<String, _>("fields")?),
    })
}

pub fn task(row: &AnyRow) -> StoreResult<Task> {
    let status: String = row.try_get("status")?;
    Ok(Task {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        customer_id: row.try_get("customer_id")?,
        phone: row.try_get("phone")?,
        priority: row.try_get("priority")?,
        status: TaskStatus::parse(&status)
            .ok_or_else(|| StoreError::Invalid(format!("task has an unknown status {status:?}")))?,
        attempts: count(row, "attempts")?,
        tags: tags_from(&row.try_get::<String, _>("tags")?),
        due_ms: row.try_get("next_attempt_ms")?,
        not_before_ms: row.try_get("not_before_ms")?,
        not_after_ms: row.try_get("not_after_ms")?,
        time_zone: row.try_get("time_zone")?,
        variables: json_map(&row.try_get::<String, _>("variables")?),
        idempotency_key: row.try_get("idempotency_key")?,
        last_cause: row.try_get("last_cause")?,
        submitted_by: row.try_get("submitted_by")?,
        agent_id: row.try_get("agent_id")?,
        agent_until_ms: row.try_get("agent_until_ms")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

pub fn attempt(row: &AnyRow) -> StoreResult<Attempt> {
    Ok(Attempt {
        call_id: row.try_get("call_id")?,
        task_id: row.try_get("task_id")?,
        agent_id: row.try_get("agent_id")?,
        switch_name: row.try_get("switch_name")?,
        originate_ms: row.try_get("originate_ms")?,
        ring_ms: row.try_get("ring_ms")?,
        answer_ms: row.try_get("answer_ms")?,
        hangup_ms: row.try_get("hangup_ms")?,
        outcome: row.try_get("outcome")?,
        hangup_cause: row.try_get("hangup_cause")?,
        wrap_end_ms: row.try_get("wrap_end_ms")?,
        pop_rule: row.try_get("pop_rule")?,
    })
}

pub fn agent(row: &AnyRow) -> StoreResult<Agent> {
    let id: String = row.try_get("id")?;
    let serves: String = row.try_get("serves")?;
    let mut campaigns: Vec<Serves> = serde_json::from_str(&serves)
        .map_err(|e| StoreError::Invalid(format!("agent {id}: campaigns: {e}")))?;
    if campaigns.is_empty() {
        // Written before agents served several campaigns.
        campaigns.push(Serves {
            campaign_id: row.try_get("campaign_id")?,
            priority: 0,
        });
    }
    let mut a = Agent {
        id,
        name: row.try_get("name")?,
        extension: row.try_get("extension")?,
        campaigns,
        level: row.try_get("level")?,
        locale: row.try_get("locale")?,
    };
    a.sort_campaigns();
    Ok(a)
}

pub fn serves_json(a: &Agent) -> StoreResult<String> {
    serde_json::to_string(&a.campaigns)
        .map_err(|e| StoreError::Invalid(format!("agent {}: campaigns: {e}", a.id)))
}

pub fn disposition(row: &AnyRow) -> StoreResult<Disposition> {
    Ok(Disposition {
        call_id: row.try_get("call_id")?,
        task_id: row.try_get("task_id")?,
        campaign_id: row.try_get("campaign_id")?,
        agent_id: row.try_get("agent_id")?,
        code: row.try_get("code")?,
        notes: row.try_get("notes")?,
        callback_ms: row.try_get("callback_ms")?,
        at_ms: row.try_get("at_ms")?,
    })
}

pub fn campaign(row: &AnyRow) -> StoreResult<Campaign> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let settings: String = row.try_get("settings")?;
    let settings = serde_json::from_str::<CampaignSettings>(&settings).unwrap_or_else(|e| {
        // Written only after validation, so this is a hand edit: the
        // defaults are safe (no retries beyond the defaults' own).
        tracing::error!(campaign = %id, error = %e, "campaign settings in the store cannot be read; using the defaults");
        CampaignSettings::default()
    });
    Ok(Campaign {
        state: CampaignState::parse(&state).ok_or_else(|| {
            StoreError::Invalid(format!("campaign {id:?} has an unknown state {state:?}"))
        })?,
        id,
        name: row.try_get("name")?,
        settings,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

pub fn dnc(row: &AnyRow) -> StoreResult<DncEntry> {
    let campaign: String = row.try_get("campaign_id")?;
    Ok(DncEntry {
        phone: row.try_get("phone")?,
        campaign_id: (!campaign.is_empty()).then_some(campaign),
        reason: row.try_get("reason")?,
        added_ms: row.try_get("added_ms")?,
    })
}

pub fn verdict(s: &str) -> StoreResult<Verdict> {
    Ok(match s {
        "dial" => Verdict::Dial,
        "defer" => Verdict::Defer,
        "refuse" => Verdict::Refuse,
        other => return Err(StoreError::Invalid(format!("unknown verdict {other:?}"))),
    })
}

pub fn decision(row: &AnyRow) -> StoreResult<DialDecision> {
    Ok(DialDecision {
        task_id: row.try_get("task_id")?,
        campaign_id: row.try_get("campaign_id")?,
        at_ms: row.try_get("at_ms")?,
        verdict: verdict(&row.try_get::<String, _>("verdict")?)?,
        reason: row.try_get("reason")?,
        detail: row.try_get("detail")?,
        call_id: row.try_get("call_id")?,
    })
}
