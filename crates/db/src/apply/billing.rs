//! `subscription.*`, `subscriptionItem.*`, `paymentAttempt.*`: who pays for which plan, and
//! how that stands. The payer's name and address are not copied: they live in `users`.

use chrono::{DateTime, Utc};
use clerk_sync_events::billing::Payer;
use clerk_sync_events::{Event, PaymentAttempt, Subscription, SubscriptionItem};
use diesel::Insertable;
use diesel_async::AsyncPgConnection;

use super::versioned::upsert_newer;
use super::{Outcome, opt_time, time};
use crate::DbError;
use crate::schema::{payment_attempts, subscription_items, subscriptions};

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
struct SubscriptionRow<'a> {
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

/// The subscription, then each of its items by their own versions, with the subscription's
/// id and payer, which items inside a subscription leave out.
pub(super) async fn upsert_subscription(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    subscription: &Subscription,
) -> Result<Outcome, DbError> {
    let payer = subscription.payer.clone().unwrap_or_default();
    let row = SubscriptionRow {
        id: &subscription.id,
        payer_id: payer.id.as_deref().or(subscription.payer_id.as_deref()),
        user_id: payer.user(),
        organization_id: payer.organization(),
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
    let written = upsert_newer!(&mut conn, subscriptions, &row);
    for item in &subscription.items {
        upsert_item_of(conn, svix_id, event, item, Some(&subscription.id), &payer).await?;
    }
    Ok(Outcome::written(written))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = subscription_items, treat_none_as_null = true)]
struct ItemRow<'a> {
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

pub(super) async fn upsert_item(
    conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    item: &SubscriptionItem,
) -> Result<Outcome, DbError> {
    let payer = item.payer.clone().unwrap_or_default();
    upsert_item_of(conn, svix_id, event, item, None, &payer).await
}

async fn upsert_item_of(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    item: &SubscriptionItem,
    subscription_id: Option<&str>,
    payer: &Payer,
) -> Result<Outcome, DbError> {
    let plan = item.plan.as_ref();
    let row = ItemRow {
        id: &item.id,
        subscription_id: item.subscription_id.as_deref().or(subscription_id),
        payer_id: payer.id.as_deref(),
        user_id: payer.user(),
        organization_id: payer.organization(),
        status: item.status.as_deref(),
        plan_id: item
            .plan_id
            .as_deref()
            .or(plan.and_then(|p| p.id.as_deref())),
        plan_slug: plan.and_then(|p| p.slug.as_deref()),
        plan_name: plan.and_then(|p| p.name.as_deref()),
        plan_amount: plan.and_then(|p| p.amount),
        plan_currency: plan.and_then(|p| p.currency.as_deref()),
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
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        subscription_items,
        &row
    )))
}

#[derive(Insertable, diesel::AsChangeset)]
#[diesel(table_name = payment_attempts, treat_none_as_null = true)]
struct PaymentRow<'a> {
    id: &'a str,
    payment_id: Option<&'a str>,
    payer_id: Option<&'a str>,
    user_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    status: Option<&'a str>,
    charge_type: Option<&'a str>,
    amount: Option<i64>,
    currency: Option<&'a str>,
    failed_reason: Option<String>,
    paid_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    billing_date: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    last_svix_id: &'a str,
}

pub(super) async fn upsert_payment_attempt(
    mut conn: &AsyncPgConnection,
    svix_id: &str,
    event: &Event,
    attempt: &PaymentAttempt,
) -> Result<Outcome, DbError> {
    let payer = attempt.payer.clone().unwrap_or_default();
    let total = attempt.totals.as_ref().and_then(|t| t.grand_total.as_ref());
    let row = PaymentRow {
        id: &attempt.id,
        payment_id: attempt.payment_id.as_deref(),
        payer_id: payer.id.as_deref(),
        user_id: payer.user(),
        organization_id: payer.organization(),
        status: attempt.status.as_deref(),
        charge_type: attempt.charge_type.as_deref(),
        amount: total.and_then(|t| t.amount),
        currency: total.and_then(|t| t.currency.as_deref()),
        failed_reason: attempt
            .failed_reason
            .as_ref()
            .and_then(|reason| match reason {
                serde_json::Value::Null => None,
                serde_json::Value::String(text) => Some(text.clone()),
                other => Some(other.to_string()),
            }),
        paid_at: opt_time(attempt.paid_at, "data.paid_at")?,
        failed_at: opt_time(attempt.failed_at, "data.failed_at")?,
        billing_date: opt_time(attempt.billing_date, "data.billing_date")?,
        created_at: opt_time(attempt.created_at, "data.created_at")?,
        updated_at: time(
            attempt.updated_at.unwrap_or(event.timestamp),
            "data.updated_at",
        )?,
        last_svix_id: svix_id,
    };
    Ok(Outcome::written(upsert_newer!(
        &mut conn,
        payment_attempts,
        &row
    )))
}
