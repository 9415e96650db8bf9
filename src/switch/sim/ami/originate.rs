//! `Action: Originate` read as manager.c's `action_originate` reads it, and
//! the channel it asks for read as the channel drivers would name it.

use crate::switch::ami::AmiPacket;

/// `AST_MAX_PUBLIC_UNIQUEID`.
pub const MAX_PUBLIC_UNIQUEID: usize = 149;
/// `to` in `action_originate` when the action has no `Timeout`.
pub const DEFAULT_TIMEOUT_MS: i64 = 30_000;

/// One AMI `Originate` as the simulated Asterisk read it (a test hook).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AmiOriginate {
    pub action_id: Option<String>,
    pub channel: String,
    /// `ChannelId`: the Uniqueid of the channel (`;1` of a Local pair).
    pub channel_id: Option<String>,
    /// `OtherChannelId`: the Uniqueid of the `;2` half.
    pub other_channel_id: Option<String>,
    /// `Timeout`, in milliseconds (30000 when not given).
    pub timeout_ms: i64,
    pub caller_id: Option<String>,
    /// Every `Variable:` in order, comma lists split as Asterisk splits them.
    pub variables: Vec<(String, String)>,
    /// `Application` (empty: the call goes to `Context`/`Exten`/`Priority`).
    pub application: String,
    pub data: String,
    pub context: String,
    pub exten: String,
    pub priority: i64,
    pub account: Option<String>,
    /// `Async: true`: the Response comes at once and `OriginateResponse`
    /// later; otherwise the Response waits for the outcome.
    pub is_async: bool,
}

/// `astman_get_header`: the first value of `key`, leading blanks skipped, or
/// "" when there is none.
pub fn header(p: &AmiPacket, key: &str) -> String {
    p.get_str(key)
        .map(|v| v.trim_start_matches([' ', '\t']).to_string())
        .unwrap_or_default()
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// `sscanf(s, "%30d", &n) == 1`: optional blanks and sign, then digits;
/// anything after them is ignored.
pub fn scan_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .bytes()
        .take(30)
        .take_while(u8::is_ascii_digit)
        .count();
    if end == 0 {
        return None;
    }
    let n = digits[..end]
        .parse::<i64>()
        .unwrap_or(i64::from(i32::MAX))
        .min(i64::from(i32::MAX));
    Some(if neg { -n } else { n })
}

/// `ast_true`.
pub fn ast_true(s: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

/// `AST_STANDARD_APP_ARGS`: splits on commas outside quotes, parentheses
/// and brackets; quotes and escaping backslashes are removed.
pub fn separate_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut paren, mut bracket, mut quoted, mut escaped) = (0u32, 0u32, false, false);
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => {
                paren += 1;
                cur.push(c);
            }
            ')' if !quoted && paren > 0 => {
                paren -= 1;
                cur.push(c);
            }
            '[' if !quoted => {
                bracket += 1;
                cur.push(c);
            }
            ']' if !quoted && bracket > 0 => {
                bracket -= 1;
                cur.push(c);
            }
            ',' if !quoted && paren == 0 && bracket == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// `astman_get_variables_order(m, ORDER_NATURAL)`.
pub fn variables(p: &AmiPacket) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for value in p.headers.get_all("Variable") {
        let value = String::from_utf8_lossy(value);
        for arg in separate_args(value.trim_start()) {
            if let Some((k, v)) = arg.split_once('=')
                && !k.is_empty()
            {
                vars.push((k.to_string(), v.to_string()));
            }
        }
    }
    vars
}

fn is_phone_number(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'))
}

/// `ast_shrink_phone_number`: drops the formatting characters.
fn shrink(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '(' | ')' | '-' | '.' | ' '))
        .collect()
}

fn strip_quotes(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(s)
}

/// `ast_callerid_parse` (+ the shrinking `action_originate` does): the
/// name and the number of `"Name" <number>`, `Name <number>`, `number` or
/// `Name`.
pub fn parse_callerid(cid: &str) -> (Option<String>, Option<String>) {
    let cid = cid.trim();
    let unquoted = strip_quotes(cid);
    let quoted = unquoted.len() != cid.len();
    if let Some(lt) = unquoted.rfind('<') {
        let rest = &unquoted[lt + 1..];
        let number = rest.rfind('>').map_or(rest, |gt| &rest[..gt]);
        let name = strip_quotes(&unquoted[..lt]);
        let number = shrink(number);
        return (
            (!name.is_empty()).then(|| name.to_string()),
            (!number.is_empty()).then_some(number),
        );
    }
    let shrunk = shrink(unquoted);
    if !quoted && is_phone_number(&shrunk) {
        (None, Some(shrunk))
    } else {
        let name = strip_quotes(unquoted);
        ((!name.is_empty()).then(|| name.to_string()), None)
    }
}

