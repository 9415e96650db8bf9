//! What dialpop sends to FreeSWITCH, as values that are checked before they
//! reach the socket, and the server-side reading of those commands (used by
//! the simulated switch).

use super::EslError;
use crate::switch::headers::{Headers, ValueDecoding};
use bytes::Bytes;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventFormat {
    Plain,
    Json,
    Xml,
}

impl EventFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            EventFormat::Plain => "plain",
            EventFormat::Json => "json",
            EventFormat::Xml => "xml",
        }
    }

    pub fn parse(s: &str) -> Option<EventFormat> {
        match s {
            "plain" => Some(EventFormat::Plain),
            "json" => Some(EventFormat::Json),
            "xml" => Some(EventFormat::Xml),
            _ => None,
        }
    }
}

/// A command to FreeSWITCH. `Display` hides the password, so a command can
/// be logged as it is; `to_wire` is the only way to the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EslCommand {
    Auth {
        password: String,
    },
    Events {
        format: EventFormat,
        names: Vec<String>,
    },
    NoEvents,
    Filter {
        header: String,
        value: String,
    },
    Api {
        command: String,
    },
    BgApi {
        command: String,
        job_uuid: Uuid,
    },
    Exit,
}

fn refuse(what: &str, problem: &str) -> EslError {
    EslError::Unsendable {
        what: what.to_string(),
        problem: problem.to_string(),
    }
}

/// Anything that goes on one line of the socket: CR or LF would end the
/// command early and let the rest be read as another command.
fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, EslError> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(refuse(what, "contains CR or LF"));
    }
    Ok(value)
}

/// A single word: event names, header names.
fn one_word<'a>(what: &str, value: &'a str) -> Result<&'a str, EslError> {
    if value.is_empty() {
        return Err(refuse(what, "is empty"));
    }
    if value
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(refuse(what, "contains white space or control characters"));
    }
    Ok(value)
}

impl EslCommand {
    /// The bytes for the socket, or an error naming the part that could
    /// break the framing.
    pub fn to_wire(&self) -> Result<String, EslError> {
        Ok(match self {
            EslCommand::Auth { password } => {
                format!("auth {}\n\n", one_line("password", password)?)
            }
            EslCommand::Events { format, names } => {
                if names.is_empty() {
                    return Err(refuse("event subscription", "names no events"));
                }
                let mut s = format!("event {}", format.as_str());
                for n in names {
                    s.push(' ');
                    s.push_str(one_word("event name", n)?);
                }
                s.push_str("\n\n");
                s
            }
            EslCommand::NoEvents => "noevents\n\n".to_string(),
            EslCommand::Filter { header, value } => format!(
                "filter {} {}\n\n",
                one_word("filter header", header)?,
                one_line("filter value", value)?
            ),
            EslCommand::Api { command } => format!("api {}\n\n", one_line("api command", command)?),
            EslCommand::BgApi { command, job_uuid } => {
                format!(
                    "bgapi {}\nJob-UUID: {job_uuid}\n\n",
                    one_line("bgapi command", command)?
                )
            }
            EslCommand::Exit => "exit\n\n".to_string(),
        })
    }
}

impl fmt::Display for EslCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EslCommand::Auth { .. } => f.write_str("auth ********"),
            EslCommand::Events { format, names } => {
                write!(f, "event {} {}", format.as_str(), names.join(" "))
            }
            EslCommand::NoEvents => f.write_str("noevents"),
            EslCommand::Filter { header, value } => write!(f, "filter {header} {value}"),
            EslCommand::Api { command } => write!(f, "api {command}"),
            EslCommand::BgApi { command, job_uuid } => {
                write!(f, "bgapi {command} (Job-UUID {job_uuid})")
            }
            EslCommand::Exit => f.write_str("exit"),
        }
    }
}

/// What happens to the leg once the customer answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginateTarget {
    /// `&app(arg)`, e.g. `&park()` or `&bridge(user/1001)`.
    App { name: String, arg: String },
    /// `exten [dialplan [context]]`: hand the leg to the dialplan.
    Extension {
        exten: String,
        dialplan: Option<String>,
        context: Option<String>,
    },
}

