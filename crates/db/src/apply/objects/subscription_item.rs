//! `subscriptionItem.*`; subscription events carry their items too.

use chrono::{DateTime, Utc};
use clerk_sync_events::billing::Payer;
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::opt_time;
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;

/// One plan of a subscription.
pub(crate) struct SubscriptionItem;

static TABLE: Table = Table::new::<ItemRow<'static>>("subscription_items");

impl Stored for SubscriptionItem {
    type Row<'a> = ItemRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ItemRow<'a> {
    id: &'a str,
    subscription_id: Option<&'a str>,
    payer_id: Option<&'a str>,
    user_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    status: Option<&'a str>,
    plan_id: Option<&'a str>,
    plan_slug: Option<&'a str>,
    plan_name: Option<&'a str>,
    plan_amount: Option<i64>,
    plan_currency: Option<&'a str>,
    interval: Option<&'a str>,
    is_free_trial: Option<bool>,
    seats: Option<i32>,
    period_start: Option<DateTime<Utc>>,
    period_end: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

newest_wins!(ItemRow);

impl SubscriptionItem {
    /// The item's row; inside a subscription it takes the subscription's id and payer,
    /// which items there leave out.
    pub(crate) fn row_in<'a>(
        svix_id: &'a str,
        event: &'a Event,
        item: &'a events::SubscriptionItem,
        subscription_id: Option<&'a str>,
        payer: Option<&'a Payer>,
    ) -> Result<ItemRow<'a>, DbError> {
        let plan_of = item.plan.as_ref();
        Ok(ItemRow {
            id: &item.id,
            subscription_id: item.subscription_id.as_deref().or(subscription_id),
            payer_id: payer.and_then(|p| p.id.as_deref()),
            user_id: payer.and_then(|p| p.user()),
            organization_id: payer.and_then(|p| p.organization()),
            status: item.status.as_deref(),
            plan_id: item
                .plan_id
                .as_deref()
                .or(plan_of.and_then(|p| p.id.as_deref())),
            plan_slug: plan_of.and_then(|p| p.slug.as_deref()),
            plan_name: plan_of.and_then(|p| p.name.as_deref()),
            plan_amount: plan_of.and_then(|p| p.amount),
            plan_currency: plan_of.and_then(|p| p.currency.as_deref()),
            interval: item.interval.as_deref(),
            is_free_trial: item.is_free_trial,
            seats: item.seats.as_ref().and_then(|s| s.quantity),
            period_start: opt_time(item.period_start, "data.period_start")?,
            period_end: opt_time(item.period_end, "data.period_end")?,
            created_at: opt_time(item.created_at, "data.created_at")?,
            updated_at: Self::version(event, item)?,
            last_svix_id: svix_id,
        })
    }
}

impl Object for SubscriptionItem {
    const NAME: &'static str = "subscription_item";
    type Source = events::SubscriptionItem;
    type Table = Self;

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        item: &'a events::SubscriptionItem,
    ) -> Result<ItemRow<'a>, DbError> {
        Self::row_in(svix_id, event, item, None, item.payer.as_ref())
    }
}
