//! Several sources' records merged into one customer view: per field, the
//! first source in the field's declared precedence that has a value; each
//! field remembers where it came from.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Merges `records` (source name, mapped fields), given in the order the
/// sources are declared. `precedence` lists, per field, the sources to take
/// it from first; sources it does not list follow in declared order.
pub fn merge(
    records: &[(&str, &Map<String, Value>)],
    precedence: &BTreeMap<String, Vec<String>>,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut fields = Map::new();
    let mut origin = Map::new();
    // Field order: as the first source that has the field lists it.
    let mut names: Vec<&String> = Vec::new();
    for (_, rec) in records {
        for k in rec.keys() {
            if !names.contains(&k) {
                names.push(k);
            }
        }
    }
    for name in names {
        let preferred = precedence.get(name.as_str());
        let ranked =
            preferred
                .into_iter()
                .flatten()
                .filter_map(|p| records.iter().find(|(s, _)| *s == p.as_str()))
                .chain(records.iter().filter(|(s, _)| {
                    !preferred.is_some_and(|p| p.iter().any(|x| x.as_str() == *s))
                }));
        for (source, rec) in ranked {
            if let Some(v) = rec.get(name.as_str()).filter(|v| !is_empty(v)) {
                fields.insert(name.clone(), v.clone());
                origin.insert(name.clone(), Value::String((*source).to_string()));
                break;
            }
        }
    }
    (fields, origin)
}

/// A value that says nothing: null or an empty string.
fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("object"),
        }
    }

    #[test]
    fn precedence_per_field_then_declared_order() {
        let internal =
            obj(json!({"id": "C1", "name": "ana lima", "tier": "silver", "phone": "+1555"}));
        let crm = obj(json!({"name": "Ana Lima", "tier": "", "balance": "10.00"}));
        let erp = obj(json!({"tier": "gold", "name": "A. Lima"}));
        let records = [("internal", &internal), ("crm", &crm), ("erp", &erp)];
        let mut p = BTreeMap::new();
        p.insert("name".to_string(), vec!["crm".to_string()]);
        p.insert(
            "tier".to_string(),
            vec!["crm".to_string(), "erp".to_string()],
        );
        let (fields, origin) = merge(&records, &p);
        assert_eq!(
            Value::Object(fields),
            json!({"id": "C1", "name": "Ana Lima", "tier": "gold", "phone": "+1555", "balance": "10.00"})
        );
        assert_eq!(
            Value::Object(origin),
            json!({"id": "internal", "name": "crm", "tier": "erp", "phone": "internal", "balance": "crm"})
        );
        // Without precedence, declared order wins.
        let (fields, _) = merge(&records, &BTreeMap::new());
        assert_eq!(fields["name"], json!("ana lima"));
        assert_eq!(fields["tier"], json!("silver"));
    }

    #[test]
    fn a_precedence_naming_a_silent_source_falls_through() {
        let a = obj(json!({"name": "From A"}));
        let records = [("a", &a)];
        let mut p = BTreeMap::new();
        p.insert("name".to_string(), vec!["crm".to_string()]);
        let (fields, origin) = merge(&records, &p);
        assert_eq!(fields["name"], json!("From A"));
        assert_eq!(origin["name"], json!("a"));
    }
}
