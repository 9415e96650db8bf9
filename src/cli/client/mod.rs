//! The CLI client: `dialpop campaign|task|dnc ... --server URL` over the
//! daemon's REST API. Human tables or short confirmations by default, the
//! server's JSON with `--json`; exit codes a script can rely on
//! ([`EXIT_CODES`]).

pub mod agent;
pub mod campaign;
pub mod cluster;
pub mod dnc;
pub mod http;
pub mod table;
pub mod task;
pub mod test_call;

use std::process::ExitCode;

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (network, server error 5xx, anything unexpected)
  2  usage error (bad or missing arguments, no --server)
  3  partly done (an import with refused rows; each listed with its line)
  4  not found (404)
  5  conflict (409, e.g. a transition the campaign's state does not allow)
  6  refused auth (401/403: missing or wrong --token)
  7  bad input (400/422: the server's error and the field it names)";

/// Where the daemon is and how to talk to it. Global: they may come
/// before or after the subcommand.
#[derive(clap::Args, Clone, Default)]
pub struct Remote {
    /// The daemon's base URL, e.g. http://127.0.0.1:8080.
    #[arg(
        long,
        global = true,
        env = "DIALPOP_SERVER",
        value_name = "URL",
        display_order = 900
    )]
    pub server: Option<String>,
    /// The API bearer token (never printed).
    #[arg(
        long,
        global = true,
        env = "DIALPOP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        display_order = 901
    )]
    pub token: Option<String>,
    /// Print the server's JSON (one document) instead of tables.
    #[arg(long, global = true, display_order = 902)]
    pub json: bool,
}

/// A process exit code of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failed = 1,
    Usage = 2,
    Partial = 3,
    NotFound = 4,
    Conflict = 5,
    Auth = 6,
    BadInput = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Why a command failed: its exit code and the line for stderr.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Failed, message)
    }
}

/// What a command prints and how it ends.
pub struct Done {
    pub out: String,
    pub exit: Exit,
}

impl Done {
    pub fn ok(out: impl Into<String>) -> Done {
        Done {
            out: out.into(),
            exit: Exit::Ok,
        }
    }
}

/// The document as `--json` prints it.
pub fn json_doc(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// Runs one client command against `remote`: the client, a runtime, the
/// command; prints its output, or its error on stderr; the exit code.
pub fn run<F, Fut>(remote: &Remote, command: F) -> ExitCode
where
    F: FnOnce(http::Client) -> Fut,
    Fut: std::future::Future<Output = Result<Done, Failure>>,
{
    let result = (|| {
        let server = remote
            .server
            .as_deref()
            .ok_or_else(|| Failure::usage("no server: give --server URL or set DIALPOP_SERVER"))?;
        let client = http::Client::new(server, remote.token.clone())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))?;
        runtime.block_on(command(client))
    })();
    match result {
        Ok(done) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(done.out.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: cannot write the output: {e}");
                    return Exit::Failed.into();
                }
            }
            done.exit.into()
        }
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.exit.into()
        }
    }
}

/// `"x"` as it is quoted in messages.
pub fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// An import report (`ImportReport` as JSON) as the local import prints it:
/// each refused row with its line, then the counts. Exit 3 if rows were
/// refused.
pub fn import_summary(report: &serde_json::Value, json: bool) -> Done {
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let exit = if n("rejected") > 0 {
        Exit::Partial
    } else {
        Exit::Ok
    };
    if json {
        return Done {
            out: json_doc(report),
            exit,
        };
    }
    let mut out = String::new();
    for e in report["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "line {}: {}: {}\n",
            e["line"],
            table::clean(e["field"].as_str().unwrap_or("")),
            table::clean(e["error"].as_str().unwrap_or(""))
        ));
    }
    if n("errors_not_listed") > 0 {
        out.push_str(&format!(
            "... and {} more refused rows\n",
            n("errors_not_listed")
        ));
    }
    let ignored: Vec<&str> = report["ignored_columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    if !ignored.is_empty() {
        out.push_str(&format!(
            "columns not used: {}\n",
            table::clean(&ignored.join(", "))
        ));
    }
    out.push_str(&format!(
        "{} rows: {} added, {} already there, {} refused\n",
        n("rows"),
        n("added"),
        n("duplicates"),
        n("rejected")
    ));
    Done { out, exit }
}

pub use agent::AgentCmd;
pub use campaign::CampaignCmd;
pub use dnc::DncCmd;
pub use task::TaskCmd;

/// `dialpop campaign ...`.
pub fn campaign(cmd: CampaignCmd) -> ExitCode {
    let CampaignCmd { remote, action } = cmd;
    let json = remote.json;
    run(&remote, move |c| campaign::run(c, action, json))
}

/// `dialpop cluster status`.
pub fn cluster(cmd: cluster::ClusterCmd) -> ExitCode {
    let cluster::ClusterCmd { remote, action } = cmd;
    let json = remote.json;
    run(&remote, move |c| cluster::run(c, action, json))
}

/// `dialpop agent ...`.
pub fn agent(cmd: AgentCmd) -> ExitCode {
    let AgentCmd { remote, action } = cmd;
    let json = remote.json;
    run(&remote, move |c| agent::run(c, action, json))
}

/// `dialpop task add|list|show|update|cancel`.
pub fn task(remote: &Remote, cmd: TaskCmd) -> ExitCode {
    let json = remote.json;
    run(remote, move |c| task::run(c, cmd, json))
}

/// `dialpop task import FILE --campaign C --server URL`.
pub fn task_import(remote: &Remote, file: &std::path::Path, campaign: &str) -> ExitCode {
    let json = remote.json;
    run(remote, move |c| task::import(c, file, campaign, json))
}

/// `dialpop dnc add|remove|list`.
pub fn dnc(remote: &Remote, cmd: DncCmd) -> ExitCode {
    let json = remote.json;
    run(remote, move |c| dnc::run(c, cmd, json))
}

/// `dialpop dnc import FILE --server URL`.
pub fn dnc_import(
    remote: &Remote,
    file: &std::path::Path,
    campaign: Option<&str>,
    region: Option<&str>,
) -> ExitCode {
    let json = remote.json;
    run(remote, move |c| {
        dnc::import(c, file, campaign, region, json)
    })
}