/// `originate {k=v,...}dial-string target`: built as a value so that it can
/// be checked and tested without a socket, and read back with `FromStr`
/// (from a BACKGROUND_JOB's `Job-Command-Arg`, or by the simulated switch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Originate {
    pub variables: Vec<(String, String)>,
    pub dial_string: String,
    pub target: OriginateTarget,
}

impl Originate {
    /// Checks every part against the `{...}` variable syntax and the
    /// space-separated argument list; refuses rather than escapes, so that
    /// what FreeSWITCH runs is exactly what was asked for.
    pub fn validate(&self) -> Result<(), EslError> {
        for (k, v) in &self.variables {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(refuse(
                    &format!("channel variable name {k:?}"),
                    "must be letters, digits and _",
                ));
            }
            if let Some(bad) = v
                .chars()
                .find(|c| matches!(c, '\r' | '\n' | ',' | '{' | '}' | '\'' | '[' | ']'))
            {
                return Err(refuse(
                    &format!("channel variable {k}"),
                    &format!("value contains {bad:?}, which would break the {{...}} variable list"),
                ));
            }
            if v.chars().any(|c| c.is_control()) {
                return Err(refuse(
                    &format!("channel variable {k}"),
                    "value contains control characters",
                ));
            }
        }
        let d = &self.dial_string;
        if d.is_empty() {
            return Err(refuse("dial string", "is empty"));
        }
        if let Some(bad) = d
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '{' | '}' | '\'' | ','))
        {
            return Err(refuse(
                &format!("dial string {d:?}"),
                &format!("contains {bad:?}"),
            ));
        }
        match &self.target {
            OriginateTarget::App { name, arg } => {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(refuse(
                        &format!("application {name:?}"),
                        "must be letters, digits and _",
                    ));
                }
                if let Some(bad) = arg
                    .chars()
                    .find(|c| c.is_control() || matches!(c, '\'' | ')'))
                {
                    return Err(refuse(
                        &format!("application argument {arg:?}"),
                        &format!("contains {bad:?}"),
                    ));
                }
            }
            OriginateTarget::Extension {
                exten,
                dialplan,
                context,
            } => {
                for (what, v) in [
                    ("extension", Some(exten)),
                    ("dialplan", dialplan.as_ref()),
                    ("context", context.as_ref()),
                ] {
                    if let Some(v) = v {
                        one_word(what, v)?;
                        if v.contains('\'') {
                            return Err(refuse(what, "contains a quote"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The value of one of the `{...}` variables.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The command for `bgapi`, checked.
    pub fn to_command(&self) -> Result<String, EslError> {
        self.validate()?;
        Ok(self.to_string())
    }
}

impl fmt::Display for Originate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("originate ")?;
        if !self.variables.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.variables.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if v.contains(' ') {
                    write!(f, "{k}='{v}'")?;
                } else {
                    write!(f, "{k}={v}")?;
                }
            }
            f.write_str("}")?;
        }
        f.write_str(&self.dial_string)?;
        match &self.target {
            OriginateTarget::App { name, arg } if arg.contains(' ') => {
                write!(f, " '&{name}({arg})'")
            }
            OriginateTarget::App { name, arg } => write!(f, " &{name}({arg})"),
            OriginateTarget::Extension {
                exten,
                dialplan,
                context,
            } => {
                write!(f, " {exten}")?;
                if let Some(d) = dialplan {
                    write!(f, " {d}")?;
                    if let Some(c) = context {
                        write!(f, " {c}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Why an originate command text could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an originate command ({problem}): {input:?}")]
pub struct OriginateParseError {
    pub problem: &'static str,
    pub input: String,
}

/// Splits on spaces outside single quotes, dropping the quotes, as
/// FreeSWITCH's `switch_separate_string` does for API arguments.
pub(crate) fn split_args(s: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut braces = 0usize;
    let mut any = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '{' if !quoted => {
                braces += 1;
                cur.push(c);
            }
            '}' if !quoted => {
                braces = braces.saturating_sub(1);
                cur.push(c);
            }
            ' ' if !quoted && braces == 0 => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quote");
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

impl FromStr for Originate {
    type Err = OriginateParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem| OriginateParseError {
            problem,
            input: s.chars().take(200).collect(),
        };
        let rest = s.trim();
        let rest = rest.strip_prefix("originate ").unwrap_or(rest).trim_start();
        let args = split_args(rest).map_err(err)?;
        let mut args = args.into_iter();
        let first = args.next().ok_or_else(|| err("no dial string"))?;
        let (variables, dial_string) = match first.strip_prefix('{') {
            Some(inner) => {
                let close = inner.find('}').ok_or_else(|| err("unclosed {"))?;
                let mut vars = Vec::new();
                for item in inner[..close].split(',').filter(|i| !i.is_empty()) {
                    let (k, v) = item
                        .split_once('=')
                        .ok_or_else(|| err("variable without ="))?;
                    let v = v
                        .strip_prefix('\'')
                        .and_then(|v| v.strip_suffix('\''))
                        .unwrap_or(v);
                    vars.push((k.to_string(), v.to_string()));
                }
                (vars, inner[close + 1..].to_string())
            }
            None => (Vec::new(), first),
        };
        if dial_string.is_empty() {
            return Err(err("no dial string"));
        }
        let target_word = args
            .next()
            .ok_or_else(|| err("no application or extension"))?;
        let target = match target_word.strip_prefix('&') {
            Some(app) => {
                let open = app.find('(').ok_or_else(|| err("application without ("))?;
                let arg = app[open + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| err("application without )"))?;
                OriginateTarget::App {
                    name: app[..open].to_string(),
                    arg: arg.to_string(),
                }
            }
            None => OriginateTarget::Extension {
                exten: target_word,
                dialplan: args.next(),
                context: args.next(),
            },
        };
        Ok(Originate {
            variables,
            dial_string,
            target,
        })
    }
}

/// A command as the switch reads it: the first line, any header lines, and
/// a body when the command carried `Content-Length` (sendmsg, sendevent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCommand {
    pub line: String,
    pub headers: Headers,
    pub body: Option<Bytes>,
}

impl ClientCommand {
    /// The command word (`auth`, `event`, `bgapi`, ...) and the rest.
    pub fn verb_and_args(&self) -> (&str, &str) {
        match self.line.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (self.line.as_str(), ""),
        }
    }
}

const MAX_COMMAND: usize = 64 * 1024;

/// Reads one command from the front of `buf`: lines up to an empty one. Like
/// mod_event_socket it counts LFs and ignores CRs, and skips leading blank
/// lines. Returns the bytes consumed and the command.
pub fn scan_client_command(buf: &[u8]) -> Result<Option<(usize, ClientCommand)>, EslError> {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    let mut pos = skip;
    let mut lines: Vec<(usize, usize)> = Vec::new();
    loop {
        let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) else {
            if buf.len() - skip > MAX_COMMAND {
                return Err(EslError::HeaderTooLarge { limit: MAX_COMMAND });
            }
            return Ok(None);
        };
        let mut end = pos + nl;
        while end > pos && buf[end - 1] == b'\r' {
            end -= 1;
        }
        let next = pos + nl + 1;
        if end == pos {
            pos = next;
            break;
        }
        lines.push((pos, end));
        pos = next;
        if pos - skip > MAX_COMMAND {
            return Err(EslError::HeaderTooLarge { limit: MAX_COMMAND });
        }
    }
    let raw = Bytes::copy_from_slice(&buf[..pos]);
    let (first, rest) = lines
        .split_first()
        .ok_or(EslError::Truncated { buffered: 0 })?;
    let line = String::from_utf8_lossy(&buf[first.0..first.1]).into_owned();
    let mut headers = Headers::with_capacity(raw.clone(), rest.len());
    let mut content_length = None;
    for &(s, e) in rest {
        let l = &buf[s..e];
        let (name, value) = super::frame::split_header_line(l)?;
        let value_at = e - value.len();
        headers.push_raw((s, s + name.len()), (value_at, e), ValueDecoding::Verbatim);
        if name.eq_ignore_ascii_case(b"Content-Length") {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&n| n <= super::frame::DEFAULT_MAX_CONTENT_LENGTH)
                .ok_or_else(|| EslError::InvalidContentLength {
                    value: super::printable(value),
                })?;
            content_length = Some(n);
        }
    }
    let body = match content_length {
        Some(n) if buf.len() < pos + n => return Ok(None),
        Some(n) => {
            let b = Bytes::copy_from_slice(&buf[pos..pos + n]);
            pos += n;
            Some(b)
        }
        None => None,
    };
    Ok(Some((
        pos,
        ClientCommand {
            line,
            headers,
            body,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Originate {
        Originate {
            variables: vec![
                (
                    "origination_uuid".into(),
                    "6f2c1a52-0000-4000-8000-000000000001".into(),
                ),
                ("origination_caller_id_name".into(), "Acme Sales".into()),
                ("originate_timeout".into(), "30".into()),
                ("dialpop_task_id".into(), "42".into()),
            ],
            dial_string: "sofia/gateway/gw1/+15551230001".into(),
            target: OriginateTarget::App {
                name: "park".into(),
                arg: String::new(),
            },
        }
    }

    #[test]
    fn originate_round_trips() {
        let o = sample();
        let text = o.to_command().expect("valid");
        assert_eq!(
            text,
            "originate {origination_uuid=6f2c1a52-0000-4000-8000-000000000001,origination_caller_id_name='Acme Sales',originate_timeout=30,dialpop_task_id=42}sofia/gateway/gw1/+15551230001 &park()"
        );
        assert_eq!(text.parse::<Originate>(), Ok(o));
        let ext = Originate {
            target: OriginateTarget::Extension {
                exten: "connect".into(),
                dialplan: Some("XML".into()),
                context: Some("agents".into()),
            },
            ..sample()
        };
        assert_eq!(ext.to_string().parse::<Originate>(), Ok(ext));
        // The real capture's command line, as FreeSWITCH echoes it back.
        let real: Originate = "{origination_caller_id_number=5550100,dialer_call_id=call-answered-1001}loopback/1001/customers &park()"
            .parse()
            .expect("parses");
        assert_eq!(real.variable("dialer_call_id"), Some("call-answered-1001"));
        assert_eq!(real.dial_string, "loopback/1001/customers");
    }

    #[test]
    fn originate_refuses_what_would_break_the_syntax() {
        for bad in ["a,b", "x}y", "{", "it's", "line\r\nexit"] {
            let mut o = sample();
            o.variables.push(("dialpop_customer".into(), bad.into()));
            assert!(o.to_command().is_err(), "accepted {bad:?}");
        }
        let mut o = sample();
        o.dial_string = "sofia/gateway/gw1/123 &park()".into();
        assert!(o.to_command().is_err());
        let mut o = sample();
        o.variables.push(("bad name".into(), "v".into()));
        assert!(o.to_command().is_err());
    }

    #[test]
    fn commands_refuse_line_breaks_and_hide_passwords() {
        let c = EslCommand::Api {
            command: "status\n\nexit".into(),
        };
        assert!(c.to_wire().is_err());
        let a = EslCommand::Auth {
            password: "ClueCon".into(),
        };
        assert_eq!(a.to_wire().ok().as_deref(), Some("auth ClueCon\n\n"));
        assert!(!a.to_string().contains("ClueCon"));
        let e = EslCommand::Events {
            format: EventFormat::Plain,
            names: vec!["CHANNEL_ANSWER".into(), "BAD NAME".into()],
        };
        assert!(e.to_wire().is_err());
    }

    #[test]
    fn server_reads_commands_with_headers_and_body() {
        let buf = b"\r\nbgapi originate x &park()\r\nJob-UUID: abc\r\n\r\nsendmsg\nContent-Length: 3\n\nabcauth";
        let Ok(Some((n, c))) = scan_client_command(buf) else {
            panic!("no command")
        };
        assert_eq!(c.verb_and_args(), ("bgapi", "originate x &park()"));
        assert_eq!(c.headers.get("job-uuid"), Some(&b"abc"[..]));
        let Ok(Some((m, c2))) = scan_client_command(&buf[n..]) else {
            panic!("no second command")
        };
        assert_eq!(c2.body.as_deref(), Some(&b"abc"[..]));
        assert!(matches!(scan_client_command(&buf[n + m..]), Ok(None)));
    }
}
