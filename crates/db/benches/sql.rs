//! Building what a batch of 64 1.7 KB `user.updated` events from the corpus sends for the
//! users table (each row from its event, encoded as the statement's one JSON bind): the
//! worker's CPU between parsing and the round trip to PostgreSQL.

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
    // 64 distinct users: the default batch, nothing to reduce.
    let ids: Vec<String> = (0..64).map(|n| format!("user_{n:02}")).collect();
    let events: Vec<clerk_sync_events::Event> = ids
        .iter()
        .map(|id| {
            let mut event = event.clone();
            if let clerk_sync_events::EventData::UserUpserted(user) = &mut event.data {
                user.id.clone_from(id);
            }
            event
        })
        .collect();
    let svix_ids: Vec<String> = (0..64).map(|n| format!("msg_{n:02}")).collect();
    let pending: Vec<clerk_sync_db::Pending<'_>> = events
        .iter()
        .zip(&svix_ids)
        .map(|(event, svix_id)| clerk_sync_db::Pending { svix_id, event })
        .collect();
    group.bench_function("render_user_batch_64", |b| {
        b.iter(|| clerk_sync_db::render_user_batch(std::hint::black_box(&pending)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, sql);
criterion_main!(benches);
