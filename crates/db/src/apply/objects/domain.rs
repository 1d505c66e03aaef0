//! `organizationDomain.*`.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Deleted, Domain, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "organization_domain";
/// Its advisory-lock keys' namespace: every worker of a rolling deploy must compute the
/// same keys, so this never changes.
const LOCK: &str = "domain";

pub(crate) static TABLE: Table = Table {
    name: "organization_domains",
    columns: &[
        "id",
        "organization_id",
        "name",
        "enrollment_mode",
        "affiliation_email_address",
        "verification_status",
        "verification_strategy",
        "total_pending_invitations",
        "total_pending_suggestions",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: Some(OBJECT),
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());
pub(crate) static DELETE: LazyLock<Sql> = LazyLock::new(|| TABLE.mark_deleted(&[]));

#[derive(Debug, Default, Serialize)]
pub(crate) struct DomainRow<'a> {
    id: &'a str,
    organization_id: Option<&'a str>,
    name: Option<&'a str>,
    enrollment_mode: Option<&'a str>,
    affiliation_email_address: Option<&'a str>,
    verification_status: Option<&'a str>,
    verification_strategy: Option<&'a str>,
    total_pending_invitations: Option<i32>,
    total_pending_suggestions: Option<i32>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(DomainRow);

pub(crate) fn keys(id: &str, keys: &mut Vec<i64>) {
    keys.push(lock_key(LOCK, id));
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    domain: &'a Domain,
) -> Result<(), DbError> {
    let verification = domain.verification.as_ref();
    let row = DomainRow {
        id: &domain.id,
        organization_id: Some(&domain.organization_id),
        name: domain.name.as_deref(),
        enrollment_mode: domain.enrollment_mode.as_deref(),
        affiliation_email_address: domain.affiliation_email_address.as_deref(),
        verification_status: verification.and_then(|v| v.status.as_deref()),
        verification_strategy: verification.and_then(|v| v.strategy.as_deref()),
        total_pending_invitations: domain.total_pending_invitations,
        total_pending_suggestions: domain.total_pending_suggestions,
        created_at: opt_time(domain.created_at, "data.created_at")?,
        updated_at: time(
            domain.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    plan.domains.offer(&domain.id, row, Some(owner));
    Ok(())
}

pub(crate) fn stage_deletion<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    deleted: &'a Deleted,
) -> Result<(), DbError> {
    plan.domain_deletions
        .delete(owner, svix_id, event, &deleted.id)
}
