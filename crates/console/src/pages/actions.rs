//! `POST /dead-letters/replay` and `POST /dead-letters/purge`: without `confirm=yes`, the
//! plan (how many match, the first of them) and nothing changes; with it, each entry moved
//! or deleted by the same atomic script as `clerk-sync dlq replay` (`purge`), an audit row
//! written, and 303 to the result. A confirmed filter acts only on entries up to the newest
//! the plan showed (`through`), so what arrived since is left for another look.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::dead_letters::Filter;
use super::{Summary, is_entry_id};
use crate::auth::Identity;
use crate::extract::Actor;
use crate::respond::{self, Failure};
use crate::state::Console;

/// Entries named one by one, at most.
const MAX_ENTRIES: usize = 1_000;
/// Entries the plan shows.
const SHOWN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Replay,
    Purge,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Purge => "purge",
        }
    }
}

/// What the form asked for.
#[derive(Debug, Default)]
struct Request {
    filter: Filter,
    entries: Vec<String>,
    confirm: bool,
    through: Option<String>,
}

fn parse(body: &[u8]) -> Result<Request, Failure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Failure::BadInput("the form is not URL-encoded text".into()))?;
    let mut request = Request::default();
    let (mut kind, mut reason, mut q) = (None, None, None);
    for (name, value) in pairs {
        let once = |slot: &mut Option<String>| {
            if slot.is_some() {
                return Err(Failure::BadInput(format!("{name} is given twice")));
            }
            *slot = Some(value.clone());
            Ok(())
        };
        match name.as_str() {
            "type" => once(&mut kind)?,
            "reason" => once(&mut reason)?,
            "q" => once(&mut q)?,
            "through" => once(&mut request.through)?,
            "confirm" => request.confirm = value == "yes",
            "entry" => {
                let value = value.trim();
                if value.is_empty() {
                    continue;
                }
                if !is_entry_id(value) {
                    return Err(Failure::BadInput("entry must be a dead letter's id".into()));
                }
                if request.entries.len() == MAX_ENTRIES {
                    return Err(Failure::BadInput(format!(
                        "at most {MAX_ENTRIES} entries at once; use a filter for more"
                    )));
                }
                request.entries.push(value.to_owned());
            }
            // A token in a form field would be logged by nobody, but is refused all the same.
            _ => return Err(Failure::BadInput(format!("unknown field {name}"))),
        }
    }
    request.filter = Filter::parse(kind.as_deref(), reason.as_deref(), q.as_deref())?;
    if request.through.as_deref().is_some_and(|t| !is_entry_id(t)) {
        return Err(Failure::BadInput("through must be an entry id".into()));
    }
    if !request.entries.is_empty() && !request.filter.is_empty() {
        return Err(Failure::BadInput(
            "name entries or give a filter, not both".into(),
        ));
    }
    request.entries.sort();
    request.entries.dedup();
    Ok(request)
}

#[derive(Debug, serde::Serialize)]
pub struct Plan {
    action: Action,
    filter: Filter,
    entries: Vec<String>,
    count: usize,
    first: Vec<Summary>,
    through: Option<String>,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Plan,
}

pub async fn replay(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Actor,
    body: web::Bytes,
) -> HttpResponse {
    let result = act(&req, &console, &me.0, Action::Replay, &body).await;
    respond::outcome(&req, &me.0, result)
}

pub async fn purge(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Actor,
    body: web::Bytes,
) -> HttpResponse {
    let result = act(&req, &console, &me.0, Action::Purge, &body).await;
    respond::outcome(&req, &me.0, result)
}

async fn act(
    req: &HttpRequest,
    console: &Console,
    me: &Identity,
    action: Action,
    body: &[u8],
) -> Result<HttpResponse, Failure> {
    let request = parse(body)?;
    let dead = &console.0.dead;
    let by_filter = request.entries.is_empty();
    let ids = if by_filter {
        dead.matching(&request.filter.queue(), request.through.as_deref())
            .await?
    } else {
        request.entries.clone()
    };
    if !request.confirm {
        let mut first = Vec::new();
        for id in ids.iter().take(SHOWN) {
            if let Some(letter) = dead.get(id).await? {
                first.push(Summary::of(&letter));
            }
        }
        let plan = Plan {
            action,
            count: ids.len(),
            through: if by_filter {
                ids.first().cloned()
            } else {
                None
            },
            filter: request.filter,
            entries: request.entries,
            first,
        };
        return Ok(respond::page(req, &plan, || PlanPage {
            me: Some(me),
            v: &plan,
        }));
    }
    let mut moved = 0_u64;
    let mut failure = None;
    for id in &ids {
        let step = match action {
            Action::Replay => dead.replay(id).await.map(|new| new.is_some()),
            Action::Purge => dead.purge(id).await,
        };
        match step {
            Ok(true) => moved += 1,
            Ok(false) => {}
            Err(error) => {
                // What moved stays moved, each entry atomically; the rest are untouched.
                failure = Some(error.to_string());
                break;
            }
        }
    }
    let target = if by_filter {
        json!({"filter": request.filter, "through": request.through})
    } else {
        json!({"entries": request.entries})
    };
    let outcome = failure
        .as_deref()
        .map_or("done".to_owned(), |e| format!("stopped: {e}"));
    tracing::info!(
        token = %me.label,
        action = action.name(),
        target = %target,
        affected = moved,
        outcome = %outcome,
        "console action"
    );
    let audit = console
        .audit(&me.label, action.name(), &target, moved, &outcome)
        .await?;
    Ok(respond::see_other(&format!("/audit/{audit}")))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_form_is_checked_field_by_field() {
        let r = parse(b"entry=1-0&entry=2-0&entry=1-0&confirm=yes").unwrap();
        assert_eq!(r.entries, ["1-0", "2-0"]);
        assert!(r.confirm);
        let r = parse(b"type=user.created&reason=gave+up").unwrap();
        assert_eq!(r.filter.reason.as_deref(), Some("gave up"));
        for bad in [
            &b"entry=not-an-id"[..],
            b"type=a&type=b",
            b"entry=1-0&type=x",
            b"token=secret",
            b"q=a%00b",
            b"through=x",
            b"%ff%fe=1",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!("q={}", "a".repeat(300));
        assert!(parse(long.as_bytes()).is_err());
    }
}
