//! Building the upsert of one 1.7 KB `user.updated` from the corpus: the worker's per-event
//! CPU between parsing and the round trip to PostgreSQL.

#![allow(missing_docs, clippy::unwrap_used)] // criterion generates undocumented items

use criterion::{Criterion, criterion_group, criterion_main};

fn sql(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/corpus/clerk/user.updated__clerk-openapi-specs.json"
    );
    let body = std::fs::read(path).expect("corpus payload");
    let event = clerk_sync_events::parse(&body, 0).unwrap();
    let mut group = c.benchmark_group("db");
    // The floor: serializing the same event's data to JSON text, one allocation per field.
    group.bench_function("baseline_serde_to_vec", |b| {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        b.iter(|| serde_json::to_vec(std::hint::black_box(&value["data"])).unwrap())
    });
    group.bench_function("render_user_upsert", |b| {
        b.iter(|| {
            clerk_sync_db::render_user_upsert(
                std::hint::black_box("msg_2bVgZ0p9fEPqvGYqUHQYNhlvz3R"),
                std::hint::black_box(&event),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sql);
criterion_main!(benches);
