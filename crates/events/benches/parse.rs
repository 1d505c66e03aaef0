//! Parsing one 1.7 KB Clerk `user.updated` body from the corpus: the worker's per-event CPU
//! before SQL.

#![allow(missing_docs, clippy::unwrap_used)] // criterion generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/corpus/clerk/user.updated__clerk-openapi-specs.json"
    );
    let body = std::fs::read(path).expect("corpus payload");
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Bytes(body.len() as u64));
    // The floor: serde_json reading the same body into an untyped Value.
    group.bench_function("baseline_serde_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(std::hint::black_box(&body)).unwrap())
    });
    group.bench_function("parse_user_updated", |b| {
        b.iter(|| clerk_sync_events::parse(std::hint::black_box(&body), 0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