impl AmiOriginate {
    /// The value of the channel variable `name` (the last one set wins).
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads the action; the error is the `Message` of Asterisk's
    /// `Response: Error`, in the order `action_originate` checks.
    pub fn from_packet(p: &AmiPacket) -> Result<AmiOriginate, String> {
        let channel_id = non_empty(header(p, "ChannelId"));
        let other_channel_id = non_empty(header(p, "OtherChannelId"));
        if channel_id
            .iter()
            .chain(other_channel_id.iter())
            .any(|id| id.len() > MAX_PUBLIC_UNIQUEID)
        {
            return Err(format!(
                "Uniqueid length exceeds maximum of {MAX_PUBLIC_UNIQUEID}"
            ));
        }
        let channel = header(p, "Channel");
        if channel.is_empty() {
            return Err("Channel not specified".into());
        }
        let priority_text = header(p, "Priority");
        let priority = if priority_text.is_empty() {
            0
        } else {
            // A label would be looked up in the dialplan, which the
            // simulator does not have.
            scan_int(&priority_text).ok_or_else(|| "Invalid priority".to_string())?
        };
        let timeout_text = header(p, "Timeout");
        let timeout_ms = if timeout_text.is_empty() {
            DEFAULT_TIMEOUT_MS
        } else {
            scan_int(&timeout_text).ok_or_else(|| "Invalid timeout".to_string())?
        };
        if !channel.contains('/') {
            return Err("Invalid channel".into());
        }
        Ok(AmiOriginate {
            action_id: non_empty(header(p, "ActionID")),
            channel,
            channel_id,
            other_channel_id,
            timeout_ms,
            caller_id: non_empty(header(p, "CallerID")),
            variables: variables(p),
            application: header(p, "Application"),
            data: header(p, "Data"),
            context: header(p, "Context"),
            exten: header(p, "Exten"),
            priority,
            account: non_empty(header(p, "Account")),
            is_async: ast_true(&header(p, "Async")),
        })
    }
}

/// A channel the simulator can create, from `Tech/resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    /// The driver's own spelling (`Local`, `PJSIP`).
    pub tech: &'static str,
    /// The number the scenario is asked about.
    pub number: String,
    /// For a Local channel: its extension and context, and the name before
    /// the sequence number (`Local/1001@customers`).
    pub local: Option<(String, String)>,
    /// What the channel's name starts with (`Local/1001@customers`,
    /// `PJSIP/trunk`); the driver appends `-%08x` (and `;1`/`;2`).
    pub name_base: String,
    /// `DialString` of DialBegin (`1001@customers`).
    pub dial_string: String,
}

const TECHS: &[&str] = &["Local", "PJSIP", "SIP", "IAX2", "DAHDI"];

