//! The CLI client as a user runs it: the built binary with --server and
//! --token against the real daemon. Each subcommand's tables and --json,
//! and the exit codes scripts rely on: 3 partly done, 4 not found,
//! 5 conflict, 6 refused auth, 7 bad input (with the field named).

mod common;

use common::{API_TOKEN, lab};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `dialpop ARGS` with nothing from the environment's DIALPOP_*.
async fn dialpop_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dialpop"));
    cmd.args(args)
        .env_remove("DIALPOP_SERVER")
        .env_remove("DIALPOP_TOKEN")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("dialpop finishes within a minute")
        .expect("dialpop runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A client of one server with one token.
struct Cli {
    server: String,
    token: String,
}

impl Cli {
    fn new(addr: std::net::SocketAddr, token: &str) -> Cli {
        Cli {
            server: format!("http://{addr}"),
            token: token.to_string(),
        }
    }

    async fn run(&self, args: &[&str]) -> Out {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &self.server, "--token", &self.token]);
        dialpop_env(&all, &[]).await
    }

    /// Expects `code`; the output for the next checks.
    async fn expect(&self, code: i32, args: &[&str]) -> Out {
        let out = self.run(args).await;
        assert_eq!(out.code, code, "dialpop {}\n{out}", args.join(" "));
        if code == 0 || code == 3 {
            // Partly done is a report on stdout, not an error.
            assert!(out.stderr.trim().is_empty(), "{out}");
        } else {
            assert!(out.stderr.starts_with("error: "), "{out}");
        }
        out
    }
}

