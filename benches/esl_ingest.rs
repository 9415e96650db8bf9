//! Event ingest over a real loopback socket, dialpop's client beside the
//! freeswitch-esl-tokio crate's, in the same run on the same bytes.
//!
//! A loopback server answers auth and the subscription, then sends N events
//! taken from the real FreeSWITCH 1.10.12 captures. Each client counts events
//! until it has N. Prints a table and the ratio; `--events N` and
//! `--rounds R` change the size.

use dialpop::switch::esl::client::{EslClient, EslClientConfig, SwitchNotice};
use dialpop::switch::esl::frame::{Scan, scan_frame};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn read_fixture(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The text/event-plain frames of a capture, byte for byte.
fn event_frames(capture: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Ok(Scan::Frame(b)) = scan_frame(&capture[pos..], 16 << 20) {
        let frame = &capture[pos..pos + b.total()];
        if memchr::memmem::find(&frame[..b.skip + b.header_len], b"text/event-plain").is_some() {
            out.push(frame.to_vec());
        }
        pos += b.total();
    }
    out
}

struct Workload {
    name: &'static str,
    bytes: Arc<Vec<u8>>,
    events: usize,
}

fn workload(name: &'static str, frames: &[Vec<u8>], n: usize) -> Workload {
    let mut bytes = Vec::new();
    for f in frames.iter().cycle().take(n) {
        bytes.extend_from_slice(f);
    }
    Workload {
        name,
        bytes: Arc::new(bytes),
        events: n,
    }
}

/// Serves one connection: the handshake, then the whole workload.
async fn serve(listener: TcpListener, payload: Arc<Vec<u8>>) {
    let Ok((mut sock, _)) = listener.accept().await else {
        return;
    };
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let _ = sock.write_all(b"Content-Type: auth/request\n\n").await;
    for reply in [
        &b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"[..],
        &b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"[..],
    ] {
        while memchr::memmem::find(&buf, b"\n\n").is_none() {
            match sock.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        if let Some(i) = memchr::memmem::find(&buf, b"\n\n") {
            buf.drain(..i + 2);
        }
        let _ = sock.write_all(reply).await;
    }
    for chunk in payload.chunks(1 << 20) {
        if sock.write_all(chunk).await.is_err() {
            return;
        }
    }
    // Keep the socket open until the client leaves.
    let _ = sock.read(&mut tmp).await;
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = l.local_addr().expect("local addr").to_string();
    (l, addr)
}

async fn run_dialpop(w: &Workload) -> Duration {
    let (l, addr) = listener().await;
    let server = tokio::spawn(serve(l, w.bytes.clone()));
    let start = Instant::now();
    let mut cfg = EslClientConfig::new(addr, "ClueCon");
    cfg.events = vec!["ALL".into()];
    let (client, mut notices) = EslClient::connect(cfg)
        .await
        .expect("dialpop client connects");
    let mut n = 0;
    while n < w.events {
        match notices.recv().await {
            Some(SwitchNotice::Event(ev)) => {
                std::hint::black_box(ev.name());
                n += 1;
            }
            Some(_) => {}
            None => panic!("dialpop client ended after {n} events"),
        }
    }
    let t = start.elapsed();
    client.shutdown().await;
    server.abort();
    t
}

async fn run_esl_tokio(w: &Workload) -> Duration {
    use freeswitch_esl_tokio::{
        EslClient, EslConnectOptions, EslEventType, EventFormat, EventOverflow,
    };
    let (l, addr) = listener().await;
    let port: u16 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    let server = tokio::spawn(serve(l, w.bytes.clone()));
    let start = Instant::now();
    // Block rather than drop when its queue is full, so that it counts every
    // event as dialpop's client does.
    let opts = EslConnectOptions::new()
        .with_event_queue_size(1000)
        .with_event_overflow(EventOverflow::BlockFor(Duration::from_secs(3600)));
    let (client, mut events) = EslClient::connect_with_options("127.0.0.1", port, "ClueCon", opts)
        .await
        .expect("freeswitch-esl-tokio connects");
    client
        .subscribe_events(EventFormat::Plain, &[EslEventType::All])
        .await
        .expect("subscribes");
    let mut n = 0;
    while n < w.events {
        match events.recv().await {
            Some(Ok(ev)) => {
                std::hint::black_box(&ev);
                n += 1;
            }
            Some(Err(_)) => {}
            None => panic!("freeswitch-esl-tokio ended after {n} events"),
        }
    }
    let t = start.elapsed();
    let _ = client.disconnect().await;
    server.abort();
    t
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes --bench; ignore other harness flags.
    let events = arg("--events", 100_000);
    let rounds = arg("--rounds", 3).max(1);
    // `--client dialpop` or `--client esl-tokio` runs one side alone (for profiling).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--client")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let run_ours = only.as_deref() != Some("esl-tokio");
    let run_theirs = only.as_deref() != Some("dialpop");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = event_frames(&read_fixture("esl/channel_answer.plain"));
    let mut real = event_frames(&read_fixture("real/freeswitch_answered.txt"));
    real.extend(event_frames(&read_fixture(
        "real/freeswitch_agent_bridge.txt",
    )));
    let workloads = [
        workload("CHANNEL_ANSWER fixture", &answer, events),
        workload("real FreeSWITCH 1.10.12 session events", &real, events),
    ];
    println!("ESL ingest over loopback, {events} events, median of {rounds} rounds");
    println!(
        "{:<40} {:>14} {:>10} {:>14} {:>10} {:>8}",
        "workload", "dialpop ev/s", "MB/s", "esl-tokio ev/s", "MB/s", "ratio"
    );
    let mut report = Vec::new();
    for w in &workloads {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..rounds {
            // Alternate so that drift in the machine's load hits both.
            if run_ours {
                ours.push(rt.block_on(run_dialpop(w)));
            }
            if run_theirs {
                theirs.push(rt.block_on(run_esl_tokio(w)));
            }
        }
        if ours.is_empty() || theirs.is_empty() {
            let (who, times) = if ours.is_empty() {
                ("freeswitch-esl-tokio", theirs)
            } else {
                ("dialpop", ours)
            };
            let t = median(times);
            println!(
                "{:<40} {who}: {:.0} events/s",
                w.name,
                w.events as f64 / t.as_secs_f64()
            );
            continue;
        }
        let (o, t) = (median(ours), median(theirs));
        let mb = w.bytes.len() as f64 / 1e6;
        let (oe, te) = (
            w.events as f64 / o.as_secs_f64(),
            w.events as f64 / t.as_secs_f64(),
        );
        println!(
            "{:<40} {:>14.0} {:>10.1} {:>14.0} {:>10.1} {:>7.1}x",
            w.name,
            oe,
            mb / o.as_secs_f64(),
            te,
            mb / t.as_secs_f64(),
            oe / te
        );
        report.push(serde_json::json!({
            "workload": w.name, "events": w.events, "bytes": w.bytes.len(),
            "dialpop_events_per_s": oe, "esl_tokio_events_per_s": te, "ratio": oe / te,
        }));
    }
    let out = format!("{}/target/esl_ingest.json", env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    );
}
