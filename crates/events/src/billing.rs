//! Clerk Billing: subscriptions, their items (one per plan), and payment attempts. Only what
//! says who pays for which plan, and how that stands, is read; the payer's name and address
//! live in `users`, card details nowhere.

use serde::Deserialize;

use crate::time::{millis, null_as_default};

/// Who pays: a user, or an organization.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct Payer {
    /// `cpayer_…`.
    #[serde(default)]
    pub id: Option<String>,
    /// The paying user, when a user pays.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The paying organization, when one pays (Clerk sends `""` otherwise).
    #[serde(default)]
    pub organization_id: Option<String>,
}

impl Payer {
    /// The user, with Clerk's empty string read as none.
    pub fn user(&self) -> Option<&str> {
        self.user_id.as_deref().filter(|s| !s.is_empty())
    }

    /// The organization, with Clerk's empty string read as none.
    pub fn organization(&self) -> Option<&str> {
        self.organization_id.as_deref().filter(|s| !s.is_empty())
    }
}

/// A subscription: a payer's set of plans.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Subscription {
    /// `csub_…`.
    pub id: String,
    /// `active`, `past_due`, `canceled`, `ended`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Who pays.
    #[serde(default)]
    pub payer: Option<Payer>,
    /// `cpayer_…`, where `payer` is absent.
    #[serde(default)]
    pub payer_id: Option<String>,
    /// The latest payment.
    #[serde(default)]
    pub latest_payment_id: Option<String>,
    /// Its items, whole, as of this event.
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<SubscriptionItem>,
    /// When it became active, ms.
    #[serde(default, deserialize_with = "millis")]
    pub active_at: Option<i64>,
    /// When it was canceled, ms.
    #[serde(default, deserialize_with = "millis")]
    pub canceled_at: Option<i64>,
    /// When it ended, ms.
    #[serde(default, deserialize_with = "millis")]
    pub ended_at: Option<i64>,
    /// When it fell past due, ms.
    #[serde(default, deserialize_with = "millis")]
    pub past_due_at: Option<i64>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// One plan of a subscription, for one period.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SubscriptionItem {
    /// `csub_item_…`.
    pub id: String,
    /// The subscription it belongs to (null inside a subscription's own `items`).
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// `active`, `upcoming`, `ended`, `canceled`, `past_due`, `abandoned`, `incomplete`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Who pays (absent inside a subscription's own `items`).
    #[serde(default)]
    pub payer: Option<Payer>,
    /// `cplan_…`.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The plan, whole.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// `month` or `annual`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Whether the period is a free trial.
    #[serde(default)]
    pub is_free_trial: Option<bool>,
    /// Seats bought, for seat-based plans.
    #[serde(default)]
    pub seats: Option<Seats>,
    /// Period start, ms.
    #[serde(default, deserialize_with = "millis")]
    pub period_start: Option<i64>,
    /// Period end, ms.
    #[serde(default, deserialize_with = "millis")]
    pub period_end: Option<i64>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// A plan, as a subscription item names it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Plan {
    /// `cplan_…`.
    #[serde(default)]
    pub id: Option<String>,
    /// `pro-plan`, …
    #[serde(default)]
    pub slug: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Price per period, in the currency's minor unit.
    #[serde(default)]
    pub amount: Option<i64>,
    /// ISO 4217.
    #[serde(default)]
    pub currency: Option<String>,
}

/// Seats of a seat-based plan.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Seats {
    /// How many.
    #[serde(default)]
    pub quantity: Option<i32>,
}

/// One attempt to collect a payment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PaymentAttempt {
    /// `pa_…`.
    pub id: String,
    /// The payment it is an attempt at.
    #[serde(default)]
    pub payment_id: Option<String>,
    /// `pending`, `paid`, `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// `checkout` or `recurring`.
    #[serde(default)]
    pub charge_type: Option<String>,
    /// Who pays.
    #[serde(default)]
    pub payer: Option<Payer>,
    /// Amounts.
    #[serde(default)]
    pub totals: Option<Totals>,
    /// Why it failed, when it did.
    #[serde(default)]
    pub failed_reason: Option<serde_json::Value>,
    /// When it was paid, ms.
    #[serde(default, deserialize_with = "millis")]
    pub paid_at: Option<i64>,
    /// When it failed, ms.
    #[serde(default, deserialize_with = "millis")]
    pub failed_at: Option<i64>,
    /// The billing date, ms.
    #[serde(default, deserialize_with = "millis")]
    pub billing_date: Option<i64>,
    /// Creation, ms.
    #[serde(default, deserialize_with = "millis")]
    pub created_at: Option<i64>,
    /// Last change, ms.
    #[serde(default, deserialize_with = "millis")]
    pub updated_at: Option<i64>,
}

/// A payment's totals.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Totals {
    /// What is charged, taxes included.
    #[serde(default)]
    pub grand_total: Option<Amount>,
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Amount {
    /// In the currency's minor unit.
    #[serde(default)]
    pub amount: Option<i64>,
    /// ISO 4217.
    #[serde(default)]
    pub currency: Option<String>,
}
