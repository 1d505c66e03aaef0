//! `GET /dead-letters?type=&reason=&q=&before=`: the groups, then a page of the entries
//! matching the filter, newest first; `GET /dead-letters/{entry}`: one entry whole.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use clerk_sync_queue::{DeadLetterFilter, DeadLetterGroup, field};

use super::{Summary, entry_ms, is_entry_id, text_field, time};
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;

/// Entries per page.
const PAGE: usize = 50;
/// Candidates one page looks at, at most, when searching the error text.
const BUDGET: usize = 2_000;
/// Groups shown, at most.
const GROUPS: usize = 200;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Query {
    #[serde(rename = "type")]
    event_type: Option<String>,
    reason: Option<String>,
    q: Option<String>,
    before: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Filter {
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub reason: Option<String>,
    pub q: Option<String>,
}

impl Filter {
    /// Checked fields, as the queue's filter.
    pub fn parse(
        event_type: Option<&str>,
        reason: Option<&str>,
        q: Option<&str>,
    ) -> Result<Self, Failure> {
        Ok(Self {
            event_type: text_field("type", event_type).map_err(Failure::BadInput)?,
            reason: text_field("reason", reason).map_err(Failure::BadInput)?,
            q: text_field("q", q).map_err(Failure::BadInput)?,
        })
    }

    pub fn queue(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            event_type: self.event_type.clone(),
            reason: self.reason.clone(),
            q: self.q.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.event_type.is_none() && self.reason.is_none() && self.q.is_none()
    }

    /// The query string that selects it (no leading `?`).
    pub fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("type", &self.event_type),
            ("reason", &self.reason),
            ("q", &self.q),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Group {
    #[serde(flatten)]
    group: DeadLetterGroup,
    first_seen: Option<u64>,
    last_seen: Option<u64>,
    #[serde(skip)]
    link: String,
}

#[derive(Debug, serde::Serialize)]
pub struct DeadLetters {
    filter: Filter,
    total: u64,
    groups: Vec<Group>,
    entries: Vec<Summary>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct ListPage<'a> {
    me: Option<&'a Identity>,
    v: &'a DeadLetters,
    next_link: Option<String>,
}

impl ListPage<'_> {
    fn when(&self, ms: impl std::borrow::Borrow<Option<u64>>) -> String {
        ms.borrow().map(time).unwrap_or_default()
    }
}

pub async fn list(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    query: Result<web::Query<Query>, actix_web::Error>,
) -> HttpResponse {
    let result = async {
        let query = query
            .map_err(|_| Failure::BadInput("the query string is not of its form".into()))?
            .into_inner();
        let filter = Filter::parse(
            query.event_type.as_deref(),
            query.reason.as_deref(),
            query.q.as_deref(),
        )?;
        let before = query.before.filter(|b| !b.is_empty());
        if before.as_deref().is_some_and(|b| !is_entry_id(b)) {
            return Err(Failure::BadInput("before must be an entry id".into()));
        }
        let dead = &console.0.dead;
        let groups = dead
            .groups(GROUPS)
            .await?
            .into_iter()
            .map(|group| {
                let link = Filter {
                    event_type: Some(group.event_type.clone()),
                    reason: Some(group.reason.clone()),
                    q: None,
                }
                .query();
                Group {
                    first_seen: group.first.as_deref().and_then(entry_ms),
                    last_seen: group.last.as_deref().and_then(entry_ms),
                    group,
                    link,
                }
            })
            .collect();
        let page = dead
            .page(&filter.queue(), before.as_deref(), PAGE, BUDGET)
            .await?;
        let v = DeadLetters {
            total: dead.count().await?,
            groups,
            entries: page.letters.iter().map(Summary::of).collect(),
            next: page.next,
            filter,
        };
        Ok(respond::page(&req, &v, || {
            let next_link = v.next.as_ref().map(|next| {
                let mut query = v.filter.query();
                if !query.is_empty() {
                    query.push('&');
                }
                query
                    .push_str(&serde_urlencoded::to_string([("before", next)]).unwrap_or_default());
                format!("/dead-letters?{query}")
            });
            ListPage {
                me: Some(&me.0),
                v: &v,
                next_link,
            }
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}

#[derive(Debug, serde::Serialize)]
pub struct Entry {
    #[serde(flatten)]
    summary: Summary,
    fields: Vec<(String, String)>,
    payload: serde_json::Value,
    #[serde(skip)]
    pretty: String,
    #[serde(skip)]
    age: String,
}

#[derive(Template)]
#[template(path = "dead_letter.html")]
struct EntryPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Entry,
}

pub async fn show(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    let result = async {
        if !is_entry_id(&id) {
            return Err(Failure::BadInput("not an entry id".into()));
        }
        let letter = console
            .0
            .dead
            .get(&id)
            .await?
            .ok_or_else(|| Failure::NotFound(format!("no dead letter {id}")))?;
        let raw = letter.get(field::PAYLOAD).unwrap_or_default();
        let parsed: Option<serde_json::Value> = serde_json::from_slice(raw).ok();
        let pretty = parsed
            .as_ref()
            .and_then(|p| serde_json::to_string_pretty(p).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
        let summary = Summary::of(&letter);
        let v = Entry {
            age: summary.age(),
            summary,
            fields: letter
                .fields
                .iter()
                .filter(|(k, _)| k != field::PAYLOAD)
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            payload: parsed
                .unwrap_or_else(|| serde_json::Value::String(String::from_utf8_lossy(raw).into())),
            pretty,
        };
        Ok(respond::page(&req, &v, || EntryPage {
            me: Some(&me.0),
            v: &v,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}
