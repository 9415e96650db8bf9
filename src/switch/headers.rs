//! An ordered, duplicate-keeping header list shared by the ESL and AMI codecs.
//!
//! Names and values are kept as byte ranges into one frozen buffer (the frame
//! as it came off the socket) so that parsing a 10 KB event does not allocate
//! once per header. Values that had to be percent-decoded live in a second,
//! per-message buffer. Lookups are ASCII case-insensitive because both switches
//! send the same header in several casings (`Unique-ID` and `unique-id`).

use bytes::Bytes;
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    /// `start..end` in `raw`.
    Raw(u32, u32),
    /// `start..end` in `decoded`.
    Decoded(u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    name: Span,
    value: Span,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    raw: Bytes,
    decoded: Vec<u8>,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

/// How a header value is turned into its logical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDecoding {
    /// The value is taken as it is on the wire (AMI).
    Verbatim,
    /// `%XX` sequences are decoded once, as FreeSWITCH's `esl_url_decode`
    /// does for every header it receives.
    Percent,
    /// Percent-decoded, and FreeSWITCH's `_undef_` marker for an empty
    /// value becomes the empty value (event-plain bodies).
    PercentUndef,
}

impl Headers {
    /// Starts a list whose ranges point into `raw`.
    pub fn with_capacity(raw: Bytes, n: usize) -> Self {
        Headers {
            raw,
            decoded: Vec::new(),
            entries: Vec::with_capacity(n),
        }
    }

    /// Builds a list from owned pairs (tests, JSON events, the simulator).
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut h = Headers::default();
        for (k, v) in pairs {
            h.push_owned(k.as_ref(), v.as_ref());
        }
        h
    }

    /// Adds a header whose name is `raw[name]` and whose value is `raw[value]`,
    /// decoding the value as asked. Ranges must lie inside `raw`.
    pub(crate) fn push_raw(
        &mut self,
        name: (usize, usize),
        value: (usize, usize),
        decoding: ValueDecoding,
    ) {
        let v = &self.raw[value.0..value.1];
        let span = match decoding {
            ValueDecoding::PercentUndef if v == b"_undef_" => {
                Span::Raw(value.0 as u32, value.0 as u32)
            }
            ValueDecoding::Percent | ValueDecoding::PercentUndef
                if memchr::memchr(b'%', v).is_some() =>
            {
                let start = self.decoded.len();
                percent_decode_into(v, &mut self.decoded);
                Span::Decoded(start as u32, self.decoded.len() as u32)
            }
            _ => Span::Raw(value.0 as u32, value.1 as u32),
        };
        self.entries.push(Entry {
            name: Span::Raw(name.0 as u32, name.1 as u32),
            value: span,
        });
    }

    /// Adds a header from owned bytes; both land in the decoded buffer.
    pub fn push_owned(&mut self, name: &[u8], value: &[u8]) {
        let ns = self.decoded.len();
        self.decoded.extend_from_slice(name);
        let vs = self.decoded.len();
        self.decoded.extend_from_slice(value);
        let ve = self.decoded.len();
        self.entries.push(Entry {
            name: Span::Decoded(ns as u32, vs as u32),
            value: Span::Decoded(vs as u32, ve as u32),
        });
    }

    fn bytes_of(&self, span: Span) -> &[u8] {
        match span {
            Span::Raw(s, t) => &self.raw[s as usize..t as usize],
            Span::Decoded(s, t) => &self.decoded[s as usize..t as usize],
        }
    }

    fn name_of(&self, e: &Entry) -> &[u8] {
        self.bytes_of(e.name)
    }

    fn value_of(&self, e: &Entry) -> &[u8] {
        self.bytes_of(e.value)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.entries
            .iter()
            .find(|e| self.name_of(e).eq_ignore_ascii_case(name))
            .map(|e| self.value_of(e))
    }

    /// The first value of `name` as text (lossy for bytes that are not UTF-8).
    pub fn get_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(String::from_utf8_lossy)
    }

    /// Every value of `name`, in order (AMI repeats `Variable`, `Output`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |e| self.name_of(e).eq_ignore_ascii_case(name.as_bytes()))
            .map(|e| self.value_of(e))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All headers in wire order, duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.entries
            .iter()
            .map(|e| (self.name_of(e), self.value_of(e)))
    }

    /// A FreeSWITCH array value (`ARRAY::a|:b|:c`) split into its items, or the
    /// plain value as a single item.
    pub fn get_array(&self, name: &str) -> Option<Vec<&[u8]>> {
        let v = self.get(name)?;
        Some(match v.strip_prefix(b"ARRAY::") {
            Some(rest) => split_array(rest),
            None => vec![v],
        })
    }

    /// The headers as a JSON object; a name that occurs more than once (to
    /// the byte) maps to an array of its values so that nothing is lost.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(self.len());
        for (k, v) in self.iter() {
            let k = String::from_utf8_lossy(k).into_owned();
            let v = serde_json::Value::String(String::from_utf8_lossy(v).into_owned());
            match map.get_mut(&k) {
                Some(serde_json::Value::Array(a)) => a.push(v),
                Some(prev) => {
                    let first = prev.take();
                    *prev = serde_json::Value::Array(vec![first, v]);
                }
                None => {
                    map.insert(k, v);
                }
            }
        }
        serde_json::Value::Object(map)
    }
}

