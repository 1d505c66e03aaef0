//! The advisory locks a batch takes on the objects it writes.

use std::sync::LazyLock;

use sha2::{Digest as _, Sha256};

use super::statement::{Sql, Tx, encode};
use crate::DbError;

/// The advisory-lock key of one object. A hash collision only makes two objects queue on
/// each other, never a wrong write. SHA-256 rather than `std`'s hasher, because every
/// worker version in a rolling deploy must compute the same key.
pub fn lock_key(object_type: &str, id: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(object_type.as_bytes())
        .chain_update(b":")
        .chain_update(id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Takes every key, sorted, in one statement: `json_array_elements_text` keeps the array's
/// order, and a volatile function in the target list runs row by row in that order.
static ACQUIRE: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(
        "SELECT pg_advisory_xact_lock(k::bigint)::text \
         FROM json_array_elements_text($1::json) AS t(k)",
    )
});

/// Takes every key, sorted; held until the transaction ends.
pub(super) async fn acquire(tx: Tx<'_>, keys: &mut Vec<i64>) -> Result<(), DbError> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    ACQUIRE.bind(encode(keys)?).written(tx).await?;
    Ok(())
}
