//! `GET /objects?q=` and `GET /objects/{id}`: one object's whole story. The search takes a
//! Clerk id, an `svix_id` or an email address; the story is the object's rows, its
//! `processed_webhooks`, its `sync_changes`, and any dead letter (through the index), retry
//! or queued entry naming it (in a bounded window of the soonest retries and oldest
//! entries).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use clerk_sync_queue::{DeadLetterFilter, field, redis};

use super::retries::Retry;
use super::{Summary, text_field};
use crate::auth::Identity;
use crate::extract::Viewer;
use crate::respond::{self, Failure};
use crate::state::Console;
use crate::store::Story;

/// Retry and stream entries looked at for an object, at most.
const WINDOW: isize = 500;

#[derive(Debug, serde::Deserialize)]
pub struct Query {
    q: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Search {
    q: String,
    found: Vec<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    me: Option<&'a Identity>,
    v: &'a Search,
}

pub async fn search(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    query: Result<web::Query<Query>, actix_web::Error>,
) -> HttpResponse {
    let result = async {
        let q = query
            .map_err(|_| Failure::BadInput("the query string is not of its form".into()))?
            .into_inner()
            .q;
        let q = text_field("q", q.as_deref())
            .map_err(Failure::BadInput)?
            .unwrap_or_default();
        let mut found = if q.is_empty() {
            Vec::new()
        } else {
            console.resolve(&q).await?
        };
        found.sort();
        found.dedup();
        // An svix_id or an email naming one object, or a Clerk id itself: its story.
        if !q.is_empty() && found.len() <= 1 && !respond::wants_json(&req) {
            let id = found.first().cloned().unwrap_or(q);
            let path = format!("/objects/{}", encode(&id));
            return Ok(respond::see_other(&path));
        }
        let v = Search { q, found };
        Ok(respond::page(&req, &v, || SearchPage {
            me: Some(&me.0),
            v: &v,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}

/// A path segment, percent-encoded.
fn encode(segment: &str) -> String {
    serde_urlencoded::to_string([("", segment)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .replace('+', "%20")
}

#[derive(Debug, serde::Serialize)]
pub struct Queued {
    entry: String,
    #[serde(rename = "type")]
    event_type: String,
    svix_id: String,
}

#[derive(Debug, serde::Serialize)]
pub struct ObjectStory {
    id: String,
    #[serde(flatten)]
    story: Story,
    dead_letters: Vec<Summary>,
    retries: Vec<Retry>,
    queued: Vec<Queued>,
    /// Whether "sync now" is offered: a Backend API key is set and Clerk serves this id.
    can_sync: bool,
}

#[derive(Template)]
#[template(path = "object.html")]
struct StoryPage<'a> {
    me: Option<&'a Identity>,
    v: &'a ObjectStory,
}

impl StoryPage<'_> {
    fn pretty(&self, value: &serde_json::Value) -> String {
        serde_json::to_string_pretty(value).unwrap_or_default()
    }
    fn cell(&self, row: &serde_json::Value, name: &str) -> String {
        super::cell(row, name)
    }
}

pub async fn story(
    req: HttpRequest,
    console: web::Data<Console>,
    me: Viewer,
    path: web::Path<String>,
) -> HttpResponse {
    let result = async {
        let id = text_field("id", Some(&path))
            .map_err(Failure::BadInput)?
            .ok_or_else(|| Failure::BadInput("an id is required".into()))?;
        let story = console.story(&id).await?;
        let dead = console
            .0
            .dead
            .page(
                &DeadLetterFilter {
                    q: Some(id.clone()),
                    ..DeadLetterFilter::default()
                },
                None,
                50,
                200,
            )
            .await?;
        let state = &console.0;
        let mut conn = state
            .redis
            .get()
            .await
            .map_err(clerk_sync_queue::QueueError::from)?;
        let (retries, queued): (Vec<(String, f64)>, redis::streams::StreamRangeReply) =
            redis::pipe()
                .zrange_withscores(state.keys.retry(), 0, WINDOW - 1)
                .xrange_count(state.keys.events(), "-", "+", WINDOW)
                .query_async(&mut *conn)
                .await
                .map_err(clerk_sync_queue::QueueError::from)?;
        let names = |payload: &str| names_object(payload, &id);
        let v = ObjectStory {
            dead_letters: dead.letters.iter().map(Summary::of).collect(),
            retries: retries
                .iter()
                .filter(|(member, _)| {
                    serde_json::from_str::<serde_json::Value>(member)
                        .ok()
                        .and_then(|v| v["payload"].as_str().map(&names))
                        .unwrap_or(false)
                })
                .map(|(member, score)| Retry::parse(member, *score))
                .collect(),
            queued: queued
                .ids
                .iter()
                .filter_map(|entry| {
                    let text =
                        |name: &str| -> String { entry.get::<String>(name).unwrap_or_default() };
                    names(&text(field::PAYLOAD)).then(|| Queued {
                        entry: entry.id.clone(),
                        event_type: text(field::TYPE),
                        svix_id: text(field::SVIX_ID),
                    })
                })
                .collect(),
            story,
            can_sync: state.syncer.is_some() && super::sync::fetchable(&id).is_some(),
            id,
        };
        Ok(respond::page(&req, &v, || StoryPage {
            me: Some(&me.0),
            v: &v,
        }))
    }
    .await;
    respond::outcome(&req, &me.0, result)
}

/// Whether an event body names `id` as its object, its user or its organization.
fn names_object(payload: &str, id: &str) -> bool {
    let Ok(body) = serde_json::from_str::<serde_json::Value>(payload) else {
        return false;
    };
    let data = &body["data"];
    [
        &data["id"],
        &data["user_id"],
        &data["organization_id"],
        &data["public_user_data"]["user_id"],
        &data["organization"]["id"],
    ]
    .iter()
    .any(|v| v.as_str() == Some(id))
}
