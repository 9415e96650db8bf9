//! Columns found by their header names, and a task's fields read from a row.

use crate::campaign::intake::TaskInput;
use crate::campaign::settings::FieldError;

/// Where each field is in a row.
pub(super) struct TaskColumns {
    customer_id: usize,
    phone: usize,
    priority: Option<usize>,
    tags: Option<usize>,
    not_before: Option<usize>,
    not_after: Option<usize>,
    time_zone: Option<usize>,
    external_id: Option<usize>,
    variables: Vec<(String, usize)>,
}

pub(super) fn find(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

pub(super) fn task_columns(
    header: &csv::StringRecord,
) -> Result<(TaskColumns, Vec<String>), String> {
    let need = |names: &[&str]| {
        find(header, names).ok_or_else(|| format!("the header has no {} column", names[0]))
    };
    let cols = TaskColumns {
        customer_id: need(&["customer_id", "customer"])?,
        phone: need(&["phone", "phone_number", "number"])?,
        priority: find(header, &["priority"]),
        tags: find(header, &["tags"]),
        not_before: find(header, &["not_before"]),
        not_after: find(header, &["not_after"]),
        time_zone: find(header, &["time_zone", "timezone", "tz"]),
        external_id: find(header, &["external_id", "idempotency_key"]),
        variables: header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let h = h.trim();
                h.strip_prefix("var.")
                    .or_else(|| h.strip_prefix("var_"))
                    .map(|n| (n.to_string(), i))
            })
            .collect(),
    };
    let mut used = vec![cols.customer_id, cols.phone];
    used.extend(
        [
            cols.priority,
            cols.tags,
            cols.not_before,
            cols.not_after,
            cols.time_zone,
            cols.external_id,
        ]
        .into_iter()
        .flatten(),
    );
    used.extend(cols.variables.iter().map(|(_, i)| *i));
    let ignored = header
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, h)| h.to_string())
        .collect();
    Ok((cols, ignored))
}

pub(super) fn task_input(c: &TaskColumns, r: &csv::StringRecord) -> Result<TaskInput, FieldError> {
    let get = |i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let priority = match get(c.priority) {
        Some(p) => Some(p.parse::<i64>().map_err(|_| {
            crate::campaign::settings::field_error(
                "priority",
                format!("{p:?} is not a whole number"),
            )
        })?),
        None => None,
    };
    Ok(TaskInput {
        customer_id: get(Some(c.customer_id)).unwrap_or_default(),
        phone: get(Some(c.phone)).unwrap_or_default(),
        priority,
        tags: get(c.tags)
            .map(|t| {
                t.split([';', '|', ','])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        not_before: get(c.not_before),
        not_after: get(c.not_after),
        time_zone: get(c.time_zone),
        variables: c
            .variables
            .iter()
            .filter_map(|(n, i)| get(Some(*i)).map(|v| (n.clone(), v)))
            .collect(),
        idempotency_key: get(c.external_id),
    })
}
