//! What an agent sees: the pop's content, and its delivery to the agent's
//! open pages with acknowledgement.

pub mod hub;
pub mod messages;

use crate::store::{Customer, Task};
use messages::ServerMsg;

/// The pop for a call, from the customer record (or, when it could not be
/// had, from the task's own fields, marked degraded with the reasons).
pub fn build_pop(
    pop_id: &str,
    call_id: &str,
    task: &Task,
    customer: Option<&Customer>,
    reasons: Vec<String>,
) -> ServerMsg {
    let mut c = serde_json::Map::new();
    match customer {
        Some(cust) => {
            c.insert("id".into(), cust.id.clone().into());
            c.insert("name".into(), cust.name.clone().into());
            c.insert("phone".into(), cust.phone.clone().into());
            if let Some(t) = &cust.tier {
                c.insert("tier".into(), t.clone().into());
            }
            c.insert("vip".into(), cust.vip.into());
            if let Some(e) = &cust.email {
                c.insert("email".into(), e.clone().into());
            }
            for (k, v) in &cust.fields {
                c.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        None => {
            c.insert("id".into(), task.customer_id.clone().into());
            c.insert("phone".into(), task.phone.clone().into());
        }
    }
    ServerMsg::Pop {
        pop_id: pop_id.to_string(),
        call_id: call_id.to_string(),
        campaign_id: task.campaign_id.clone(),
        task_id: task.id,
        trigger: "answer".into(),
        customer: c,
        degraded: customer.is_none() || !reasons.is_empty(),
        reasons,
    }
}
