//! The bodies of `text/event-plain` and `text/event-json` frames.

use super::EslError;
use super::frame::walk_header_block;
use crate::switch::headers::{Headers, ValueDecoding, percent_encode_into};
use bytes::Bytes;

/// One FreeSWITCH event: its headers (values decoded) and, for events that
/// carry one (BACKGROUND_JOB, MESSAGE, ...), its own body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EslEvent {
    pub headers: Headers,
    pub body: Option<Bytes>,
}

impl EslEvent {
    pub fn name(&self) -> Option<&[u8]> {
        self.headers.get("Event-Name")
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    pub fn get_str(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers.get_str(name)
    }

    pub fn is(&self, event_name: &str) -> bool {
        self.name() == Some(event_name.as_bytes())
    }

    /// Serializes as FreeSWITCH's `switch_event_serialize(.., encode=TRUE)`:
    /// encoded values, then either `Content-Length` and the body, or a lone LF.
    pub fn to_plain(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.headers.len());
        for (k, v) in self.headers.iter() {
            out.extend_from_slice(k);
            out.extend_from_slice(b": ");
            if v.is_empty() {
                out.extend_from_slice(b"_undef_");
            } else {
                percent_encode_into(v, &mut out);
            }
            out.push(b'\n');
        }
        match &self.body {
            Some(b) => {
                out.extend_from_slice(format!("Content-Length: {}\n\n", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            None => out.push(b'\n'),
        }
        out
    }
}

/// Parses an event-plain body: `Name: urlencoded\n` lines, then either the end
/// (a lone LF) or an inner `Content-Length` and that many body bytes.
pub fn parse_event_plain(body: Bytes) -> Result<EslEvent, EslError> {
    let data = &body[..];
    let mut headers = Headers::with_capacity(body.clone(), data.len() / 40 + 1);
    let mut inner_len = None;
    // Most events end with "\n\n"; a body cut right after its last header
    // line (seen in hand-made captures) ends the block too.
    let body_start = walk_header_block(data, 0, |name, at| {
        if name.eq_ignore_ascii_case(b"Content-Length") {
            inner_len = Some(inner_content_length(&data[at.value.0..at.value.1])?);
        } else {
            headers.push_raw(at.name, at.value, ValueDecoding::PercentUndef);
        }
        Ok(())
    })?;
    let event_body = match inner_len {
        None => None,
        Some(n) if body_start + n <= data.len() => Some(body.slice(body_start..body_start + n)),
        Some(n) => {
            return Err(EslError::InnerBodyTruncated {
                declared: n,
                available: data.len().saturating_sub(body_start),
            });
        }
    };
    Ok(EslEvent {
        headers,
        body: event_body,
    })
}

fn inner_content_length(value: &[u8]) -> Result<usize, EslError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or_else(|| EslError::InvalidContentLength {
            value: super::printable(value),
        })
}

/// Parses an event-json body: one JSON object whose values are strings (or
/// arrays of strings for array headers); `_body` holds the event's body.
pub fn parse_event_json(body: &[u8]) -> Result<EslEvent, EslError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| EslError::Json(e.to_string()))?;
    let mut headers = Headers::default();
    let mut event_body = None;
    for (k, v) in map {
        let text = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(items) => {
                let parts: Vec<String> = items
                    .into_iter()
                    .map(|i| match i {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                format!("ARRAY::{}", parts.join("|:"))
            }
            other => other.to_string(),
        };
        if k == "_body" {
            event_body = Some(Bytes::from(text));
        } else if !k.eq_ignore_ascii_case("Content-Length") {
            headers.push_owned(k.as_bytes(), text.as_bytes());
        }
    }
    Ok(EslEvent {
        headers,
        body: event_body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_with_inner_body_and_undef() {
        let raw = b"Event-Name: BACKGROUND_JOB\nJob-Command-Arg: %7Ba%3Db%7Dloopback/1\nEmpty: _undef_\nContent-Length: 15\n\n-ERR USER_BUSY\n";
        let ev = parse_event_plain(Bytes::from_static(raw)).expect("parses");
        assert!(ev.is("BACKGROUND_JOB"));
        assert_eq!(ev.get("job-command-arg"), Some(&b"{a=b}loopback/1"[..]));
        assert_eq!(ev.get("Empty"), Some(&b""[..]));
        assert_eq!(ev.body.as_deref(), Some(&b"-ERR USER_BUSY\n"[..]));
        // Serializing again gives the same bytes back.
        assert_eq!(ev.to_plain(), raw.to_vec());
    }

    #[test]
    fn inner_length_past_the_end_is_an_error() {
        let raw = b"Event-Name: X\nContent-Length: 50\n\nshort";
        assert!(matches!(
            parse_event_plain(Bytes::from_static(raw)),
            Err(EslError::InnerBodyTruncated {
                declared: 50,
                available: 5
            })
        ));
    }

    #[test]
    fn json_event() {
        let raw = br#"{"Event-Name":"BACKGROUND_JOB","Job-UUID":"x","Content-Length":"4","_body":"+OK\n","Arr":["a","b"]}"#;
        let ev = parse_event_json(raw).expect("parses");
        assert!(ev.is("BACKGROUND_JOB"));
        assert_eq!(ev.body.as_deref(), Some(&b"+OK\n"[..]));
        assert_eq!(ev.headers.get("Arr"), Some(&b"ARRAY::a|:b"[..]));
        assert!(parse_event_json(b"{not json").is_err());
    }
}
