//! URL and JSON body templates: finding their `{param}` placeholders and
//! filling them so that no value can escape its segment, component or string.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Everything except RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _
/// ~`): what is left cannot end a segment or a query component, start a
/// fragment, or break a request line, whatever the server's parser.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One piece of a template: text as written, or a `{param}` placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    Param(&'a str),
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// Splits a template at its placeholders. A brace that does not open a
/// `{name}` is text, so JSON-ish literals in a body template survive.
pub(super) fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut text_from = 0;
    let mut i = 0;
    while let Some(off) = template[i..].find('{') {
        let open = i + off;
        let after = &template[open + 1..];
        match after.find('}') {
            Some(len) if len > 0 && after[..len].bytes().all(is_name_byte) => {
                if open > text_from {
                    out.push(Piece::Text(&template[text_from..open]));
                }
                out.push(Piece::Param(&after[..len]));
                i = open + len + 2;
                text_from = i;
            }
            _ => i = open + 1,
        }
    }
    if text_from < template.len() {
        out.push(Piece::Text(&template[text_from..]));
    }
    out
}

/// The placeholder names of a template, in order.
pub fn template_params(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Param(n) => Some(n),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Fills a URL template: each `{name}` becomes `value(name)` percent-encoded
/// as a single path segment / query component (see [`COMPONENT`]); a
/// missing value becomes empty. The text around placeholders is kept as
/// written.
pub fn fill_url_template<S: AsRef<str>>(
    template: &str,
    mut value: impl FnMut(&str) -> Option<S>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for p in pieces(template) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Param(name) => {
                if let Some(v) = value(name) {
                    out.extend(utf8_percent_encode(v.as_ref(), COMPONENT));
                }
            }
        }
    }
    out
}

/// Fills a JSON body template: a string that is exactly `{name}` becomes the
/// value as a JSON string (`limit` and `offset` as numbers; a missing value
/// is `null`); placeholders inside longer strings are replaced textually (a
/// missing value is empty). Object keys are kept as written.
pub fn fill_json_template<S: AsRef<str>>(
    template: &Value,
    value: &mut impl FnMut(&str) -> Option<S>,
) -> Value {
    match template {
        Value::String(s) => {
            let ps = pieces(s);
            match ps.as_slice() {
                [Piece::Param(name)] => match value(name) {
                    None => Value::Null,
                    Some(v) if matches!(*name, "limit" | "offset") => v
                        .as_ref()
                        .parse::<u64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| Value::String(v.as_ref().to_string())),
                    Some(v) => Value::String(v.as_ref().to_string()),
                },
                _ if ps.iter().all(|p| matches!(p, Piece::Text(_))) => template.clone(),
                _ => {
                    let mut out = String::with_capacity(s.len() + 16);
                    for p in ps {
                        match p {
                            Piece::Text(t) => out.push_str(t),
                            Piece::Param(name) => {
                                if let Some(v) = value(name) {
                                    out.push_str(v.as_ref());
                                }
                            }
                        }
                    }
                    Value::String(out)
                }
            }
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_json_template(v, value)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), fill_json_template(v, value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(super) fn json_template_params(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(template_params(s).into_iter().map(str::to_string)),
        Value::Array(items) => items.iter().for_each(|i| json_template_params(i, out)),
        Value::Object(fields) => fields.values().for_each(|i| json_template_params(i, out)),
        _ => {}
    }
}

/// The part of a URL before its query and fragment.
fn before_query(url: &str) -> &str {
    &url[..url.find(['?', '#']).unwrap_or(url.len())]
}

/// Whether a placeholder filled a whole path segment with nothing, `.` or
/// `..`. Such a URL cannot name the customer: WHATWG URL parsing (and every
/// server) folds dot segments, so `/customers/..` would ask for `/`, and an
/// empty id would ask for the whole collection.
pub(super) fn fills_a_dot_or_empty_segment(template: &str, filled: &str) -> bool {
    // Filled values never contain `/`, `?` or `#` (they are encoded), so
    // the template's segments and the filled URL's correspond one to one.
    before_query(template)
        .split('/')
        .zip(before_query(filled).split('/'))
        .any(|(t, f)| !template_params(t).is_empty() && matches!(f, "" | "." | ".."))
}

/// Query parameter names whose values `describe` hides.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key", "token", "secret", "password", "passwd", "auth", "sig",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The template for listings and logs: no userinfo, no secret-looking query
/// value.
pub(super) fn describe_template(template: &str) -> String {
    let (scheme, rest) = match template.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, template),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let mut out = String::with_capacity(template.len());
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(q) = query {
        let (q, fragment) = match q.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (q, None),
        };
        out.push('?');
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if looks_secret(k) && template_params(v).is_empty() => {
                    format!("{k}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}