/// The channel `Tech/resource` would create, or `None` when no driver of
/// that name is loaded (the originate then fails with Reason 0).
pub fn parse_dest(channel: &str) -> Option<Dest> {
    let (tech, data) = channel.split_once('/')?;
    let tech = *TECHS.iter().find(|t| t.eq_ignore_ascii_case(tech))?;
    if data.is_empty() {
        return None;
    }
    if tech == "Local" {
        // Local/exten@context/options
        let spec = data.split('/').next().unwrap_or(data);
        let (exten, context) = spec.split_once('@').unwrap_or((spec, "default"));
        if exten.is_empty() {
            return None;
        }
        let context = if context.is_empty() {
            "default"
        } else {
            context
        };
        return Some(Dest {
            tech,
            number: exten.to_string(),
            local: Some((exten.to_string(), context.to_string())),
            name_base: format!("Local/{exten}@{context}"),
            dial_string: format!("{exten}@{context}"),
        });
    }
    // PJSIP/number@endpoint, PJSIP/endpoint/sip:number@host, SIP/peer/number…
    let last = data.rsplit('/').next().unwrap_or(data);
    let last = last.strip_prefix("sip:").unwrap_or(last);
    let (number, host) = last.split_once('@').unwrap_or((last, ""));
    let endpoint = if data.contains('/') {
        data.split('/').next().unwrap_or(data)
    } else if !host.is_empty() {
        host
    } else {
        data
    };
    Some(Dest {
        tech,
        number: number.to_string(),
        local: None,
        name_base: format!("{tech}/{endpoint}"),
        dial_string: data.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::ami::frame::{AmiScan, scan};
    use bytes::Bytes;

    fn packet(text: &str) -> AmiPacket {
        let wire = text.replace('\n', "\r\n");
        let Ok(AmiScan::Packet { len, output }) = scan(wire.as_bytes(), false) else {
            panic!("test packet does not scan");
        };
        AmiPacket::from_bytes(Bytes::from(wire[..len].to_string()), output).expect("parses")
    }

    #[test]
    fn the_captured_originate() {
        let o = AmiOriginate::from_packet(&packet(
            "Action: Originate\nActionID: dialer-answered-1001\nChannel: Local/1001@customers\nApplication: Wait\nData: 10\nCallerID: \"Dialer\" <5550100>\nTimeout: 15000\nAsync: true\nVariable: DIALER_CALL_ID=call-answered-1001\n\n",
        ))
        .expect("valid");
        assert_eq!(o.action_id.as_deref(), Some("dialer-answered-1001"));
        assert_eq!(o.timeout_ms, 15000);
        assert!(o.is_async);
        assert_eq!(o.application, "Wait");
        assert_eq!(o.variable("DIALER_CALL_ID"), Some("call-answered-1001"));
        assert_eq!(
            parse_callerid(o.caller_id.as_deref().unwrap_or("")),
            (Some("Dialer".into()), Some("5550100".into()))
        );
    }

    #[test]
    fn errors_in_asterisks_order() {
        let err = |t: &str| AmiOriginate::from_packet(&packet(t)).err();
        assert_eq!(
            err("Action: Originate\nTimeout: x\n\n").as_deref(),
            Some("Channel not specified")
        );
        assert_eq!(
            err("Action: Originate\nChannel: 1001\nTimeout: x\n\n").as_deref(),
            Some("Invalid timeout")
        );
        assert_eq!(
            err("Action: Originate\nChannel: 1001\nPriority: start\n\n").as_deref(),
            Some("Invalid priority")
        );
        assert_eq!(
            err("Action: Originate\nChannel: 1001\n\n").as_deref(),
            Some("Invalid channel")
        );
        let long = "x".repeat(150);
        assert_eq!(
            err(&format!(
                "Action: Originate\nChannel: Local/1@c\nChannelId: {long}\n\n"
            ))
            .as_deref(),
            Some("Uniqueid length exceeds maximum of 149")
        );
    }

    #[test]
    fn variables_split_like_app_args() {
        let o = AmiOriginate::from_packet(&packet(
            "Action: Originate\nChannel: Local/1@c\nVariable: a=1,b=\"x,y\"\nvariable: c=2\nVariable: noequals\nVariable: =empty\n\n",
        ))
        .expect("valid");
        assert_eq!(
            o.variables,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x,y".to_string()),
                ("c".to_string(), "2".to_string())
            ]
        );
        assert_eq!(scan_int(" 15000ms"), Some(15000));
        assert_eq!(scan_int("-5"), Some(-5));
        assert_eq!(scan_int("abc"), None);
    }

    #[test]
    fn callerid_forms() {
        assert_eq!(
            parse_callerid("Dialer <555-0100>"),
            (Some("Dialer".into()), Some("5550100".into()))
        );
        assert_eq!(parse_callerid("5550100"), (None, Some("5550100".into())));
        assert_eq!(
            parse_callerid("\"5550100\""),
            (Some("5550100".into()), None)
        );
        assert_eq!(parse_callerid("Sales"), (Some("Sales".into()), None));
    }

    #[test]
    fn destinations() {
        let d = parse_dest("Local/15551001@customers").expect("local");
        assert_eq!(d.number, "15551001");
        assert_eq!(d.name_base, "Local/15551001@customers");
        assert_eq!(d.dial_string, "15551001@customers");
        let d = parse_dest("local/8001@agents/n").expect("local, options");
        assert_eq!(
            (d.tech, d.name_base.as_str()),
            ("Local", "Local/8001@agents")
        );
        assert_eq!(
            parse_dest("Local/1001").map(|d| d.name_base),
            Some("Local/1001@default".into())
        );
        let p = parse_dest("PJSIP/15551001@trunk").expect("pjsip");
        assert_eq!(
            (p.number.as_str(), p.name_base.as_str()),
            ("15551001", "PJSIP/trunk")
        );
        let p = parse_dest("PJSIP/8001").expect("pjsip endpoint");
        assert_eq!(
            (p.number.as_str(), p.name_base.as_str()),
            ("8001", "PJSIP/8001")
        );
        let p = parse_dest("PJSIP/trunk/sip:15551001@10.0.0.1").expect("pjsip uri");
        assert_eq!(
            (p.number.as_str(), p.name_base.as_str()),
            ("15551001", "PJSIP/trunk")
        );
        assert_eq!(parse_dest("loopback/1001/customers"), None);
        assert_eq!(parse_dest("Local/"), None);
    }
}
