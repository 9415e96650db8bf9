//! API commands (`api` / `bgapi`) answered as mod_commands answers them.
//!
//! Every command fires an `API` event, created (numbered, dated) when the
//! command starts and fired when it ends, as `switch_api_execute` does; its
//! output then goes back to the `api` caller or out as BACKGROUND_JOB.

use super::call::{self, CallSpec, Target};
use super::core::{Ask, Core};
use super::dial::parse_dial_string;
use super::scenario::scale;
use super::templates::{HOSTNAME, Kind, Stamp};
use crate::switch::HangupCause;
use crate::switch::esl::Originate;
use crate::switch::esl::command::{OriginateTarget, split_args};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub const ORIGINATE_SYNTAX: &str = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]";
pub const VERSION: &str = "1.10.12-release~64bit";
/// `originate_timeout` when the originate does not set one.
const DEFAULT_ORIGINATE_TIMEOUT: u64 = 60;

/// Where a command's output goes.
#[derive(Debug)]
pub enum Job {
    /// `api`: back to the waiting session as `api/response`.
    Api(oneshot::Sender<String>),
    /// `bgapi`: out as a BACKGROUND_JOB event.
    Bg { job_uuid: String },
}

/// One command under way.
#[derive(Debug)]
pub struct ApiRun {
    pub command: String,
    pub arg: Option<String>,
    stamp: Stamp,
    job: Job,
}

impl ApiRun {
    pub fn new(core: &Core, command: &str, arg: Option<&str>, job: Job) -> ApiRun {
        ApiRun {
            command: command.to_string(),
            arg: arg.map(str::to_string),
            stamp: core.stamp(),
            job,
        }
    }

    pub fn job_uuid(&self) -> Option<&str> {
        match &self.job {
            Job::Bg { job_uuid } => Some(job_uuid),
            Job::Api(_) => None,
        }
    }

    /// Fires the API event and delivers the output.
    pub fn finish(self, core: &Core, output: String) {
        let cmd = self.command.trim();
        let arg = self.arg.as_deref().map(str::trim).filter(|a| !a.is_empty());
        core.emit_at(
            self.stamp,
            Kind::Api,
            None,
            &[
                ("API-Command", Some(cmd).filter(|c| !c.is_empty())),
                ("API-Command-Argument", arg),
            ],
            None,
        );
        match self.job {
            Job::Api(tx) => {
                let output = if output.is_empty() {
                    "-ERR no reply\n".to_string()
                } else {
                    output
                };
                // The session may be gone (connection dropped); the result
                // then has nobody to go to, as on a real switch.
                let _ = tx.send(output);
            }
            Job::Bg { job_uuid } => core.emit(
                Kind::BackgroundJob,
                None,
                &[
                    ("Job-UUID", Some(&job_uuid)),
                    ("Job-Command", Some(&self.command)),
                    ("Job-Command-Arg", self.arg.as_deref()),
                ],
                Some(output),
            ),
        }
    }
}

/// Runs one command; its output arrives through `run` (at once, or when an
/// originated call is answered or fails).
pub fn execute(core: &Arc<Core>, run: ApiRun) {
    let arg = run.arg.clone();
    let arg = arg.as_deref().map(str::trim).unwrap_or("");
    let out = match run.command.as_str() {
        "originate" => return originate(core, run),
        "uuid_kill" => uuid_kill(core, arg),
        "uuid_setvar" => uuid_setvar(core, arg),
        "uuid_transfer" => uuid_transfer(core, arg),
        "uuid_exists" => (if core.channel_exists(arg) {
            "true"
        } else {
            "false"
        })
        .to_string(),
        "hupall" => hupall(core, arg),
        "show" => show(core, arg),
        "status" => status(core),
        "version" => format!("FreeSWITCH Version {VERSION} (-release 64bit)\n"),
        "hostname" => HOSTNAME.to_string(),
        other => format!("-ERR {other} Command not found!\n"),
    };
    run.finish(core, out);
}

/// `switch_channel_str2cause`: a cause name (any case) or its number.
pub fn str2cause(s: &str) -> Option<HangupCause> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u16>() {
        return Some(HangupCause::from_q850(n)).filter(|c| !matches!(c, HangupCause::Other(_)));
    }
    Some(HangupCause::from_name(&s.to_ascii_uppercase()))
        .filter(|c| !matches!(c, HangupCause::Other(_)))
}

fn uuid_kill(core: &Core, arg: &str) -> String {
    if arg.is_empty() {
        return "-USAGE: <uuid> [cause]\n".into();
    }
    let (uuid, cause) = match arg.split_once(' ') {
        Some((u, c)) => (u, str2cause(c).unwrap_or(HangupCause::NormalClearing)),
        None => (arg, HangupCause::NormalClearing),
    };
    if core.kill(uuid, cause) {
        "+OK\n".into()
    } else {
        "-ERR No such channel!\n".into()
    }
}

