//! `POST /objects/{id}/sync`: "sync now", the forced refresh `clerk-sync sync` and the
//! application API make: the object fetched from Clerk's Backend API, under the pinned
//! instance and the process's budget, and applied through the webhook path (an older state
//! changes nothing, a deleted object stays deleted); audited, then 303 to the audit row.
//! Only where a Backend API key is set, and only for the kinds fetched by id.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use clerk_sync_events::Kind;
use serde_json::json;
use tokio::time::Instant;

use crate::extract::Actor;
use crate::respond::{self, Failure};
use crate::state::Console;

/// How long one refresh may take, Clerk's rate limit included, before it gives up.
const DEADLINE: Duration = Duration::from_secs(15);

/// The kind an id names, where Clerk can be asked for it by id.
pub(crate) fn fetchable(id: &str) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|kind| kind.fetched_by_id() && kind.is_valid_id(id))
}

pub async fn sync(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Actor,
    path: web::Path<String>,
) -> HttpResponse {
    let result = async {
        let id = path.into_inner();
        let syncer = console.0.syncer.clone().ok_or_else(|| {
            Failure::NotFound("sync needs a Backend API key (CLERK_SECRET_KEY)".into())
        })?;
        let kind = fetchable(&id).ok_or_else(|| {
            Failure::BadInput(
                "only a user (user_…) or an organization (org_…) can be synced".into(),
            )
        })?;
        let refreshed = syncer
            .refresh(kind, &id, Some(Instant::now() + DEADLINE))
            .await;
        let (affected, outcome) = match &refreshed {
            Ok(Some(_)) => (1, "applied".to_owned()),
            Ok(None) => (0, "Clerk does not have it, or it was deleted".to_owned()),
            Err(error) => (0, format!("failed: {error}")),
        };
        let target = json!({"id": id});
        tracing::info!(
            token = %me.0.label,
            action = "sync",
            target = %target,
            affected,
            outcome = %outcome,
            "console action"
        );
        let audit = console
            .audit(&me.0.label, "sync", &target, affected, &outcome)
            .await?;
        match refreshed {
            Ok(_) => Ok(respond::see_other(&format!("/audit/{audit}"))),
            Err(error) => Err(Failure::Unavailable(error.to_string())),
        }
    }
    .await;
    respond::outcome(&req, &me.0, result)
}
