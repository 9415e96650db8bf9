//! More rows of a pop's history table, asked for by the agent's page over
//! its socket: the rows come filled with the same template columns as the
//! pop's first page, so the page never formats anything itself.

use super::AppState;
use crate::customer::PageRequest;
use crate::popup::format::Locale;
use crate::popup::messages::ServerMsg;
use crate::popup::render;
use crate::popup::template::{BlockSpec, FieldSpec, Templates};
use crate::store::Agent;

/// Rows per page asked of the source.
pub const PAGE_ROWS: u32 = 50;

fn valid_source(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

fn valid_cursor(s: &str) -> bool {
    s.len() <= 512 && s.chars().all(|c| c.is_ascii_graphic())
}

/// The template's columns for the source, or none (a plain list).
fn columns_of(templates: &Templates, level: Option<&str>, source: &str) -> Option<Vec<FieldSpec>> {
    let t = templates.pick(level).ok()?;
    t.blocks.iter().find_map(|b| match b {
        BlockSpec::History {
            source: s, columns, ..
        } if s == source => Some(columns.clone()),
        _ => None,
    })
}

pub async fn page(
    s: &AppState,
    agent: &Agent,
    locale: Locale,
    pop_id: String,
    source: String,
    offset: Option<u64>,
    cursor: Option<String>,
) -> ServerMsg {
    let answer =
        |rows, next_offset, next_cursor, total, error: Option<String>| ServerMsg::HistoryPage {
            pop_id: pop_id.clone(),
            source: source.clone(),
            rows,
            next_offset,
            next_cursor,
            total,
            error,
        };
    if !valid_source(&source) || cursor.as_deref().is_some_and(|c| !valid_cursor(c)) {
        return answer(
            Vec::new(),
            None,
            None,
            None,
            Some("not a history source or cursor".into()),
        );
    }
    // Another agent's pop is as unknown as one that never was.
    let rec = match s.store.pop(&pop_id).await {
        Ok(Some(r)) if r.agent_id == agent.id => r,
        Ok(_) => return answer(Vec::new(), None, None, None, Some("no such pop".into())),
        Err(e) => {
            tracing::error!(error = %e, "store error reading a pop");
            return answer(
                Vec::new(),
                None,
                None,
                None,
                Some("store unavailable".into()),
            );
        }
    };
    let task = match rec.task_id {
        Some(id) => s.store.task(id).await.ok().flatten(),
        None => None,
    };
    let Some(task) = task else {
        return answer(
            Vec::new(),
            None,
            None,
            None,
            Some("the pop's call is no longer known".into()),
        );
    };
    let templates = match s.store.campaign(&task.campaign_id).await {
        Ok(Some(c)) => Templates::of(&c.settings.templates),
        _ => Templates::default(),
    };
    let lookup = s.customers.lookup_for_task(&task);
    let req = PageRequest {
        limit: PAGE_ROWS,
        offset: offset.unwrap_or(0),
        cursor,
    };
    match s.customers.history_page(&source, &lookup, req).await {
        None => answer(
            Vec::new(),
            None,
            None,
            None,
            Some(format!("no history source named {source:?}")),
        ),
        Some(Err(f)) => answer(Vec::new(), None, None, None, Some(f.to_string())),
        Some(Ok(p)) => {
            let columns = columns_of(&templates, agent.level.as_deref(), &source)
                .unwrap_or_else(|| render::plain_columns(&p.items));
            let rows = render::rows(&columns, &p.items, locale);
            answer(rows, p.next_offset, p.next_cursor, p.total, None)
        }
    }
}
