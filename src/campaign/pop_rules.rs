//! Which answered calls pop: filters on the customer's fields, compared by
//! type (a number with numbers, including the exact decimals SQL sources
//! give as strings; text with text), never as raw strings. Pure: the
//! dialer applies the result and records the decision with the attempt.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// The field is one of the values (a list).
    In,
    /// The field (a list, or text) holds the value.
    Contains,
    /// The field is there and not null.
    Exists,
}

/// One condition; a campaign's filters must all hold for a call to pop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopFilter {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Value,
}

/// Whether the call pops, and why (for the record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub pops: bool,
    pub reason: String,
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Equal by type: numbers as numbers, text case-insensitively, booleans
/// also from their usual spellings ("true", 1).
fn same(a: &Value, b: &Value) -> bool {
    if let (Value::Bool(x), other) | (other, Value::Bool(x)) = (a, b) {
        return match other {
            Value::Bool(y) => x == y,
            Value::Number(n) => n.as_i64() == Some(*x as i64),
            Value::String(s) => s.eq_ignore_ascii_case(&x.to_string()),
            _ => false,
        };
    }
    if b.is_number() || a.is_number() {
        return matches!((number(a), number(b)), (Some(x), Some(y)) if x == y);
    }
    matches!((text(a), text(b)), (Some(x), Some(y)) if x == y)
}

fn holds(f: &PopFilter, field: Option<&Value>) -> bool {
    let field = field.filter(|v| !v.is_null());
    let Some(v) = field else {
        return f.op == Op::Ne;
    };
    let order = |cmp: fn(f64, f64) -> bool| matches!((number(v), number(&f.value)), (Some(x), Some(y)) if cmp(x, y));
    match f.op {
        Op::Exists => true,
        Op::Eq => same(v, &f.value),
        Op::Ne => !same(v, &f.value),
        Op::Gt => order(|x, y| x > y),
        Op::Ge => order(|x, y| x >= y),
        Op::Lt => order(|x, y| x < y),
        Op::Le => order(|x, y| x <= y),
        Op::In => f
            .value
            .as_array()
            .is_some_and(|set| set.iter().any(|s| same(v, s))),
        Op::Contains => match v {
            Value::Array(items) => items.iter().any(|i| same(i, &f.value)),
            Value::String(s) => text(&f.value).is_some_and(|t| s.to_lowercase().contains(&t)),
            _ => false,
        },
    }
}

/// The campaign's filters over the customer's fields: all must hold.
pub fn decide(filters: &[PopFilter], fields: &Map<String, Value>) -> Decision {
    for f in filters {
        if !holds(f, fields.get(&f.field)) {
            return Decision {
                pops: false,
                reason: format!("filter {} {:?} {} did not hold", f.field, f.op, f.value)
                    .to_lowercase(),
            };
        }
    }
    Decision {
        pops: true,
        reason: if filters.is_empty() {
            "no filters".into()
        } else {
            format!("{} filters held", filters.len())
        },
    }
}

/// Checks a campaign's filters: the operators that compare need a value
/// of the right kind.
pub fn check(filters: &[PopFilter]) -> Result<(), (String, String)> {
    for (i, f) in filters.iter().enumerate() {
        let at = format!("pop_filters[{i}]");
        if f.field.is_empty() || f.field.len() > 64 {
            return Err((format!("{at}.field"), "1 to 64 characters".into()));
        }
        let ok = match f.op {
            Op::Gt | Op::Ge | Op::Lt | Op::Le => number(&f.value).is_some(),
            Op::In => f.value.is_array(),
            Op::Exists => true,
            Op::Eq | Op::Ne | Op::Contains => !f.value.is_null() && !f.value.is_object(),
        };
        if !ok {
            return Err((
                format!("{at}.value"),
                format!(
                    "{:?} needs a {} value",
                    f.op,
                    match f.op {
                        Op::Gt | Op::Ge | Op::Lt | Op::Le => "number",
                        Op::In => "list",
                        _ => "text, number or boolean",
                    }
                )
                .to_lowercase(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(field: &str, op: Op, value: Value) -> PopFilter {
        PopFilter {
            field: field.into(),
            op,
            value,
        }
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn comparisons_are_typed_not_textual() {
        let c = fields(
            json!({"tier": "VIP", "balance": "10000.50", "vip": 1, "tags": ["renewal", "b2b"],
                             "age": 9, "note": "Asks for María"}),
        );
        let pops = |fs: &[PopFilter]| decide(fs, &c).pops;
        assert!(
            pops(&[f("tier", Op::Eq, json!("vip"))]),
            "text ignores case"
        );
        // "10000.50" > 10000 as numbers; as text "9" > "10000" would hold too.
        assert!(pops(&[f("balance", Op::Gt, json!(10000))]));
        assert!(!pops(&[f("balance", Op::Gt, json!(20000))]));
        assert!(!pops(&[f("age", Op::Gt, json!(10))]), "9 is not above 10");
        assert!(pops(&[f("vip", Op::Eq, json!(true))]));
        assert!(pops(&[f("tags", Op::Contains, json!("b2b"))]));
        assert!(pops(&[f("tier", Op::In, json!(["gold", "vip"]))]));
        assert!(pops(&[f("note", Op::Contains, json!("maría"))]));
        assert!(
            !pops(&[f("missing", Op::Eq, json!("x"))]),
            "a missing field holds nothing"
        );
        assert!(pops(&[f("missing", Op::Ne, json!("x"))]));
        assert!(
            !pops(&[f("tier", Op::Gt, json!(1))]),
            "text is not a number"
        );
        let d = decide(
            &[
                f("tier", Op::Eq, json!("vip")),
                f("balance", Op::Lt, json!(5)),
            ],
            &c,
        );
        assert!(!d.pops);
        assert!(d.reason.contains("balance"), "{}", d.reason);
        assert_eq!(decide(&[], &c).reason, "no filters");
    }

    #[test]
    fn filters_are_checked_for_the_kind_of_their_value() {
        assert_eq!(check(&[f("balance", Op::Gt, json!(10))]), Ok(()));
        assert_eq!(
            check(&[f("balance", Op::Gt, json!("ten"))]).unwrap_err().0,
            "pop_filters[0].value"
        );
        assert_eq!(
            check(&[f("tier", Op::In, json!("vip"))]).unwrap_err().0,
            "pop_filters[0].value"
        );
        assert_eq!(
            check(&[f("", Op::Exists, Value::Null)]).unwrap_err().0,
            "pop_filters[0].field"
        );
    }
}
