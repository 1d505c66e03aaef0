use clerk_sync_events::{Event, EventData};
use diesel::sql_types::{Array, BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest as _, Sha256};

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

/// The objects an event's effect reads or writes. Events that touch what a user's deletion
/// erases (sessions, messages, accepted invitations) take the user's key too, so a deletion
/// and such an event never interleave.
pub(super) fn keys(event: &Event) -> Vec<i64> {
    use EventData as D;
    let user = |id: &str| lock_key("user", id);
    match &event.data {
        D::UserUpserted(u) => vec![user(&u.id)],
        D::UserDeleted(d) => vec![user(&d.id)],
        D::SessionUpserted(s) => vec![user(&s.user_id), lock_key("session", &s.id)],
        D::OrganizationUpserted(o) => vec![lock_key("organization", &o.id)],
        D::OrganizationDeleted(d) => vec![lock_key("organization", &d.id)],
        D::MembershipUpserted(m) | D::MembershipDeleted(m) => vec![
            lock_key("organization", &m.organization.id),
            lock_key("membership", &m.id),
        ],
        D::InvitationUpserted(i) => {
            let mut keys = vec![lock_key("invitation", &i.id)];
            keys.extend(i.user_id.as_deref().map(user));
            keys
        }
        D::DomainUpserted(d) => vec![lock_key("domain", &d.id)],
        D::DomainDeleted(d) => vec![lock_key("domain", &d.id)],
        D::RoleUpserted(r) => {
            let mut keys = vec![lock_key("role", &r.id)];
            keys.extend(r.permissions.iter().map(|p| lock_key("permission", &p.id)));
            keys
        }
        D::RoleDeleted(d) => vec![lock_key("role", &d.id)],
        D::PermissionUpserted(p) => vec![lock_key("permission", &p.id)],
        D::PermissionDeleted(d) => vec![lock_key("permission", &d.id)],
        D::MessageCreated(_, m) => {
            let mut keys = vec![lock_key("message", &m.id)];
            keys.extend(m.user_id.as_deref().map(user));
            keys
        }
        D::WaitlistEntryUpserted(w) => vec![lock_key("waitlist_entry", &w.id)],
        D::SubscriptionUpserted(s) => {
            let mut keys = vec![lock_key("subscription", &s.id)];
            keys.extend(s.items.iter().map(|i| lock_key("subscription_item", &i.id)));
            keys
        }
        D::SubscriptionItemUpserted(i) => vec![lock_key("subscription_item", &i.id)],
        D::PaymentAttemptUpserted(p) => vec![lock_key("payment_attempt", &p.id)],
        D::Unhandled => Vec::new(),
    }
}

/// Takes every key, sorted, in one statement; held until the transaction ends.
pub(super) async fn acquire(
    mut conn: &AsyncPgConnection,
    keys: &mut Vec<i64>,
) -> Result<(), DbError> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // unnest keeps the array's order, and a volatile function in the target list runs row
    // by row in that order, so the keys are taken sorted.
    diesel::sql_query("SELECT pg_advisory_xact_lock(k) FROM unnest($1) AS t(k)")
        .bind::<Array<BigInt>, _>(&*keys)
        .execute(&mut conn)
        .await?;
    Ok(())
}
