//! One kind's pass: Clerk's list paged and each page compared with the database's rows of
//! its ids (missing and stale objects queued), then the live rows Clerk did not list looked
//! for by id (extras, deleted when Clerk confirms).
//!
//! Memory holds a page, never a table. The ids listed go to `pg_temp.reconcile_listed`, a
//! temporary table of the run's own session (gone with it); the extras' candidates are the
//! live rows not in it, read a page at a time in id order; those Clerk confirms gone go to
//! `pg_temp.reconcile_gone` until the run knows whether it may delete them all.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use clerk_sync_clerk_api::{Kind, Listing, Object};
use clerk_sync_db::{AsyncPgConnection, DbError, Held};
use clerk_sync_queue::{EnqueueError, Entry};
use clerk_sync_runtime::unix_ms;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::RunQueryDsl as _;

use super::checkpoint::Checkpoint;
use super::drift::{self, KindReport};
use super::{Options, Queued, ReconcileError, Reconciler, STRANGERS_AFTER, strangers};
use crate::metrics::refusal;

/// Rows read at a time when looking for extras.
const EXTRAS_PAGE: i64 = 1_000;
/// Users whose memberships are kept while memberships are confirmed gone.
const MEMBERSHIP_LISTS: usize = 1_000;

/// One kind of one run.
pub(super) struct Pass<'r> {
    pub(super) reconciler: &'r Reconciler,
    pub(super) conn: &'r AsyncPgConnection,
    pub(super) kind: Kind,
    pub(super) run: i64,
    pub(super) options: &'r Options,
    pub(super) checkpoint: &'r Checkpoint,
    pub(super) queued: &'r mut Queued,
}