/// `switch_separate_string(…, ' ', argv, max)`: at most `max` words, the
/// last one keeping the rest of the line.
fn separate(arg: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg.trim_start_matches(' ');
    while !rest.is_empty() {
        if out.len() + 1 == max {
            out.push(rest);
            break;
        }
        match rest.split_once(' ') {
            Some((word, more)) => {
                out.push(word);
                rest = more.trim_start_matches(' ');
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

const SETVAR_SYNTAX: &str = "<uuid> <var> [value]";

/// mod_commands `uuid_setvar_function`; without a value the variable is
/// unset.
fn uuid_setvar(core: &Core, arg: &str) -> String {
    let argv = separate(arg, 3);
    let (uuid, name, value) = match argv.as_slice() {
        [uuid, name] => (*uuid, *name, ""),
        [uuid, name, value] => (*uuid, *name, *value),
        _ => return format!("-USAGE: {SETVAR_SYNTAX}\n"),
    };
    let ask = Ask::SetVar {
        uuid: uuid.to_string(),
        name: name.to_string(),
        value: value.to_string(),
    };
    if core.ask(uuid, ask) {
        "+OK\n".into()
    } else {
        "-ERR No such channel!\n".into()
    }
}

const TRANSFER_SYNTAX: &str = "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]";

/// mod_commands `transfer_function`. `-bleg` and `-both` act on the bridged
/// leg too; a held customer has none, and then FreeSWITCH transfers the
/// named leg alone, which is all the simulator does with them.
fn uuid_transfer(core: &Core, arg: &str) -> String {
    let argv = separate(arg, 5);
    if !(2..=5).contains(&argv.len()) {
        return format!("-USAGE: {TRANSFER_SYNTAX}\n");
    }
    let uuid = argv[0];
    if !core.channel_exists(uuid) {
        return "-ERR No Such Channel!\n".into();
    }
    let rest = if argv[1].starts_with('-') {
        &argv[2..]
    } else {
        &argv[1..]
    };
    let word = |i: usize| rest.get(i).map(|s| s.to_string()).unwrap_or_default();
    let ask = Ask::Transfer {
        uuid: uuid.to_string(),
        exten: word(0),
        dialplan: word(1),
        context: word(2),
    };
    if core.ask(uuid, ask) {
        "+OK\n".into()
    } else {
        "-ERR No Such Channel!\n".into()
    }
}

fn hupall(core: &Core, arg: &str) -> String {
    let mut argv = arg.split(' ').filter(|a| !a.is_empty());
    let cause = argv
        .next()
        .and_then(str2cause)
        .unwrap_or(HangupCause::ManagerRequest);
    let matching = match (argv.next(), argv.next()) {
        (Some(var), Some(val)) => Some((var, val)),
        _ => None,
    };
    core.kill_all(&cause, matching);
    match matching {
        None => format!("+OK hangup all channels with cause {}\n", cause.name()),
        Some((var, val)) => format!(
            "+OK hangup all channels matching [{var}]=[{val}] with cause: {}\n",
            cause.name()
        ),
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn show(core: &Core, arg: &str) -> String {
    let words: Vec<&str> = arg.split_whitespace().collect();
    let (what, format) = match words.as_slice() {
        [w] => (*w, None),
        [w, "as", f] => (*w, Some(*f)),
        [w, "count"] => (*w, Some("count")),
        _ => ("", None),
    };
    if what != "channels" {
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n".into();
    }
    let rows = core.rows();
    match format {
        Some("count") => format!("\n{} total.\n", rows.len()),
        Some("json") => {
            if rows.is_empty() {
                return "{\"row_count\":0}".into();
            }
            let objs: Vec<String> = rows
                .iter()
                .map(|r| {
                    let fields: Vec<String> = r
                        .iter()
                        .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                })
                .collect();
            format!(
                "{{\"row_count\":{},\"rows\":[{}]}}",
                rows.len(),
                objs.join(",")
            )
        }
        _ => {
            let mut out = String::new();
            if let Some(first) = rows.first() {
                let names: Vec<&str> = first.iter().map(|(k, _)| *k).collect();
                out.push_str(&names.join(","));
                out.push('\n');
                for r in &rows {
                    let vals: Vec<&str> = r.iter().map(|(_, v)| v.as_str()).collect();
                    out.push_str(&vals.join(","));
                    out.push('\n');
                }
            }
            out.push_str(&format!("\n{} total.\n", rows.len()));
            out
        }
    }
}

fn status(core: &Core) -> String {
    let live = core.channel_count();
    let peak = core.peak_channels();
    format!(
        "UP {}\nFreeSWITCH (Version 1.10.12 -release 64bit) is ready\n{} session(s) since startup\n{live} session(s) - peak {peak}, last 5min {peak} \n0 session(s) per Sec out of max 100, peak 0, last 5min 0 \n1000 session(s) max\nmin idle cpu 0.00/99.17\nCurrent Stack Size/Max 240K/8192K\n",
        core.uptime_text(),
        core.sessions_since_startup(),
    )
}

/// `&park` works without parentheses in FreeSWITCH; the shared parser
/// wants them.
fn with_app_parens(arg: &str) -> String {
    let Some(amp) = arg.find(" &") else {
        return arg.to_string();
    };
    let word_end = arg[amp + 1..]
        .find(' ')
        .map(|i| amp + 1 + i)
        .unwrap_or(arg.len());
    if arg[amp + 1..word_end].contains('(') {
        return arg.to_string();
    }
    format!("{}(){}", &arg[..word_end], &arg[word_end..])
}

fn originate(core: &Arc<Core>, run: ApiRun) {
    let usage = || format!("-USAGE: {ORIGINATE_SYNTAX}\n");
    let arg = run.arg.clone().unwrap_or_default();
    let argv = match split_args(arg.trim()) {
        Ok(a) if (2..=7).contains(&a.len()) => a,
        _ => return run.finish(core, usage()),
    };
    let parsed = arg
        .trim()
        .parse::<Originate>()
        .or_else(|_| with_app_parens(arg.trim()).parse::<Originate>());
    let o = match parsed {
        Ok(o) => o,
        Err(_) => return run.finish(core, usage()),
    };
    let uuid = o
        .variable("origination_uuid")
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let key = o
        .variable("origination_uuid")
        .or(run.job_uuid())
        .unwrap_or(&uuid)
        .to_string();
    core.log_originate(&key, &o);
    if let Some(super::Refusal::EslNoSession { cause }) = core.refusal() {
        // switch_core_session_request_uuid refused: no channel, no event.
        return run.finish(core, format!("-ERR {cause}\n"));
    }
    let endpoint = match parse_dial_string(&o.dial_string) {
        Ok(e) => e,
        Err(cause) => return run.finish(core, format!("-ERR {}\n", cause.name())),
    };
    let given = |i: usize| {
        argv.get(i)
            .filter(|v| !v.is_empty() && v.as_str() != "undef")
            .cloned()
    };
    let timeout_secs = given(6)
        .or_else(|| o.variable("originate_timeout").map(str::to_string))
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_ORIGINATE_TIMEOUT);
    let attempt = core.next_attempt(&endpoint.number);
    let plan = core
        .scenario
        .plan(&endpoint.number, core.seed, attempt)
        .scaled(core.speed);
    let target = match &o.target {
        OriginateTarget::App { name, .. } if name == "park" => Target::Park,
        OriginateTarget::App { name, arg } if name == "bridge" => Target::Bridge(arg.clone()),
        OriginateTarget::App { name, arg } => Target::App {
            name: name.clone(),
            data: arg.clone(),
        },
        OriginateTarget::Extension {
            exten,
            dialplan,
            context,
        } => Target::Extension {
            exten: exten.clone(),
            dialplan: dialplan.clone().unwrap_or_else(|| "XML".into()),
            context: context.clone().unwrap_or_else(|| "default".into()),
        },
    };
    let spec = CallSpec {
        uuid,
        cid_name: given(4),
        cid_number: given(5),
        timeout: scale(Duration::from_secs(timeout_secs), core.speed),
        originate: o,
        endpoint,
        plan,
        target,
    };
    call::start(core, spec, run);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parens_are_added_to_bare_applications() {
        assert_eq!(with_app_parens("user/1 &park"), "user/1 &park()");
        assert_eq!(with_app_parens("user/1 &park()"), "user/1 &park()");
        assert_eq!(with_app_parens("user/1 &echo foo"), "user/1 &echo() foo");
        assert_eq!(with_app_parens("user/1 1000"), "user/1 1000");
    }

    #[test]
    fn words_split_as_switch_separate_string_does() {
        assert_eq!(separate("u v a b c", 3), ["u", "v", "a b c"]);
        assert_eq!(separate("u  v", 3), ["u", "v"]);
        assert_eq!(separate("", 3), Vec::<&str>::new());
    }

    #[test]
    fn causes_by_name_or_number() {
        assert_eq!(str2cause("user_busy"), Some(HangupCause::UserBusy));
        assert_eq!(str2cause("17"), Some(HangupCause::UserBusy));
        assert_eq!(str2cause("NOT_A_CAUSE"), None);
    }
}
