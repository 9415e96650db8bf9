//! `dialpop decode` as a user runs it: the built binary on capture files.

use std::io::Write;
use std::process::{Command, Stdio};

fn decode(protocol: &str, input: &[u8]) -> (i32, Vec<serde_json::Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialpop"))
        .args(["decode", "--protocol", protocol, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dialpop runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).expect("write capture");
    }
    let out = child.wait_with_output().expect("dialpop finishes");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), lines)
}

fn fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p} is required: {e}"))
}

#[test]
fn real_session_decodes_to_frames_and_call_events() {
    let (code, lines) = decode("esl", &fixture("real/freeswitch_answered.txt"));
    assert_eq!(code, 0);
    assert_eq!(lines.len(), 60);
    assert_eq!(lines[0]["content_type"], "auth/request");
    assert_eq!(
        lines[3]["headers"]["Job-UUID"],
        "bbf8ba43-6da8-4517-8154-e4398cf71372"
    );
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["call_event"]["kind"] == "answered")
        .collect();
    assert_eq!(answered.len(), 2, "a-leg and b-leg each answer");
    assert_eq!(
        answered[0]["call_event"]["call_id"],
        "b54943b3-2b93-4a3f-aba5-2bb639c8dd0e"
    );
    assert_eq!(
        answered[0]["call_event"]["switch_time_us"],
        1795554390911066i64
    );
    // Event headers are decoded once: "2026-11-24%2021%3A06%3A38" → spaces and colons.
    let ev = &lines[4]["event"]["headers"];
    assert_eq!(ev["Event-Date-Local"], "2026-11-24 21:06:29");
    let job = lines
        .iter()
        .find(|l| l["event"]["headers"]["Event-Name"] == "BACKGROUND_JOB")
        .expect("job");
    assert_eq!(
        job["event"]["body"],
        "+OK b54943b3-2b93-4a3f-aba5-2bb639c8dd0e\n"
    );
    assert_eq!(lines[59]["content_type"], "text/disconnect-notice");
}

#[test]
fn a_bad_frame_is_reported_with_its_offset_and_decoding_resumes() {
    let mut capture = fixture("esl/auth_request.txt");
    let bad_at = capture.len();
    capture.extend_from_slice(b"this is not a header\n\n");
    capture.extend_from_slice(&fixture("esl/auth_accepted.txt"));
    let (code, lines) = decode("esl", &capture);
    assert_ne!(code, 0, "a failed frame makes the exit code non-zero");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["offset"], bad_at);
    let err = lines[1]["error"].as_str().expect("error text");
    assert!(
        err.contains(&format!("at byte {bad_at}")) && err.contains("this is not a header"),
        "{err}"
    );
    assert_eq!(lines[2]["headers"]["Reply-Text"], "+OK accepted");
}

#[test]
fn documented_wrong_length_names_both_lengths() {
    let (code, lines) = decode(
        "esl",
        &fixture("esl/background_job_originate_ok_doc_outer_len_wrong.plain"),
    );
    assert_eq!(code, 1);
    let err = lines[0]["error"].as_str().expect("error text");
    assert!(
        err.contains("Content-Length 625") && err.contains("583"),
        "{err}"
    );
}
