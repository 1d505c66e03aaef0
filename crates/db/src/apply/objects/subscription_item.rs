//! `subscriptionItem.*`; subscription events carry their items too.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::billing::Payer;
use clerk_sync_events::{Event, SubscriptionItem};
use serde::Serialize;

use crate::DbError;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "subscription_item";

pub(crate) static TABLE: Table = Table {
    name: "subscription_items",
    columns: &[
        "id",
        "subscription_id",
        "payer_id",
        "user_id",
        "organization_id",
        "status",
        "plan_id",
        "plan_slug",
        "plan_name",
        "plan_amount",
        "plan_currency",
        "interval",
        "is_free_trial",
        "seats",
        "period_start",
        "period_end",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

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

pub(crate) fn keys(id: &str, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, id));
}

/// Stages the item; inside a subscription it takes the subscription's id and payer, which
/// items there leave out.
pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: Option<usize>,
    svix_id: &'a str,
    event: &Event,
    item: &'a SubscriptionItem,
    subscription_id: Option<&'a str>,
    payer: Option<&'a Payer>,
) -> Result<(), DbError> {
    let plan_of = item.plan.as_ref();
    let row = ItemRow {
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
        updated_at: time(
            item.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    plan.subscription_items.offer(&item.id, row, owner);
    Ok(())
}
