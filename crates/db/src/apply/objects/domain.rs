//! `organizationDomain.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Deleted, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Deletable, Object, Stored};
use crate::apply::opt_time;
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;

/// A domain of an organization, by which its members may join.
pub(crate) struct Domain;

static TABLE: Table =
    Table::new::<DomainRow<'static>>("organization_domains").deletable(Domain::NAME, &[]);

impl Stored for Domain {
    type Row<'a> = DomainRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

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

impl Object for Domain {
    const NAME: &'static str = "organization_domain";
    const LOCK: &'static str = "domain";
    type Source = events::Domain;
    type Table = Self;

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        domain: &'a events::Domain,
    ) -> Result<DomainRow<'a>, DbError> {
        let verification = domain.verification.as_ref();
        Ok(DomainRow {
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
            updated_at: Self::version(event, domain)?,
            last_svix_id: svix_id,
        })
    }
}

impl Deletable for Domain {
    type Deletion = Deleted;

    fn deleted_id(deleted: &Deleted) -> &str {
        &deleted.id
    }
}
