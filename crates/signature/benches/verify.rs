//! Verification of one ~2.5 KB Clerk `user.created` delivery: the receiver's per-request CPU.

#![allow(missing_docs, clippy::unwrap_used)] // criterion generates undocumented items

use clerk_sync_signature::{SigningSecret, Verifier, WebhookHeaders, sign};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/corpus/clerk/user.created__clerk-openapi-specs.json"
    );
    let body = std::fs::read(path).expect("corpus payload");
    let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
    let signature = sign(
        &secret,
        "msg_2p5jXN8AQM9LWM0D4loKWxJek",
        1_700_000_000,
        &body,
    );
    let verifier = Verifier::new(secret.into(), 300);
    let headers = WebhookHeaders {
        id: "msg_2p5jXN8AQM9LWM0D4loKWxJek",
        timestamp_raw: "1700000000",
        timestamp: Some(1_700_000_000),
        signature: &signature,
    };

    let mut group = c.benchmark_group("signature");
    group.throughput(Throughput::Bytes(body.len() as u64));
    // The floor: one HMAC-SHA256 over the same signed content, nothing else. verify's cost
    // over it is header parsing, base64 and the constant-time comparison.
    group.bench_function("baseline_hmac_sha256", |b| {
        use hmac::Mac as _;
        b.iter(|| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret_key()).unwrap();
            mac.update(b"msg_2p5jXN8AQM9LWM0D4loKWxJek.1700000000.");
            mac.update(std::hint::black_box(&body));
            mac.finalize()
        })
    });
    group.bench_function("verify_user_created", |b| {
        b.iter(|| verifier.verify(&headers, std::hint::black_box(&body), 1_700_000_000))
    });
    group.finish();
}

fn secret_key() -> &'static [u8] {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        secret.key().to_vec()
    })
}

criterion_group!(benches, verify);
criterion_main!(benches);
