//! `subscription.*`: who pays for which plan, and how that stands. The payer's name and
//! address are not copied: they live in `users`. The subscription carries its items, which
//! are written by their own versions, with the subscription's id and payer.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use super::subscription_item::SubscriptionItem;
use crate::DbError;
use crate::apply::object::{Object, Registered as _, Stored};
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;
use crate::apply::{Plan, opt_time};

/// A payer's subscription to a plan.
pub(crate) struct Subscription;

static TABLE: Table = Table::new::<SubscriptionRow<'static>>("subscriptions");

impl Stored for Subscription {
    type Row<'a> = SubscriptionRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct SubscriptionRow<'a> {
    id: &'a str,
    payer_id: Option<&'a str>,
    user_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    status: Option<&'a str>,
    latest_payment_id: Option<&'a str>,
    active_at: Option<DateTime<Utc>>,
    canceled_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    past_due_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(SubscriptionRow);

impl Object for Subscription {
    const NAME: &'static str = "subscription";
    type Source = events::Subscription;
    type Table = Self;

    fn also_locks(subscription: &events::Subscription, keys: &mut Vec<i64>) {
        for item in &subscription.items {
            SubscriptionItem::lock_keys(item, keys);
        }
    }

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        subscription: &'a events::Subscription,
    ) -> Result<SubscriptionRow<'a>, DbError> {
        let payer = subscription.payer.as_ref();
        Ok(SubscriptionRow {
            id: &subscription.id,
            payer_id: payer
                .and_then(|p| p.id.as_deref())
                .or(subscription.payer_id.as_deref()),
            user_id: payer.and_then(|p| p.user()),
            organization_id: payer.and_then(|p| p.organization()),
            status: subscription.status.as_deref(),
            latest_payment_id: subscription.latest_payment_id.as_deref(),
            active_at: opt_time(subscription.active_at, "data.active_at")?,
            canceled_at: opt_time(subscription.canceled_at, "data.canceled_at")?,
            ended_at: opt_time(subscription.ended_at, "data.ended_at")?,
            past_due_at: opt_time(subscription.past_due_at, "data.past_due_at")?,
            created_at: opt_time(subscription.created_at, "data.created_at")?,
            updated_at: Self::version(event, subscription)?,
            last_svix_id: svix_id,
        })
    }

    /// Its items, which leave out the subscription's id and payer there.
    fn stage_carried<'a>(
        plan: &mut Plan<'a>,
        svix_id: &'a str,
        event: &'a Event,
        subscription: &'a events::Subscription,
    ) -> Result<(), DbError> {
        let payer = subscription.payer.as_ref();
        for item in &subscription.items {
            let row =
                SubscriptionItem::row_in(svix_id, event, item, Some(&subscription.id), payer)?;
            SubscriptionItem::rows(plan)
                .upserts
                .offer(&item.id, row, None);
        }
        Ok(())
    }
}
