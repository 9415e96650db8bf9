//! AMI event ingest over a real loopback socket: dialpop's whole AMI client
//! beside asterisk-rs-ami 0.8's public `AmiCodec` reading the same bytes
//! through a `FramedRead` on the same kind of socket, in the same run.
//! `--events N`, `--rounds R`.

use dialpop::switch::ami::client::{AmiClient, AmiClientConfig, AmiNotice};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn read(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The event packets of the real Asterisk 22 sessions, byte for byte.
fn events() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "real/asterisk_answered.txt",
        "real/asterisk_agent_bridge.txt",
    ] {
        let d = read(f);
        let text = &d[d.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1)..];
        for p in text
            .split_inclusive(|&b| b == b'\n')
            .fold(vec![Vec::new()], |mut acc, line| {
                if let Some(last) = acc.last_mut() {
                    last.extend_from_slice(line);
                }
                if line == b"\r\n" {
                    acc.push(Vec::new());
                }
                acc
            })
        {
            if p.starts_with(b"Event: ") {
                out.push(p);
            }
        }
    }
    out
}

async fn serve(l: TcpListener, payload: Arc<Vec<u8>>) {
    let Ok((mut s, _)) = l.accept().await else {
        return;
    };
    let _ = s.set_nodelay(true);
    let _ = s.write_all(b"Asterisk Call Manager/11.0.0\r\n").await;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    while memchr::memmem::find(&buf, b"\r\n\r\n").is_none() {
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("ActionID: "))
        .unwrap_or("x")
        .to_string();
    let ok =
        format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n");
    let _ = s.write_all(ok.as_bytes()).await;
    for chunk in payload.chunks(1 << 20) {
        if s.write_all(chunk).await.is_err() {
            return;
        }
    }
    let _ = s.read(&mut tmp).await;
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr").to_string();
    (l, a)
}

async fn run_dialpop(payload: Arc<Vec<u8>>, n: usize) -> Duration {
    let (l, addr) = listener().await;
    let server = tokio::spawn(serve(l, payload));
    let start = Instant::now();
    let (client, mut notices) = AmiClient::connect(AmiClientConfig::new(addr, "u", "s"))
        .await
        .expect("login");
    let mut got = 0;
    while got < n {
        match notices.recv().await {
            Some(AmiNotice::Event(p)) => {
                std::hint::black_box(p.get("Event"));
                got += 1;
            }
            Some(_) => {}
            None => panic!("dialpop client ended after {got}"),
        }
    }
    let t = start.elapsed();
    client.shutdown().await;
    server.abort();
    t
}

async fn run_codec(payload: Arc<Vec<u8>>, n: usize) -> Duration {
    let (l, addr) = listener().await;
    let server = tokio::spawn(serve(l, payload));
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.set_nodelay(true);
    s.write_all(b"Action: Login\r\nActionID: 1\r\nUsername: u\r\nSecret: s\r\n\r\n")
        .await
        .expect("login");
    let mut framed =
        tokio_util::codec::FramedRead::with_capacity(s, asterisk_rs_ami::AmiCodec::new(), 1 << 20);
    let mut got = 0;
    // The login response, then the events.
    while got < n + 1 {
        match framed.next().await {
            Some(Ok(m)) => {
                std::hint::black_box(&m);
                got += 1;
            }
            Some(Err(e)) => panic!("asterisk-rs-ami: {e}"),
            None => panic!("asterisk-rs-ami stream ended after {got}"),
        }
    }
    let t = start.elapsed();
    server.abort();
    t
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
    let n = arg("--events", 200_000);
    let rounds = arg("--rounds", 3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let evs = events();
    let mut payload = Vec::new();
    for e in evs.iter().cycle().take(n) {
        payload.extend_from_slice(e);
    }
    let payload = Arc::new(payload);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(rt.block_on(run_dialpop(payload.clone(), n)));
        theirs.push(rt.block_on(run_codec(payload.clone(), n)));
    }
    ours.sort();
    theirs.sort();
    let (o, t) = (ours[ours.len() / 2], theirs[theirs.len() / 2]);
    let mb = payload.len() as f64 / 1e6;
    println!(
        "AMI ingest over loopback, {n} real Asterisk 22 events ({mb:.1} MB), median of {rounds}"
    );
    println!(
        "dialpop client: {:.0} events/s, {:.0} MB/s | asterisk-rs-ami AmiCodec (FramedRead): {:.0} events/s, {:.0} MB/s | ratio {:.1}x",
        n as f64 / o.as_secs_f64(),
        mb / o.as_secs_f64(),
        n as f64 / t.as_secs_f64(),
        mb / t.as_secs_f64(),
        t.as_secs_f64() / o.as_secs_f64()
    );
}
