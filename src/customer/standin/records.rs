//! What the stand-in serves for a customer: its nested record and its
//! orders, generated from its id so that every run sees the same ones.

use super::StandinCustomer;
use serde_json::{Value, json};

/// The record a customer is served as.
pub fn customer_record(c: &StandinCustomer) -> Value {
    json!({
        "data": {
            "Account": {
                "Id": c.id,
                "Name": c.name,
                "Tier": c.tier,
                "Vip": c.vip,
                "Balance": c.balance,
                "Since": c.since,
            },
            "Contacts": [
                {"Type": "work", "Phone": c.phone, "Email": c.email}
            ],
            "Flags": {"OpenTickets": open_tickets(&c.id)}
        }
    })
}

fn open_tickets(id: &str) -> u64 {
    id.bytes().map(u64::from).sum::<u64>() % 4
}

const ORDER_STATUSES: [&str; 4] = ["delivered", "shipped", "processing", "cancelled"];

/// Order `i` of a customer, newest (0) first.
pub fn customer_order(c: &StandinCustomer, i: usize) -> Value {
    let seed = open_tickets(&c.id) * 1009 + c.id.len() as u64;
    let cents = (i as u64 * 7919 + seed * 31) % 99_900 + 100;
    // 2025-06-30T12:00:00Z, one order every 7 hours before it.
    let placed = chrono::DateTime::from_timestamp(1_751_284_800 - i as i64 * 7 * 3600, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    json!({
        "OrderId": format!("O-{:07}", c.orders.saturating_sub(i)),
        "Total": format!("{}.{:02}", cents / 100, cents % 100),
        "Placed": placed,
        "Status": ORDER_STATUSES[i % ORDER_STATUSES.len()],
    })
}
