//! Codec throughput on the CHANNEL_ANSWER fixture, as one frame and as a
//! stream of 10,000, beside a plain scan of the same bytes for line ends
//! (the floor no parser can beat) measured in the same run.

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialpop::switch::esl::{EslClientCodec, EslMessage};
use std::hint::black_box;
use tokio_util::codec::Decoder;

fn fixture() -> Vec<u8> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/esl/channel_answer.plain"
    );
    std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Decodes every frame and parses every event body, as the client does.
fn decode_all(bytes: &[u8]) -> usize {
    let mut codec = EslClientCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut n = 0;
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        if let Ok(EslMessage::Event(ev)) = EslMessage::from_frame(frame) {
            black_box(ev.name());
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let one = fixture();
    let stream: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 10_000)
        .collect();

    let mut g = c.benchmark_group("channel_answer_frame");
    g.throughput(Throughput::Bytes(one.len() as u64));
    g.bench_function("dialpop_decode_and_parse", |b| {
        b.iter(|| decode_all(black_box(&one)))
    });
    g.bench_function("baseline_line_scan", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&one)).count())
    });
    g.finish();

    let mut g = c.benchmark_group("channel_answer_stream_10000");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("dialpop_decode_and_parse", |b| {
        b.iter(|| assert_eq!(decode_all(black_box(&stream)), 10_000))
    });
    g.bench_function("baseline_line_scan", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&stream)).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
