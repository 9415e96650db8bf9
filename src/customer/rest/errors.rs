//! Transport and JSON failures as source errors, told apart by kind, with
//! details that name no customer data.

use crate::customer::source::{FailureKind, SourceError};
use reqwest::StatusCode;

/// A failure's whole cause chain, for the detail (the URL is stripped
/// first: it may hold a phone number).
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    let mut text = parts.join(": ");
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn any_in_chain(
    e: &(dyn std::error::Error + 'static),
    mut pred: impl FnMut(&(dyn std::error::Error + 'static)) -> bool,
) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if pred(err) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The kind of a transport failure, from the error's cause chain.
fn classify(e: &reqwest::Error) -> FailureKind {
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    let dns = e.is_dns()
        || any_in_chain(e, |err| {
            let s = err.to_string().to_ascii_lowercase();
            s.starts_with("dns error")
                || s.contains("failed to lookup address")
                || err
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
        });
    if dns {
        return FailureKind::Dns;
    }
    // rustls is not a direct dependency, so its errors are recognised by
    // what they say; they reach us wrapped in `io::Error`s, whose Display
    // is the rustls error's.
    let tls = any_in_chain(e, |err| {
        let s = err.to_string().to_ascii_lowercase();
        [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "peer misbehaved",
            "peer is incompatible",
            "received fatal alert",
        ]
        .iter()
        .any(|m| s.contains(m))
    });
    if tls {
        return FailureKind::Tls;
    }
    if e.is_decode() {
        return FailureKind::Json;
    }
    // A connect failure, or the connection lost mid-exchange.
    FailureKind::Connect
}

pub(super) fn transport_error(what: &str, e: reqwest::Error) -> SourceError {
    let e = e.without_url();
    SourceError::new(classify(&e), format!("{what}: {}", chain_text(&e)))
}

pub(super) fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(r) => format!("HTTP {} {r}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

pub(super) fn json_error(what: &str, e: &serde_json::Error) -> SourceError {
    // Only the position: serde's message may quote the body.
    SourceError::new(
        FailureKind::Json,
        format!(
            "{what} is not JSON ({} error at line {}, column {})",
            format!("{:?}", e.classify()).to_lowercase(),
            e.line(),
            e.column()
        ),
    )
}