/// Every line of a table has its columns where the header's are.
fn assert_aligned(table: &str, columns: &[&str]) {
    let mut lines = table.lines();
    let head = lines.next().expect("a header line");
    let starts: Vec<usize> = columns
        .iter()
        .map(|c| {
            head.find(c)
                .unwrap_or_else(|| panic!("column {c} in {head:?}"))
        })
        .collect();
    for line in lines.take_while(|l| !l.starts_with("more:")) {
        let chars: Vec<char> = line.chars().collect();
        for &s in &starts[1..] {
            assert!(
                s < chars.len() && chars[s - 1] == ' ' && chars[s] != ' ',
                "column at {s} in {line:?}\n{table}"
            );
        }
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p.display().to_string()
}

/// The example config file with the lab's store, for the local imports.
fn local_config(lab: &common::Lab) -> String {
    let config =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/dialpop.toml"))
            .expect("config/dialpop.toml")
            .replace("sqlite://dialpop.db", &lab.db_url);
    assert!(config.contains(&lab.db_url));
    write(&lab.dir, "dialpop.toml", &config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_listed_created_changed_and_moved() {
    let lab = lab("cli-campaigns", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let cli = Cli::new(daemon.addr, API_TOKEN);

    let out = cli
        .expect(
            0,
            &[
                "campaign",
                "create",
                "--id",
                "spring",
                "--name",
                "Spring renewals",
                "--settings",
                r#"{"region":"FR","time_zone":"Europe/Paris"}"#,
            ],
        )
        .await;
    assert_eq!(out.stdout, "campaign \"spring\" created (created)\n");
    let file = write(
        &lab.dir,
        "autumn.json",
        r#"{"region":"GB","wrap_up_seconds":7}"#,
    );
    let out = cli
        .expect(
            0,
            &[
                "campaign",
                "create",
                "--id",
                "autumn",
                "--name",
                "Autumn",
                "--settings-file",
                &file,
                "--json",
            ],
        )
        .await;
    let v = out.json();
    assert_eq!(
        (&v["id"], &v["state"]),
        (&"autumn".into(), &"created".into())
    );
    assert_eq!(v["settings"]["region"], "GB");
    assert_eq!(v["settings"]["wrap_up_seconds"], 7.0);

    // Conflict, bad input (the field named), usage.
    let out = cli
        .expect(
            5,
            &["campaign", "create", "--id", "spring", "--name", "Again"],
        )
        .await;
    assert!(out.stderr.contains("\"spring\" exists"), "{out}");
    let out = cli
        .expect(
            7,
            &[
                "campaign",
                "create",
                "--id",
                "x",
                "--name",
                "X",
                "--settings",
                r#"{"region":"XX"}"#,
            ],
        )
        .await;
    assert!(out.stderr.starts_with("error: settings.region"), "{out}");
    let out = cli
        .expect(7, &["campaign", "create", "--id", "x y", "--name", "X"])
        .await;
    assert!(out.stderr.starts_with("error: id"), "{out}");
    cli.expect(
        2,
        &[
            "campaign",
            "create",
            "--id",
            "x",
            "--name",
            "X",
            "--settings",
            "{not json",
        ],
    )
    .await;

    let out = cli.expect(0, &["campaign", "list"]).await;
    assert_aligned(&out.stdout, &["ID", "NAME", "STATE", "UPDATED"]);
    for want in ["spring", "Spring renewals", "autumn", "lab", "running"] {
        assert!(out.stdout.contains(want), "{want}\n{out}");
    }
    let v = cli.expect(0, &["campaign", "list", "--json"]).await.json();
    let ids: Vec<&str> = v["campaigns"]
        .as_array()
        .expect("campaigns")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "{v}");
    assert!(ids.contains(&"spring") && ids.contains(&"autumn"));

    let out = cli.expect(0, &["campaign", "show", "spring"]).await;
    for want in [
        "id:",
        "spring",
        "Spring renewals",
        "\"region\": \"FR\"",
        "Europe/Paris",
    ] {
        assert!(out.stdout.contains(want), "{want}\n{out}");
    }
    let v = cli
        .expect(0, &["campaign", "show", "spring", "--json"])
        .await
        .json();
    assert_eq!(v["settings"]["time_zone"], "Europe/Paris");
    let out = cli.expect(4, &["campaign", "show", "nope"]).await;
    assert_eq!(out.stderr.trim(), "error: campaign \"nope\" not found");

    // A merge patch: what it names changes, the rest stays.
    let v = cli
        .expect(
            0,
            &[
                "campaign",
                "update",
                "spring",
                "--settings",
                r#"{"wrap_up_seconds":5}"#,
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(v["settings"]["wrap_up_seconds"], 5.0);
    assert_eq!(v["settings"]["region"], "FR");
    let out = cli
        .expect(0, &["campaign", "update", "spring", "--name", "Spring 2"])
        .await;
    assert!(out.stdout.contains("Spring 2"), "{out}");
    let out = cli
        .expect(
            7,
            &[
                "campaign",
                "update",
                "spring",
                "--settings",
                r#"{"wrap_up_seconds":-1}"#,
            ],
        )
        .await;
    assert!(
        out.stderr.starts_with("error: settings.wrap_up_seconds"),
        "{out}"
    );
    cli.expect(4, &["campaign", "update", "nope", "--settings", "{}"])
        .await;
    cli.expect(2, &["campaign", "update", "spring"]).await;

    // The lifecycle; a move the state does not allow is a conflict.
    let out = cli.expect(5, &["campaign", "pause", "spring"]).await;
    assert!(out.stderr.contains("cannot be paused"), "{out}");
    let out = cli.expect(0, &["campaign", "start", "spring"]).await;
    assert_eq!(out.stdout, "campaign \"spring\": created → running\n");
    let v = cli
        .expect(0, &["campaign", "pause", "spring", "--json"])
        .await
        .json();
    assert_eq!(
        (&v["previous"], &v["state"]),
        (&"running".into(), &"paused".into())
    );
    cli.expect(0, &["campaign", "resume", "spring"]).await;
    cli.expect(0, &["campaign", "stop", "spring"]).await;
    cli.expect(5, &["campaign", "resume", "spring"]).await;
    let out = cli.expect(4, &["campaign", "start", "nope"]).await;
    assert_eq!(out.stderr.trim(), "error: campaign \"nope\" not found");

    let out = cli.expect(0, &["campaign", "stats", "spring"]).await;
    for want in ["state:", "stopped", "pending", "TASKS"] {
        assert!(out.stdout.contains(want), "{want}\n{out}");
    }
    let v = cli
        .expect(0, &["campaign", "stats", "spring", "--json"])
        .await
        .json();
    assert_eq!(v["tasks"]["pending"], 0);
    assert_eq!(v["state"], "stopped");
    cli.expect(4, &["campaign", "stats", "nope"]).await;

    // Refused auth: a wrong token, no token; the token is never printed.
    let wrong = Cli::new(daemon.addr, "not-the-token-42");
    for args in [
        &["campaign", "list"][..],
        &["campaign", "show", "spring"],
        &["campaign", "start", "spring"],
        &["campaign", "create", "--id", "z", "--name", "Z"],
        &["campaign", "update", "spring", "--name", "Z"],
        &["campaign", "stats", "spring"],
    ] {
        let out = wrong.expect(6, args).await;
        assert!(!out.stderr.contains("not-the-token-42"), "{out}");
        assert!(!out.stdout.contains("not-the-token-42"), "{out}");
    }
    let server = format!("http://{}", daemon.addr);
    let out = dialpop_env(&["campaign", "list", "--server", &server], &[]).await;
    assert_eq!(out.code, 6, "{out}");
    assert!(out.stderr.contains("missing bearer token"), "{out}");

    // The environment instead of the flags; the flags before the subcommand.
    let out = dialpop_env(
        &["campaign", "list"],
        &[("DIALPOP_SERVER", &server), ("DIALPOP_TOKEN", API_TOKEN)],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    let out = dialpop_env(
        &[
            "campaign", "--server", &server, "--token", API_TOKEN, "--json", "list",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(out.json()["campaigns"].is_array());
    // The token is not shown by --help, even from the environment.
    let out = dialpop_env(
        &["campaign", "list", "--help"],
        &[("DIALPOP_TOKEN", "secret-in-env")],
    )
    .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains("secret-in-env"), "{out}");
    assert!(out.stdout.contains("Exit codes:"), "{out}");
    assert!(out.stdout.contains("DIALPOP_TOKEN"), "{out}");

    // No server: usage. Nothing listening: failure.
    let out = dialpop_env(&["campaign", "list"], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("--server"), "{out}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let out = Cli::new(closed, API_TOKEN).run(&["campaign", "list"]).await;
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("cannot reach"), "{out}");
    let out = dialpop_env(&["campaign", "list", "--server", "ftp://x"], &[]).await;
    assert_eq!(out.code, 2, "{out}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_added_listed_changed_cancelled_and_imported() {
    let lab = lab("cli-tasks", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let cli = Cli::new(daemon.addr, API_TOKEN);
    cli.expect(
        0,
        &["campaign", "create", "--id", "calls", "--name", "Calls"],
    )
    .await;

    let add = |customer: &'static str, phone: &'static str| {
        vec![
            "task",
            "add",
            "--campaign",
            "calls",
            "--customer",
            customer,
            "--phone",
            phone,
        ]
    };
    let mut args = add("k1", "+1 212 736 0001");
    args.extend([
        "--priority",
        "5",
        "--tag",
        "renewal",
        "--tag",
        "gold",
        "--var",
        "offer=gold",
        "--key",
        "crm-1",
        "--not-after",
        "2099-01-31T18:00:00-05:00",
        "--time-zone",
        "America/New_York",
    ]);
    let out = cli.expect(0, &args).await;
    assert!(
        out.stdout.starts_with("task ") && out.stdout.contains("added to campaign \"calls\""),
        "{out}"
    );
    assert!(out.stdout.contains("+12127360001"), "{out}");
    let first: i64 = out.stdout["task ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a task id in {out}"));
    let out = cli.expect(0, &args).await;
    assert!(out.stdout.contains("already there"), "{out}");
    let mut args = add("k2", "+12127360002");
    args.push("--json");
    let v = cli.expect(0, &args).await.json();
    assert_eq!(v["created"], true);
    assert_eq!(v["phone"], "+12127360002");
    let second = v["task_id"].as_i64().expect("task_id");
    cli.expect(0, &add("k3", "+12127360003")).await;

    let out = cli.expect(7, &add("k4", "12")).await;
    assert!(out.stderr.starts_with("error: phone"), "{out}");
    let out = cli
        .expect(
            7,
            &[
                "task",
                "add",
                "--campaign",
                "nope",
                "--customer",
                "k",
                "--phone",
                "+12127360004",
            ],
        )
        .await;
    assert!(out.stderr.starts_with("error: campaign"), "{out}");
    let mut args = add("k4", "+12127360004");
    args.extend(["--not-before", "tomorrow"]);
    let out = cli.expect(7, &args).await;
    assert!(out.stderr.starts_with("error: not_before"), "{out}");
    cli.expect(2, &["task", "add", "--campaign", "calls"]).await;
    let mut args = add("k4", "+12127360004");
    args.extend(["--var", "novalue"]);
    cli.expect(2, &args).await;

    let out = cli
        .expect(0, &["task", "list", "--campaign", "calls"])
        .await;
    assert_aligned(
        &out.stdout,
        &[
            "ID", "CAMPAIGN", "CUSTOMER", "PHONE", "STATUS", "PRIO", "TRIES", "DUE", "TAGS",
        ],
    );
    for want in ["+12127360001", "+12127360003", "renewal,gold", "pending"] {
        assert!(out.stdout.contains(want), "{want}\n{out}");
    }
    assert_eq!(out.stdout.lines().count(), 4, "a header and 3 tasks\n{out}");
    let v = cli
        .expect(
            0,
            &[
                "task",
                "list",
                "--campaign",
                "calls",
                "--tag",
                "gold",
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["tasks"][0]["customer_id"], "k1");
    let out = cli
        .expect(0, &["task", "list", "--campaign", "calls", "--limit", "2"])
        .await;
    assert!(out.stdout.contains("more: --cursor"), "{out}");
    let v = cli
        .expect(
            0,
            &[
                "task",
                "list",
                "--campaign",
                "calls",
                "--limit",
                "2",
                "--all",
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v["next_cursor"], Value::Null);
    let out = cli.expect(7, &["task", "list", "--status", "bogus"]).await;
    assert!(out.stderr.starts_with("error: status"), "{out}");
    let out = cli.expect(7, &["task", "list", "--limit", "5000"]).await;
    assert!(out.stderr.starts_with("error: limit"), "{out}");

    let id = first.to_string();
    let out = cli.expect(0, &["task", "show", &id]).await;
    for want in [
        "offer=gold",
        "crm-1",
        "America/New_York",
        "pending",
        "2099-",
    ] {
        assert!(out.stdout.contains(want), "{want}\n{out}");
    }
    let v = cli.expect(0, &["task", "show", &id, "--json"]).await.json();
    assert_eq!(v["variables"]["offer"], "gold");
    assert_eq!(v["priority"], 5);
    let out = cli.expect(4, &["task", "show", "999999"]).await;
    assert_eq!(out.stderr.trim(), "error: task 999999 not found");

    let v = cli
        .expect(
            0,
            &[
                "task",
                "update",
                &id,
                "--priority",
                "9",
                "--tag",
                "vip",
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(v["priority"], 9);
    assert_eq!(v["tags"], serde_json::json!(["vip"]));
    assert_eq!(v["variables"]["offer"], "gold", "what was not given stays");
    let out = cli
        .expect(0, &["task", "update", &id, "--clear-not-after"])
        .await;
    assert!(out.stdout.contains(&format!("task {id} updated")), "{out}");
    let out = cli
        .expect(7, &["task", "update", &id, "--not-after", "soon"])
        .await;
    assert!(out.stderr.starts_with("error: not_after"), "{out}");
    cli.expect(4, &["task", "update", "999999", "--priority", "1"])
        .await;
    cli.expect(2, &["task", "update", &id]).await;

    let out = cli.expect(0, &["task", "cancel", &id]).await;
    assert_eq!(out.stdout, format!("task {id} cancelled (cancelled)\n"));
    let out = cli.expect(5, &["task", "cancel", &id]).await;
    assert!(out.stderr.contains("can no longer be changed"), "{out}");
    cli.expect(5, &["task", "update", &id, "--priority", "1"])
        .await;
    let out = cli.expect(4, &["task", "cancel", "999999"]).await;
    assert_eq!(out.stderr.trim(), "error: task 999999 not found");
    let v = cli
        .expect(0, &["task", "cancel", &second.to_string(), "--json"])
        .await
        .json();
    assert_eq!(v["status"], "cancelled");

    // Imports: the file streamed; a bad row is listed with its line.
    let csv = write(
        &lab.dir,
        "tasks.csv",
        "customer_id,phone,tags,colour\nc1,+12127360011,a;b,red\nc2,not-a-number,,\nc3,+12127360013,,\n",
    );
    let out = cli
        .expect(3, &["task", "import", &csv, "--campaign", "calls"])
        .await;
    assert!(out.stdout.contains("line 3: phone"), "{out}");
    assert!(out.stdout.contains("columns not used: colour"), "{out}");
    assert!(
        out.stdout
            .contains("3 rows: 2 added, 0 already there, 1 refused"),
        "{out}"
    );
    let v = cli
        .expect(
            3,
            &["task", "import", &csv, "--campaign", "calls", "--json"],
        )
        .await
        .json();
    assert_eq!(
        (v["rows"].as_u64(), v["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(v["errors"][0]["line"], 3);
    assert_eq!(v["errors"][0]["field"], "phone");
    let good = write(&lab.dir, "good.csv", "customer_id,phone\nc9,+12127360019\n");
    let out = cli
        .expect(0, &["task", "import", &good, "--campaign", "calls"])
        .await;
    assert!(out.stdout.contains("1 rows: 1 added"), "{out}");
    let out = cli
        .expect(7, &["task", "import", &good, "--campaign", "nope"])
        .await;
    assert!(out.stderr.starts_with("error: campaign"), "{out}");
    let out = cli
        .expect(
            1,
            &["task", "import", "/nonexistent.csv", "--campaign", "calls"],
        )
        .await;
    assert!(out.stderr.contains("/nonexistent.csv"), "{out}");
    let v = cli
        .expect(0, &["task", "list", "--campaign", "calls", "--json"])
        .await
        .json();
    // 3 added one by one, 2 by each of the two imports (no external_id, so
    // the second adds them again), 1 by the good file.
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(8), "{v}");

    // Without --server, import works on the store of the config file, as before.
    let config = local_config(&lab);
    let local = write(
        &lab.dir,
        "local.csv",
        "customer_id,phone\nl1,+12127360021\nl2,x\n",
    );
    let out = dialpop_env(
        &[
            "task",
            "import",
            &local,
            "--campaign",
            "calls",
            "--config",
            &config,
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stdout.contains("line 3: phone"), "{out}");
    let v = cli
        .expect(0, &["task", "list", "--campaign", "calls", "--json"])
        .await
        .json();
    assert_eq!(v["tasks"].as_array().map(Vec::len), Some(9), "{v}");

    let wrong = Cli::new(daemon.addr, "wrong");
    for args in [
        &["task", "list"][..],
        &["task", "show", &id],
        &["task", "cancel", &id],
        &["task", "update", &id, "--priority", "1"],
        &[
            "task",
            "add",
            "--campaign",
            "calls",
            "--customer",
            "k",
            "--phone",
            "+12127360009",
        ],
        &["task", "import", &good, "--campaign", "calls"],
    ] {
        wrong.expect(6, args).await;
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_not_call_lists_added_to_listed_removed_and_imported() {
    let lab = lab("cli-dnc", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let cli = Cli::new(daemon.addr, API_TOKEN);

    let out = cli
        .expect(0, &["dnc", "add", "+1 212 736 0100", "--reason", "asked"])
        .await;
    assert_eq!(
        out.stdout,
        "+12127360100 added to the global do-not-call list\n"
    );
    let out = cli.expect(0, &["dnc", "add", "+12127360100"]).await;
    assert!(out.stdout.contains("already on"), "{out}");
    let v = cli
        .expect(
            0,
            &["dnc", "add", "2127360101", "--campaign", "lab", "--json"],
        )
        .await
        .json();
    assert_eq!(v["entry"]["phone"], "+12127360101");
    assert_eq!(v["entry"]["campaign_id"], "lab");
    let out = cli.expect(7, &["dnc", "add", "12"]).await;
    assert!(out.stderr.starts_with("error: phone"), "{out}");
    let out = cli
        .expect(7, &["dnc", "add", "+12127360102", "--campaign", "nope"])
        .await;
    assert!(out.stderr.starts_with("error: campaign"), "{out}");

    let out = cli.expect(0, &["dnc", "list"]).await;
    assert_aligned(&out.stdout, &["PHONE", "CAMPAIGN", "REASON", "ADDED"]);
    assert!(out.stdout.contains("+12127360100"), "{out}");
    assert!(
        out.stdout.contains("(global)") && out.stdout.contains("asked"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("+12127360101"),
        "the campaign's is apart\n{out}"
    );
    let v = cli
        .expect(0, &["dnc", "list", "--campaign", "lab", "--json"])
        .await
        .json();
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["entries"][0]["phone"], "+12127360101");

    let out = cli.expect(0, &["dnc", "remove", "+12127360100"]).await;
    assert_eq!(
        out.stdout,
        "+12127360100 removed from the global do-not-call list\n"
    );
    let out = cli.expect(4, &["dnc", "remove", "+12127360100"]).await;
    assert!(out.stderr.contains("not found on the global"), "{out}");
    let out = cli.expect(7, &["dnc", "remove", "12"]).await;
    assert!(out.stderr.starts_with("error: phone"), "{out}");
    let v = cli
        .expect(
            0,
            &[
                "dnc",
                "remove",
                "+12127360101",
                "--campaign",
                "lab",
                "--json",
            ],
        )
        .await
        .json();
    assert_eq!(v["removed"], "+12127360101");

    let csv = write(
        &lab.dir,
        "dnc.csv",
        "phone,reason\n+12127360110,asked\nnope,\n+12127360112,\n",
    );
    let out = cli.expect(3, &["dnc", "import", &csv]).await;
    assert!(out.stdout.contains("line 3: phone"), "{out}");
    assert!(out.stdout.contains("3 rows: 2 added"), "{out}");
    let v = cli
        .expect(3, &["dnc", "import", &csv, "--campaign", "lab", "--json"])
        .await
        .json();
    assert_eq!(v["added"], 2);
    assert_eq!(v["errors"][0]["line"], 3);
    let out = cli
        .expect(7, &["dnc", "import", &csv, "--region", "XX"])
        .await;
    assert!(out.stderr.starts_with("error: region"), "{out}");
    let out = cli.expect(0, &["dnc", "list", "--limit", "1"]).await;
    assert!(out.stdout.contains("more: --cursor +12127360110"), "{out}");
    let v = cli
        .expect(0, &["dnc", "list", "--limit", "1", "--all", "--json"])
        .await
        .json();
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(2), "{v}");

    // Without --server, import works on the store of the config file, as before.
    let config = local_config(&lab);
    let local = write(&lab.dir, "local.csv", "phone\n2127360130\nx\n");
    let out = dialpop_env(&["dnc", "import", &local, "--config", &config], &[]).await;
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stdout.contains("line 3: phone"), "{out}");
    let v = cli
        .expect(0, &["dnc", "list", "--all", "--json"])
        .await
        .json();
    assert!(
        v["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["phone"] == "+12127360130")),
        "read with the default region, US: {v}"
    );

    let wrong = Cli::new(daemon.addr, "wrong");
    for args in [
        &["dnc", "list"][..],
        &["dnc", "add", "+12127360120"],
        &["dnc", "remove", "+12127360110"],
        &["dnc", "import", &csv],
    ] {
        wrong.expect(6, args).await;
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_created_listed_changed_paused_and_given_new_tokens() {
    let lab = lab("cli-agents", 0, &[], 20.0).await;
    let daemon = lab.start_daemon().await;
    let cli = Cli::new(daemon.addr, API_TOKEN);
    let wrong = Cli::new(daemon.addr, "wrong-token");
    cli.expect(0, &["campaign", "create", "--id", "vip", "--name", "VIP"])
        .await;

    let out = cli
        .expect(
            0,
            &[
                "agent",
                "create",
                "--id",
                "maria",
                "--name",
                "Maria Silva",
                "--extension",
                "8101",
                "--campaign",
                common::CAMPAIGN,
                "--campaign",
                "vip:5",
            ],
        )
        .await;
    let token = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .expect("the token, printed once")
        .to_string();
    assert_eq!(token.len(), 32, "{out}");
    let out = cli.expect(0, &["agent", "list"]).await;
    assert_aligned(
        &out.stdout,
        &["ID", "NAME", "EXTENSION", "CAMPAIGNS", "STATE"],
    );
    assert!(out.stdout.contains("vip:5, lab:0"), "{out}");
    assert!(!out.stdout.contains(&token), "never shown again: {out}");
    let v = cli
        .expect(0, &["agent", "show", "maria", "--json"])
        .await
        .json();
    assert_eq!(
        (v["id"].as_str(), v["state"].as_str()),
        (Some("maria"), Some("logged_out"))
    );
    assert_eq!(v["campaigns"][0]["campaign"], "vip");

    let out = cli
        .expect(7, &["agent", "update", "maria", "--extension", "81 01"])
        .await;
    assert!(out.stderr.starts_with("error: extension:"), "{out}");
    let out = cli
        .expect(
            7,
            &[
                "agent",
                "create",
                "--id",
                "x",
                "--name",
                "X",
                "--extension",
                "1",
                "--campaign",
                "nope",
            ],
        )
        .await;
    assert!(
        out.stderr.starts_with("error: campaigns[0].campaign:"),
        "{out}"
    );
    cli.expect(
        5,
        &[
            "agent",
            "create",
            "--id",
            "maria",
            "--name",
            "M",
            "--extension",
            "1",
            "--campaign",
            "vip",
        ],
    )
    .await;
    cli.expect(4, &["agent", "show", "nobody"]).await;
    wrong.expect(6, &["agent", "list"]).await;
    assert_eq!(
        cli.run(&[
            "agent",
            "create",
            "--id",
            "x",
            "--name",
            "X",
            "--extension",
            "1",
            "--campaign",
            "vip:high"
        ])
        .await
        .code,
        2
    );

    let v = cli
        .expect(
            0,
            &["agent", "update", "maria", "--campaign", "vip", "--json"],
        )
        .await
        .json();
    assert_eq!(v["campaigns"].as_array().map(|a| a.len()), Some(1));
    // Pausing a signed-out agent is refused; the state says why.
    let out = cli
        .expect(5, &["agent", "pause", "maria", "--reason", "lunch"])
        .await;
    assert!(out.stderr.contains("not signed in"), "{out}");
    let out = cli.expect(0, &["agent", "token", "maria"]).await;
    assert!(
        out.stdout.contains("new token") && !out.stdout.contains(&token),
        "{out}"
    );
    cli.expect(0, &["agent", "resume", "maria"]).await;
    daemon.stop().await;
}
