//! `paymentAttempt.*`.

use chrono::{DateTime, Utc};
use clerk_sync_events::{self as events, Event};
use serde::Serialize;

use crate::DbError;
use crate::apply::object::{Object, Stored};
use crate::apply::opt_time;
use crate::apply::staged::newest_wins;
use crate::apply::table::Table;

/// An attempt to charge a payer.
pub(crate) struct PaymentAttempt;

static TABLE: Table = Table::new::<PaymentRow<'static>>("payment_attempts");

impl Stored for PaymentAttempt {
    type Row<'a> = PaymentRow<'a>;
    const TABLE: &'static Table = &TABLE;
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct PaymentRow<'a> {
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

newest_wins!(PaymentRow);

impl Object for PaymentAttempt {
    const NAME: &'static str = "payment_attempt";
    type Source = events::PaymentAttempt;
    type Table = Self;

    fn row<'a>(
        svix_id: &'a str,
        event: &'a Event,
        attempt: &'a events::PaymentAttempt,
    ) -> Result<PaymentRow<'a>, DbError> {
        let payer = attempt.payer.as_ref();
        let total = attempt.totals.as_ref().and_then(|t| t.grand_total.as_ref());
        Ok(PaymentRow {
            id: &attempt.id,
            payment_id: attempt.payment_id.as_deref(),
            payer_id: payer.and_then(|p| p.id.as_deref()),
            user_id: payer.and_then(|p| p.user()),
            organization_id: payer.and_then(|p| p.organization()),
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
            updated_at: Self::version(event, attempt)?,
            last_svix_id: svix_id,
        })
    }
}
