//! `subscription.*`: who pays for which plan, and how that stands. The payer's name and
//! address are not copied: they live in `users`. The subscription carries its items, which
//! are written by their own versions, with the subscription's id and payer.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use clerk_sync_events::{Event, Subscription};
use serde::Serialize;

use crate::DbError;
use crate::apply::objects::subscription_item;
use crate::apply::staged::newest_wins;
use crate::apply::statement::{Sql, Table};
use crate::apply::{Plan, lock_key, opt_time, time};

pub(crate) const OBJECT: &str = "subscription";

pub(crate) static TABLE: Table = Table {
    name: "subscriptions",
    columns: &[
        "id",
        "payer_id",
        "user_id",
        "organization_id",
        "status",
        "latest_payment_id",
        "active_at",
        "canceled_at",
        "ended_at",
        "past_due_at",
        "created_at",
        "updated_at",
        "last_svix_id",
    ],
    personal: None,
    deletable: None,
};

pub(crate) static UPSERT: LazyLock<Sql> = LazyLock::new(|| TABLE.upsert());

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

pub(crate) fn keys(subscription: &Subscription, keys: &mut Vec<i64>) {
    keys.push(lock_key(OBJECT, &subscription.id));
    for item in &subscription.items {
        subscription_item::keys(&item.id, keys);
    }
}

pub(crate) fn stage<'a>(
    plan: &mut Plan<'a>,
    owner: usize,
    svix_id: &'a str,
    event: &Event,
    subscription: &'a Subscription,
) -> Result<(), DbError> {
    let payer = subscription.payer.as_ref();
    let row = SubscriptionRow {
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
        updated_at: time(
            subscription.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    plan.subscriptions.offer(&subscription.id, row, Some(owner));
    for item in &subscription.items {
        subscription_item::stage(
            plan,
            None,
            svix_id,
            event,
            item,
            Some(&subscription.id),
            payer,
        )?;
    }
    Ok(())
}