/// The nom parser for one `Name: value` line (without its line end), shared
/// by ESL and AMI: consumes the name, the colon and any spaces, leaving the
/// value. `Name:` and `Name:value` are accepted (AMI sends both); a line with
/// no colon or an empty name is an error. The colon is found with SIMD
/// `memchr`: events have ~150 of these lines and ingest speed is bounded by
/// this loop.
pub fn header_line(line: &[u8]) -> nom::IResult<&[u8], &[u8]> {
    use nom::Parser;
    let colon = match memchr::memchr(b':', line) {
        Some(0) | None => {
            return Err(nom::Err::Error(nom::error::Error::new(
                line,
                nom::error::ErrorKind::TakeTill1,
            )));
        }
        Some(i) => i,
    };
    let (name, rest) = (&line[..colon], &line[colon + 1..]);
    let (value, _) = nom::bytes::complete::take_while(|b| b == b' ').parse(rest)?;
    Ok((value, name))
}

fn split_array(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some(i) = memchr::memmem::find(rest, b"|:") {
        out.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    out.push(rest);
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` once. A `%` not followed by two hex digits is kept as it is,
/// which is what FreeSWITCH does with such bytes; `+` stays `+`.
pub fn percent_decode_into(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(src.len());
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'%', &src[i..]) {
        let p = i + off;
        out.extend_from_slice(&src[i..p]);
        match (
            src.get(p + 1).copied().and_then(hex),
            src.get(p + 2).copied().and_then(hex),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i = p + 3;
            }
            _ => {
                out.push(b'%');
                i = p + 1;
            }
        }
    }
    out.extend_from_slice(&src[i..]);
}

/// Percent-encodes a value the way FreeSWITCH's `switch_url_encode` does for
/// event-plain serialization: control bytes, non-ASCII bytes and
/// ` "#%&+:;<=>?@[\]^`{|}` become `%XX` (upper-case hex).
pub fn percent_encode_into(src: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in src {
        let enc = !(0x20..=0x7e).contains(&b)
            || matches!(
                b,
                b' ' | b'"'
                    | b'#'
                    | b'%'
                    | b'&'
                    | b'+'
                    | b':'
                    | b';'
                    | b'<'
                    | b'='
                    | b'>'
                    | b'?'
                    | b'@'
                    | b'['
                    | b'\\'
                    | b']'
                    | b'^'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
            );
        if enc {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_keeps_duplicates() {
        let h = Headers::from_pairs([
            ("Unique-ID", "a"),
            ("unique-id", "b"),
            ("Variable", "x=1"),
            ("Variable", "y=2"),
        ]);
        assert_eq!(h.get("UNIQUE-id"), Some(&b"a"[..]));
        assert_eq!(
            h.get_all("variable").collect::<Vec<_>>(),
            vec![&b"x=1"[..], &b"y=2"[..]]
        );
        assert_eq!(h.len(), 4);
        let j = h.to_json();
        assert_eq!(j["Variable"], serde_json::json!(["x=1", "y=2"]));
        assert_eq!(j["unique-id"], "b");
    }

    #[test]
    fn percent_round_trip_and_invalid_sequences() {
        let mut out = Vec::new();
        percent_decode_into(b"2026-11-24%2021%3A06%3A38 50%% %4 %zz +", &mut out);
        assert_eq!(out, b"2026-11-24 21:06:38 50%% %4 %zz +");
        let raw = b"a b:c%d+e\r\n\xe4\xb8\xad/,'()*!$-_.~";
        let mut enc = Vec::new();
        percent_encode_into(raw, &mut enc);
        assert_eq!(
            enc,
            b"a%20b%3Ac%25d%2Be%0D%0A%E4%B8%AD/,'()*!$-_.~".to_vec()
        );
        let mut back = Vec::new();
        percent_decode_into(&enc, &mut back);
        assert_eq!(back, raw);
    }

    #[test]
    fn arrays_split() {
        let h = Headers::from_pairs([("v", "ARRAY::a|:b|:c"), ("w", "plain")]);
        assert_eq!(
            h.get_array("v").unwrap_or_default(),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(h.get_array("w").unwrap_or_default(), vec![&b"plain"[..]]);
    }
}
