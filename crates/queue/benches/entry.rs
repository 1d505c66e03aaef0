//! Encoding and decoding one stream entry carrying a ~2.5 KB Clerk payload.

#![allow(missing_docs, clippy::unwrap_used)] // criterion generates undocumented items

use std::collections::HashMap;

use clerk_sync_queue::Entry;
use criterion::{Criterion, criterion_group, criterion_main};

fn entry(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/corpus/clerk/user.updated__clerk-openapi-specs.json"
    );
    let payload = std::fs::read(path).expect("corpus payload");
    let entry = Entry {
        svix_id: "msg_2p5jXN8AQM9LWM0D4loKWxJek".into(),
        svix_timestamp: "1700000000".into(),
        event_type: Entry::type_of(&payload),
        payload: payload.clone(),
        received_at: 1_700_000_000_123,
        attempt: 0,
    };
    let map: HashMap<String, Vec<u8>> = entry
        .fields()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_owned()))
        .collect();

    c.bench_function("entry/type_of", |b| {
        b.iter(|| Entry::type_of(std::hint::black_box(&payload)))
    });
    c.bench_function("entry/encode", |b| {
        b.iter(|| std::hint::black_box(&entry).fields())
    });
    c.bench_function("entry/decode", |b| {
        b.iter(|| Entry::from_fields(std::hint::black_box(&map)))
    });
}

criterion_group!(benches, entry);
criterion_main!(benches);
