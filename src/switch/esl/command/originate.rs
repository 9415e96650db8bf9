//! The originate command: its parts, the checks that keep them inside
//! FreeSWITCH's syntax, its text, and reading that text back.

use super::{one_word, refuse};
use crate::switch::esl::EslError;
use std::fmt;
use std::str::FromStr;

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
