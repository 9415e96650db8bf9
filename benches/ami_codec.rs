//! AMI decoding of the real Asterisk 22 capture, dialpop's codec beside the
//! asterisk-rs-ami crate's public `AmiCodec`, on the same bytes in the same
//! run. Each decodes every packet into its key/value form.

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialpop::switch::ami::{AmiClientCodec, AmiMessage};
use std::hint::black_box;
use tokio_util::codec::Decoder;

fn read(rel: &str) -> Vec<u8> {
    let p = format!("{}/../shared/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The banner once, then the packets of both real sessions, repeated to
/// about 8 MB.
fn stream() -> (Vec<u8>, usize) {
    let mut packets = Vec::new();
    let mut banner = Vec::new();
    for f in [
        "real/asterisk_answered.txt",
        "real/asterisk_agent_bridge.txt",
    ] {
        let d = read(f);
        let cut = d.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        banner = d[..cut].to_vec();
        packets.extend_from_slice(&d[cut..]);
    }
    let per = packets.windows(4).filter(|w| w == b"\r\n\r\n").count();
    let reps = (8 << 20) / packets.len();
    let mut out = banner;
    for _ in 0..reps {
        out.extend_from_slice(&packets);
    }
    (out, per * reps)
}

fn dialpop_decode(bytes: &[u8]) -> usize {
    let mut codec = AmiClientCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut n = 0;
    while let Ok(Some(m)) = codec.decode(&mut buf) {
        if let AmiMessage::Packet(p) = m {
            black_box(p.get("Event"));
            n += 1;
        }
    }
    n
}

fn asterisk_rs_decode(bytes: &[u8]) -> usize {
    let mut codec = asterisk_rs_ami::AmiCodec::new();
    let mut buf = BytesMut::from(bytes);
    let mut n = 0;
    while let Ok(Some(m)) = codec.decode(&mut buf) {
        black_box(&m);
        n += 1;
    }
    n
}

fn bench(c: &mut Criterion) {
    let (bytes, packets) = stream();
    assert_eq!(
        dialpop_decode(&bytes),
        packets,
        "dialpop reads every packet"
    );
    assert_eq!(
        asterisk_rs_decode(&bytes),
        packets,
        "asterisk-rs-ami reads every packet"
    );
    println!("stream: {} bytes, {packets} packets", bytes.len());
    let mut g = c.benchmark_group("asterisk22_capture");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("dialpop", |b| b.iter(|| dialpop_decode(black_box(&bytes))));
    g.bench_function("asterisk_rs_ami_0_8", |b| {
        b.iter(|| asterisk_rs_decode(black_box(&bytes)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