impl Pass<'_> {
    /// The whole pass, from `offset` when resumed part-way.
    pub(super) async fn reconcile(
        &mut self,
        offset: Option<u64>,
        on_page: &mut impl FnMut(Kind, usize, Option<u64>),
    ) -> Result<KindReport, ReconcileError> {
        let schema = self.reconciler.schema;
        let in_database = clerk_sync_db::live_count(self.conn, schema, self.kind).await?;
        let mut found = KindReport::new(self.kind, in_database);
        // A kind resumed part-way did not read its first pages: its extras are not looked for.
        let extras = offset.is_none();
        if extras {
            self.sql(&[
                "CREATE TEMPORARY TABLE IF NOT EXISTS reconcile_listed (id text PRIMARY KEY)",
                "TRUNCATE pg_temp.reconcile_listed",
            ])
            .await?;
        } else {
            found.extras_checked = false;
        }
        self.list(offset, extras, &mut found, on_page).await?;
        if extras {
            self.extras(&mut found).await?;
        }
        Ok(found)
    }

    async fn sql(&self, statements: &[&str]) -> Result<(), ReconcileError> {
        let mut conn = self.conn;
        for statement in statements {
            diesel::sql_query(*statement)
                .execute(&mut conn)
                .await
                .map_err(DbError::from)?;
        }
        Ok(())
    }

    /// Pages Clerk's list, queueing what is missing or stale.
    async fn list(
        &mut self,
        offset: Option<u64>,
        record_listed: bool,
        found: &mut KindReport,
        on_page: &mut impl FnMut(Kind, usize, Option<u64>),
    ) -> Result<(), ReconcileError> {
        let kind = self.kind;
        let mut listing = Listing::new(&self.reconciler.clerk, kind, false);
        if let Some(offset) = offset {
            listing.skip_to(offset);
        }
        let clerk_error = |source| ReconcileError::Clerk {
            what: format!("the {}", kind.plural()),
            source,
        };
        // Repairs wait here until the listing shares an id with the database: a key for
        // another instance would otherwise import that instance's objects. At most
        // STRANGERS_AFTER objects wait.
        let mut deferred: Vec<(String, Vec<u8>)> = Vec::new();
        // A kind resumed part-way was trusted by the run that recorded its progress: progress
        // is recorded only once repairs are queued, and those wait for trust.
        let resumed = offset.is_some();
        let trusted = |found: &KindReport| resumed || found.matched > 0 || found.in_database == 0;
        while let Some(page) = listing.next_page().await.map_err(clerk_error)? {
            let ids: Vec<&str> = page.objects.iter().map(|o| o.id.as_str()).collect();
            let held = self.held_of(&ids, record_listed).await?;
            for object in &page.objects {
                found.in_clerk += 1;
                let Some(repair) = found.classify(object, held.get(&object.id)) else {
                    continue;
                };
                if self.options.dry_run {
                    continue;
                }
                deferred.push(self.repair(object, repair.version));
            }
            on_page(kind, page.objects.len(), listing.total());
            if !trusted(found) {
                if found.in_clerk >= STRANGERS_AFTER {
                    return Err(strangers(kind, found));
                }
                continue;
            }
            self.queue_all(&mut deferred, found).await?;
            if !self.options.dry_run
                && let Some(offset) = listing.offset()
            {
                self.checkpoint.reached(kind, offset).await?;
            }
        }
        if !trusted(found) {
            return Err(strangers(kind, found));
        }
        self.queue_all(&mut deferred, found).await
    }

    /// The database's rows of one page's ids; with `record`, the ids are kept in
    /// `reconcile_listed` too.
    async fn held_of(
        &self,
        ids: &[&str],
        record: bool,
    ) -> Result<HashMap<String, Held>, ReconcileError> {
        let schema = self.reconciler.schema;
        if record {
            let mut conn = self.conn;
            diesel::sql_query(
                "INSERT INTO pg_temp.reconcile_listed SELECT unnest($1) ON CONFLICT DO NOTHING",
            )
            .bind::<Array<Text>, _>(ids)
            .execute(&mut conn)
            .await
            .map_err(DbError::from)?;
        }
        Ok(clerk_sync_db::held_of(self.conn, schema, self.kind, ids).await?)
    }

    /// The event that brings `object` level, under the id it is queued by.
    fn repair(&self, object: &Object, version: i64) -> (String, Vec<u8>) {
        let svix_id = format!(
            "reconcile:{}:{}:{version}:{}",
            self.kind.name(),
            object.id,
            self.run
        );
        (svix_id, object.envelope(self.kind.event_type(), version))
    }

    /// Looks for objects the database holds live that Clerk no longer has, confirms each by
    /// id, and queues their deletion.
    async fn extras(&mut self, found: &mut KindReport) -> Result<(), ReconcileError> {
        self.sql(&[
            "CREATE TEMPORARY TABLE IF NOT EXISTS reconcile_gone \
                 (id text PRIMARY KEY, organization_id text, user_id text)",
            "TRUNCATE pg_temp.reconcile_gone",
        ])
        .await?;
        let mut users = HashMap::new();
        let mut after = String::new();
        loop {
            let rows = clerk_sync_db::live_not_in(
                self.conn,
                self.reconciler.schema,
                self.kind,
                ("reconcile_listed", &after),
                self.run,
                EXTRAS_PAGE,
            )
            .await?;
            let Some((last, _)) = rows.last() else { break };
            after = last.clone();
            for (id, held) in rows {
                if self.gone(&id, &held, &mut users).await? {
                    found.extra.push(&id);
                    self.remember_gone(&id, &held).await?;
                }
            }
        }
        let options = self.options;
        let limit = options
            .max_deletions
            .unwrap_or_else(|| (found.in_database / 10).max(1));
        let kind = self.kind;
        if found.extra.len() > limit {
            found.deletions_refused = true;
            refusal("too_many_deletions");
            tracing::warn!(
                kind = kind.plural(),
                extra = found.extra.len(),
                limit,
                "more objects look deleted in Clerk than a run deletes ({limit}); none deleted. If Clerk really deleted them, run `clerk-sync reconcile --only {} --max-deletions {}`",
                kind.plural(),
                found.extra.len()
            );
            return Ok(());
        }
        if options.dry_run {
            return Ok(());
        }
        let mut after = String::new();
        loop {
            let gone = self.read_gone(&after).await?;
            let Some(last) = gone.last() else { break };
            after = last.id.clone();
            for row in gone {
                let held = Held {
                    updated_at: 0,
                    live: true,
                    member_of: row.organization_id.zip(row.user_id),
                };
                let (event_type, payload) = drift::deletion(kind, &row.id, &held, unix_ms() as i64);
                let svix_id = format!("reconcile:{event_type}:{}:{}", row.id, self.run);
                self.queue(&svix_id, event_type, payload).await?;
                self.record_queued(svix_id).await?;
                found.queued += 1;
            }
        }
        Ok(())
    }

    async fn remember_gone(&self, id: &str, held: &Held) -> Result<(), ReconcileError> {
        let (organization, user) = held.member_of.clone().unzip();
        let mut conn = self.conn;
        diesel::sql_query("INSERT INTO pg_temp.reconcile_gone VALUES ($1, $2, $3)")
            .bind::<Text, _>(id)
            .bind::<Nullable<Text>, _>(organization)
            .bind::<Nullable<Text>, _>(user)
            .execute(&mut conn)
            .await
            .map_err(DbError::from)?;
        Ok(())
    }

    async fn read_gone(&self, after: &str) -> Result<Vec<Gone>, ReconcileError> {
        let mut conn = self.conn;
        Ok(diesel::sql_query(
            "SELECT id, organization_id, user_id FROM pg_temp.reconcile_gone \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind::<Text, _>(after)
        .bind::<BigInt, _>(EXTRAS_PAGE)
        .load(&mut conn)
        .await
        .map_err(DbError::from)?)
    }

    /// Whether Clerk confirms the object is gone: its own 404 by id; a membership, absent
    /// from its user's memberships (a short list read whole), or its user gone. Never
    /// absence from a long paged list, which an object deleted meanwhile can shift past a
    /// live one, and never an answer that is not Clerk's.
    async fn gone(
        &self,
        id: &str,
        held: &Held,
        users: &mut HashMap<String, Option<HashSet<String>>>,
    ) -> Result<bool, ReconcileError> {
        let kind = self.kind;
        let clerk = &self.reconciler.clerk;
        let clerk_error = |source| ReconcileError::Clerk {
            what: format!("{} {id}", kind.name()),
            source,
        };
        match kind {
            Kind::User => Ok(clerk.user(id, None).await.map_err(clerk_error)?.is_none()),
            Kind::Organization => Ok(clerk
                .organization(id, None)
                .await
                .map_err(clerk_error)?
                .is_none()),
            Kind::Membership => {
                let Some((_, user)) = &held.member_of else {
                    return Ok(false);
                };
                if !users.contains_key(user) {
                    let memberships = clerk
                        .memberships_of_user(user, None)
                        .await
                        .map_err(clerk_error)?
                        .map(|list| list.into_iter().map(|m| m.id).collect());
                    // Rows come in id order, not by user: the lists read are a cache, kept
                    // small.
                    if users.len() >= MEMBERSHIP_LISTS {
                        users.clear();
                    }
                    users.insert(user.clone(), memberships);
                }
                Ok(match users.get(user) {
                    Some(Some(memberships)) => !memberships.contains(id),
                    _ => true,
                })
            }
        }
    }

    async fn queue_all(
        &mut self,
        repairs: &mut Vec<(String, Vec<u8>)>,
        found: &mut KindReport,
    ) -> Result<(), ReconcileError> {
        for (svix_id, payload) in repairs.drain(..) {
            self.queue(&svix_id, self.kind.event_type(), payload)
                .await?;
            self.record_queued(svix_id).await?;
            found.queued += 1;
        }
        Ok(())
    }

    async fn record_queued(&mut self, svix_id: String) -> Result<(), ReconcileError> {
        self.queued
            .push(svix_id)
            .await
            .map_err(|e| ReconcileError::Queue(format!("cannot keep the ids queued: {e}")))
    }

    /// Queues one repair as the receiver queues a webhook, waiting while the stream is at its
    /// high-water mark (the workers will catch up) and retrying Redis briefly.
    async fn queue(
        &self,
        svix_id: &str,
        event_type: &str,
        payload: Vec<u8>,
    ) -> Result<(), ReconcileError> {
        let now = unix_ms();
        let entry = Entry {
            svix_id: svix_id.to_owned(),
            svix_timestamp: (now / 1000).to_string(),
            event_type: event_type.to_owned(),
            payload,
            received_at: now,
            attempt: 0,
        };
        let mut failures = 0u32;
        loop {
            match self.reconciler.enqueuer.enqueue(&entry).await {
                Ok(_) => return Ok(()),
                Err(EnqueueError::Full) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(error) if failures < 5 => {
                    failures += 1;
                    tracing::debug!(%error, "cannot queue a repair yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << failures)).await;
                }
                Err(error) => return Err(ReconcileError::Queue(error.to_string())),
            }
        }
    }
}

/// A row of `reconcile_gone`.
#[derive(diesel::QueryableByName)]
struct Gone {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Nullable<Text>)]
    organization_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
}
