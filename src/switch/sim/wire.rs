//! The bytes mod_event_socket writes: reply frames, event frames, and the
//! JSON and XML forms of an event.

use crate::switch::esl::EventFormat;
use crate::switch::esl::event::EslEvent;
use crate::switch::headers::percent_encode_into;
use bytes::Bytes;

pub const AUTH_REQUEST: &[u8] = b"Content-Type: auth/request\n\n";
pub const GOODBYE: &str = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";
pub const LOST_EVENTS: &str = "killed listener because of lost events\n";

/// `Content-Type: command/reply` with `Reply-Text`.
pub fn command_reply(text: &str) -> Bytes {
    Bytes::from(format!(
        "Content-Type: command/reply\nReply-Text: {text}\n\n"
    ))
}

/// The reply to `bgapi`, which repeats the job id as a header of its own.
pub fn bgapi_reply(job_uuid: &str) -> Bytes {
    Bytes::from(format!(
        "Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job_uuid}\nJob-UUID: {job_uuid}\n\n"
    ))
}

/// `api/response`: type first, then the length.
pub fn api_response(body: &str) -> Bytes {
    Bytes::from(format!(
        "Content-Type: api/response\nContent-Length: {}\n\n{body}",
        body.len()
    ))
}

pub fn disconnect_notice(text: &str) -> Bytes {
    Bytes::from(format!(
        "Content-Type: text/disconnect-notice\nContent-Length: {}\n\n{text}",
        text.len()
    ))
}

/// An event frame: length first, then the type.
pub fn event_frame(format: EventFormat, body: &[u8]) -> Bytes {
    let head = format!(
        "Content-Length: {}\nContent-Type: text/event-{}\n\n",
        body.len(),
        format.as_str()
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// A JSON string as cJSON prints it: `"` `\` and control characters escaped,
/// everything else (UTF-8 included) as is.
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// `switch_event_serialize_json`: one unformatted object, headers in order
/// (a repeated name is repeated, as cJSON allows), then `Content-Length`
/// and `_body` when the event has a body.
pub fn event_json(ev: &EslEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * ev.headers.len());
    out.push(b'{');
    let mut first = true;
    let mut field = |out: &mut Vec<u8>, k: &[u8], v: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        json_string(out, k);
        out.push(b':');
        json_string(out, v);
    };
    for (k, v) in ev.headers.iter() {
        field(&mut out, k, v);
    }
    if let Some(body) = ev.body.as_ref().filter(|b| !b.is_empty()) {
        field(&mut out, b"Content-Length", body.len().to_string().as_bytes());
        field(&mut out, b"_body", body);
    }
    out.push(b'}');
    out
}

fn xml_text(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            b => out.push(b),
        }
    }
}

/// `switch_event_xmlize` + `switch_xml_toxml`: one element per header with
/// the value URL-encoded, and the body in `<body>`.
pub fn event_xml(ev: &EslEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(80 * ev.headers.len());
    out.extend_from_slice(b"<event>\n  <headers>\n");
    let mut enc = Vec::new();
    let mut header = |out: &mut Vec<u8>, k: &[u8], v: &[u8]| {
        enc.clear();
        percent_encode_into(v, &mut enc);
        out.extend_from_slice(b"    <");
        out.extend_from_slice(k);
        out.push(b'>');
        xml_text(out, &enc);
        out.extend_from_slice(b"</");
        out.extend_from_slice(k);
        out.extend_from_slice(b">\n");
    };
    for (k, v) in ev.headers.iter() {
        header(&mut out, k, v);
    }
    let body = ev.body.as_ref().filter(|b| !b.is_empty());
    if let Some(b) = body {
        header(&mut out, b"Content-Length", b.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"  </headers>\n");
    if let Some(b) = body {
        out.extend_from_slice(b"  <body>");
        xml_text(&mut out, b);
        out.extend_from_slice(b"</body>\n");
    }
    out.extend_from_slice(b"</event>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::esl::event::parse_event_json;
    use crate::switch::headers::Headers;

    #[test]
    fn json_round_trips_through_the_client_parser() {
        let ev = EslEvent {
            headers: Headers::from_pairs([
                ("Event-Name", "BACKGROUND_JOB"),
                ("Job-Command-Arg", "{a=\"b\"}\tx\\y"),
            ]),
            body: Some(Bytes::from_static(b"-ERR USER_BUSY\n")),
        };
        let json = event_json(&ev);
        assert!(json.starts_with(b"{\"Event-Name\":\"BACKGROUND_JOB\""));
        let back = parse_event_json(&json).expect("valid JSON");
        assert_eq!(back.headers.get("Job-Command-Arg"), ev.headers.get("Job-Command-Arg"));
        assert_eq!(back.body, ev.body);
    }

    #[test]
    fn frames() {
        assert_eq!(
            &api_response("-ERR foo Command not found!\n")[..],
            b"Content-Type: api/response\nContent-Length: 28\n\n-ERR foo Command not found!\n"
        );
        assert_eq!(disconnect_notice(GOODBYE).len(), 57 + 67);
        assert_eq!(GOODBYE.len(), 67);
    }
}
