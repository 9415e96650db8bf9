//! What dialpop sends to FreeSWITCH, as values that are checked before they
//! reach the socket, and the server-side reading of those commands (used by
//! the simulated switch).

mod client_command;
mod originate;
#[cfg(test)]
mod tests;

use super::EslError;
pub use client_command::{ClientCommand, scan_client_command};
pub(crate) use originate::split_args;
pub use originate::{Originate, OriginateParseError, OriginateTarget};
use std::fmt;
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
