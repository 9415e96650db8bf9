//! A task as a client writes it (a JSON object, a CSV row) made into a
//! task the store keeps: every field checked, the phone normalised for the
//! campaign's region, the zone found, the first due time set at the
//! window's first opening. The API and the CSV import share it.

use super::phone;
use super::settings::{FieldError, field_error, valid_tag};
use crate::store::{Campaign, NewTask};
use chrono::{DateTime, TimeZone, Utc};

/// The fields of one task, as text, before any check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskInput {
    pub customer_id: String,
    pub phone: String,
    pub priority: Option<i64>,
    pub tags: Vec<String>,
    /// RFC 3339.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub time_zone: Option<String>,
    pub variables: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
}

pub const MAX_TAGS: usize = 16;
pub const MAX_VARIABLES: usize = 20;

fn text(field: &'static str, v: &str, max: usize) -> Result<String, FieldError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(field_error(field, "is empty"));
    }
    if v.len() > max {
        return Err(field_error(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(field_error(field, "contains control characters"));
    }
    Ok(v.to_string())
}

fn time(field: &'static str, v: &str) -> Result<i64, FieldError> {
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| field_error(field, format!("{v:?} is not an RFC 3339 time ({e})")))
}

/// A variable may reach the switch: a short lowercase name, and a value of
/// characters that no dial string or channel variable syntax gives a
/// meaning to.
pub fn check_variable(name: &str, value: &str) -> Result<(), FieldError> {
    let field = "variables";
    if !(1..=32).contains(&name.len())
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(field_error(
            field,
            format!("{name:?} is not a variable name (1 to 32 of a-z 0-9 _)"),
        ));
    }
    if value.len() > 256 {
        return Err(field_error(
            field,
            format!("{name}: value is longer than 256 characters"),
        ));
    }
    if let Some(c) = value.chars().find(|c| {
        !(c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | ':' | '@' | '/' | '+' | '#'))
    }) {
        return Err(field_error(field, format!("{name}: value contains {c:?}")));
    }
    Ok(())
}

/// Checks the input and makes the task for `campaign`.
pub fn intake(
    input: &TaskInput,
    campaign: &Campaign,
    now_ms: i64,
    submitted_by: Option<&str>,
) -> Result<NewTask, FieldError> {
    Intake::new(campaign.clone()).task(input, now_ms, submitted_by)
}

/// A campaign's intake, with what every task of it shares worked out once
/// (an import checks a million rows against the same campaign).
pub struct Intake {
    campaign: Campaign,
    region: phonenumber::country::Id,
    zone: chrono_tz::Tz,
}

impl Intake {
    pub fn new(campaign: Campaign) -> Intake {
        Intake {
            region: phone::region(&campaign.settings.region)
                .unwrap_or(phonenumber::country::Id::US),
            zone: campaign.settings.zone(),
            campaign,
        }
    }

    pub fn task(
        &self,
        input: &TaskInput,
        now_ms: i64,
        submitted_by: Option<&str>,
    ) -> Result<NewTask, FieldError> {
        let (campaign, region) = (&self.campaign, self.region);
        let customer_id = text("customer_id", &input.customer_id, 128)?;
        // It travels to the switch as a channel variable: keep it to characters
        // that cannot change the originate's syntax.
        if !customer_id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
        {
            return Err(field_error(
                "customer_id",
                "may contain only letters, digits and - _ . : @",
            ));
        }
        let settings = &campaign.settings;
        let number = phone::normalise(&input.phone, region).map_err(|e| field_error("phone", e))?;
        let priority = input.priority.unwrap_or(0);
        if !(0..=1000).contains(&priority) {
            return Err(field_error(
                "priority",
                "must be a whole number from 0 to 1000",
            ));
        }
        if input.tags.len() > MAX_TAGS {
            return Err(field_error("tags", format!("at most {MAX_TAGS} tags")));
        }
        let mut tags = Vec::with_capacity(input.tags.len());
        for t in &input.tags {
            let t = t.trim().to_ascii_lowercase();
            if !valid_tag(&t) {
                return Err(field_error(
                    "tags",
                    format!("{t:?} is not a tag (1 to 64 of a-z 0-9 - _ .)"),
                ));
            }
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let not_before_ms = input
            .not_before
            .as_deref()
            .map(|v| time("not_before", v))
            .transpose()?;
        let not_after_ms = input
            .not_after
            .as_deref()
            .map(|v| time("not_after", v))
            .transpose()?;
        if let (Some(a), Some(b)) = (not_before_ms, not_after_ms)
            && b <= a
        {
            return Err(field_error("not_after", "is not after not_before"));
        }
        if not_after_ms.is_some_and(|b| b <= now_ms) {
            return Err(field_error("not_after", "has already passed"));
        }
        let time_zone = match input.time_zone.as_deref().map(str::trim) {
            Some(z) if !z.is_empty() => match z.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz.name().to_string()),
                Err(_) => {
                    return Err(field_error(
                        "time_zone",
                        format!("{z:?} is not an IANA time zone"),
                    ));
                }
            },
            // Else the number's, where its country has one zone; else the
            // campaign's (kept empty, so that a change of the campaign's zone
            // reaches the task).
            _ => number
                .region
                .and_then(|r| crate::dialer::tz_region::single_zone(r.as_ref()))
                .map(|tz| tz.name().to_string()),
        };
        if input.variables.len() > MAX_VARIABLES {
            return Err(field_error(
                "variables",
                format!("at most {MAX_VARIABLES} variables"),
            ));
        }
        let mut variables = serde_json::Map::new();
        for (k, v) in &input.variables {
            check_variable(k, v)?;
            variables.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        let idempotency_key = input
            .idempotency_key
            .as_deref()
            .map(|k| text("idempotency_key", k, 128))
            .transpose()?;
        // The first due time: its not_before, or now, moved to the window's
        // next opening in the customer's zone, so the claim finds it due then.
        let mut due_ms = not_before_ms.map_or(now_ms, |t| t.max(now_ms));
        if let Some(w) = &settings.calling_window {
            let tz = time_zone
                .as_deref()
                .and_then(|z| z.parse().ok())
                .unwrap_or(self.zone);
            if let Some(open) = Utc
                .timestamp_millis_opt(due_ms)
                .single()
                .and_then(|t| w.next_opening(t, tz))
            {
                due_ms = open.timestamp_millis();
            }
        }
        Ok(NewTask {
            campaign_id: campaign.id.clone(),
            customer_id,
            phone: number.e164,
            priority,
            tags,
            due_ms,
            not_before_ms,
            not_after_ms,
            time_zone,
            variables,
            idempotency_key,
            submitted_by: submitted_by.map(str::to_string),
        })
    }
}
