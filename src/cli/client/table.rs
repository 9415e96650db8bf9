//! Aligned text tables and the cell formatting the client's output shares.

use serde_json::Value;

/// Columns padded to their widest cell, two spaces apart.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// A row; each cell is cleaned of control characters.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| clean(c)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        // Columns as the terminal draws them: wide (CJK) characters take two.
        let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
        let mut widths: Vec<usize> = self.head.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(c));
                }
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(c);
                if i + 1 < widths.len() {
                    line.extend(std::iter::repeat_n(' ', w - width(c)));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Text from the server without control characters (a name cannot move
/// the cursor or clear the terminal).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A JSON value as a cell: strings bare, null as `-`, lists joined.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(m) if m.is_empty() => "-".into(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", cell(v)))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC, seconds).
pub fn time_ms(v: &Value) -> String {
    v.as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| cell(v))
}

/// An RFC 3339 time as the tables show it: UTC, to the second.
pub fn time_str(v: &Value) -> String {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|| cell(v))
}

/// `key: value` lines, the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    pairs
        .iter()
        .map(|(k, v)| format!("{:<w$}  {}\n", format!("{k}:"), clean(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_control_characters_go() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["a".into(), "x\u{1b}[2J".into()]);
        t.row(vec!["longer".into(), "y".into()]);
        assert_eq!(t.render(), "ID      NAME\na       x [2J\nlonger  y\n");
        let mut t = Table::new(&["NAME", "TIER"]);
        t.row(vec!["王芳".into(), "gold".into()]);
        t.row(vec!["Ana".into(), "silver".into()]);
        assert_eq!(t.render(), "NAME  TIER\n王芳  gold\nAna   silver\n");
    }

    #[test]
    fn fields_align_after_the_colon() {
        assert_eq!(
            fields(&[("id", "7".into()), ("status", "pending".into())]),
            "id:      7\nstatus:  pending\n"
        );
    }
}
