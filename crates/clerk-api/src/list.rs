//! The lists, page by page, each object kept as the raw JSON Clerk sent.

use std::collections::VecDeque;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use clerk_sync_events::Kind;

use super::{ApiError, Client};

/// Objects per request: the most Clerk's `limit` allows.
pub const PAGE_SIZE: u64 = 500;

/// One object, as Clerk returned it.
#[derive(Debug)]
pub struct Object {
    /// The object's JSON, byte for byte.
    pub raw: Box<RawValue>,
    /// Its Clerk id.
    pub id: String,
    /// `updated_at`, Unix ms.
    pub updated_at: Option<i64>,
    /// `created_at`, Unix ms.
    pub created_at: Option<i64>,
}

impl Object {
    /// Reads the head of one object (`id`, `updated_at`, `created_at`); `None` without an id.
    pub fn read(raw: Box<RawValue>) -> Option<Self> {
        #[derive(Deserialize)]
        struct Head {
            id: Option<String>,
            updated_at: Option<serde_json::Value>,
            created_at: Option<serde_json::Value>,
        }
        let head: Head = serde_json::from_str(raw.get()).ok()?;
        Some(Self {
            id: head.id.filter(|id| !id.is_empty())?,
            updated_at: head.updated_at.as_ref().and_then(millis),
            created_at: head.created_at.as_ref().and_then(millis),
            raw,
        })
    }

    /// The object's version: `updated_at`, or `created_at` for an object never updated.
    pub fn version(&self) -> Option<i64> {
        self.updated_at.or(self.created_at)
    }

    /// The event Clerk would have sent for the object at `version`: its envelope, with the
    /// object as `data` byte for byte. `timestamp` is the version, so the same object gives
    /// the same bytes every time it is read.
    pub fn envelope(&self, event_type: &str, version: i64) -> Vec<u8> {
        format!(
            r#"{{"object":"event","type":"{event_type}","timestamp":{version},"data":{}}}"#,
            self.raw.get()
        )
        .into_bytes()
    }
}

/// A time as Clerk's API sends it (integer ms), read as liberally as the webhook parser
/// reads it: a float or a numeric string too, and seconds taken for seconds.
fn millis(value: &serde_json::Value) -> Option<i64> {
    let ms = match value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(clerk_sync_events::to_millis(ms))
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct Page {
    /// The objects, in the order Clerk listed them.
    pub objects: Vec<Object>,
    /// Items without an `id`, which nothing can be done with.
    pub unreadable: usize,
}

/// Reads one list with `limit` and `offset` until a short page.
#[derive(Debug)]
pub struct Pager<'a> {
    client: &'a Client,
    path: String,
    order_by: Option<&'static str>,
    offset: u64,
    total: Option<u64>,
    done: bool,
    deadline: Option<Instant>,
}

impl<'a> Pager<'a> {
    fn new(client: &'a Client, path: String, order_by: Option<&'static str>) -> Self {
        Self {
            client,
            path,
            order_by,
            offset: 0,
            total: None,
            done: false,
            deadline: None,
        }
    }

    /// Gives up on any page whose turn or answer would come after `deadline`.
    pub fn until(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Every user, ordered by `order_by` (`-updated_at`, `+created_at`, …).
    pub fn users(client: &'a Client, order_by: &'static str) -> Self {
        Self::new(client, "users".into(), Some(order_by))
    }

    /// Every organization, oldest first: an organization created while the list is read
    /// lands at the end, where the pager will still reach it.
    pub fn organizations(client: &'a Client) -> Self {
        Self::new(client, "organizations".into(), Some("+created_at"))
    }

    fn instance_memberships(client: &'a Client) -> Self {
        Self::new(
            client,
            "organization_memberships".into(),
            Some("+created_at"),
        )
    }

    /// The organization memberships of one user.
    pub fn memberships_of_user(client: &'a Client, user_id: &str) -> Self {
        let path = format!("users/{user_id}/organization_memberships");
        Self::new(client, path, None)
    }

    /// The memberships of one organization, oldest first.
    pub fn memberships_of(client: &'a Client, organization_id: &str) -> Self {
        let path = format!("organizations/{organization_id}/memberships");
        Self::new(client, path, Some("+created_at"))
    }

    /// `total_count`, for the lists that have one, once a page has been read.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Objects read (or skipped) so far: where a resumed read starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Starts (or goes on) at `offset` instead of the beginning.
    pub fn skip_to(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Reads no further pages.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// The next page, or `None` when the list is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let mut query = vec![
            ("limit", PAGE_SIZE.to_string()),
            ("offset", self.offset.to_string()),
        ];
        if let Some(order_by) = self.order_by {
            query.push(("order_by", order_by.to_owned()));
        }
        let body = self.client.get(&self.path, &query, self.deadline).await?;
        let (items, total) = parse_list(&body).map_err(|source| ApiError::Malformed {
            path: self.path.clone(),
            source,
        })?;
        self.total = total.or(self.total);
        let read = items.len() as u64;
        self.offset += read;
        // A short page ends the list; with a `total_count` that says more are there, it
        // does not (a server may cap `limit` lower than asked).
        let more_by_total = self.total.is_some_and(|total| self.offset < total);
        if read == 0 || (read < PAGE_SIZE && !more_by_total) {
            self.done = true;
        }
        if read == 0 {
            return Ok(None);
        }
        let mut page = Page::default();
        for item in items {
            match Object::read(item) {
                Some(object) => page.objects.push(object),
                None => page.unreadable += 1,
            }
        }
        Ok(Some(page))
    }
}

/// A list body: a bare array (`/v1/users`) or `{"data": […], "total_count": n}`.
fn parse_list(body: &[u8]) -> Result<(Vec<Box<RawValue>>, Option<u64>), serde_json::Error> {
    #[derive(Deserialize)]
    struct Wrapped {
        data: Vec<Box<RawValue>>,
        #[serde(default)]
        total_count: Option<u64>,
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        Ok((serde_json::from_slice(body)?, None))
    } else {
        let wrapped: Wrapped = serde_json::from_slice(body)?;
        Ok((wrapped.data, wrapped.total_count))
    }
}

/// Every organization membership of the instance: from the instance-wide list, or, where
/// the instance does not have it (404), organization by organization.
#[derive(Debug)]
pub struct MembershipPager<'a> {
    client: &'a Client,
    state: State<'a>,
    stopped: bool,
}

#[derive(Debug)]
enum State<'a> {
    Instance(Pager<'a>),
    PerOrganization {
        organizations: Pager<'a>,
        waiting: VecDeque<String>,
        current: Option<Pager<'a>>,
    },
}

impl<'a> MembershipPager<'a> {
    /// Starts with the instance-wide list.
    pub fn new(client: &'a Client) -> Self {
        Self {
            client,
            state: State::Instance(Pager::instance_memberships(client)),
            stopped: false,
        }
    }

    /// Where a resumed read of the instance-wide list starts; `None` organization by
    /// organization, where a read cannot be resumed part-way.
    pub fn offset(&self) -> Option<u64> {
        match &self.state {
            State::Instance(pager) => Some(pager.offset()),
            State::PerOrganization { .. } => None,
        }
    }

    /// Starts the instance-wide list at `offset`. Should the instance lack that list, the
    /// read falls back to organization by organization from the start.
    pub fn skip_to(&mut self, offset: u64) {
        if let State::Instance(pager) = &mut self.state {
            pager.skip_to(offset);
        }
    }

    /// `total_count` of the instance-wide list, once known; `None` organization by
    /// organization.
    pub fn total(&self) -> Option<u64> {
        match &self.state {
            State::Instance(pager) => pager.total(),
            State::PerOrganization { .. } => None,
        }
    }

    /// Reads no further pages.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// The next page of memberships, or `None` when all have been read.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        while !self.stopped {
            match &mut self.state {
                State::Instance(pager) => match pager.next_page().await {
                    // Clerk's own 404 (whatever its code) for the list itself; a proxy's
                    // 404 is a failure, like any answer that is not Clerk's.
                    Err(
                        ApiError::NotFound { .. }
                        | ApiError::Refused {
                            status: StatusCode::NOT_FOUND,
                            ..
                        },
                    ) if pager.total.is_none() => {
                        tracing::debug!(
                            "no instance-wide membership list; reading per organization"
                        );
                        self.state = State::PerOrganization {
                            organizations: Pager::organizations(self.client),
                            waiting: VecDeque::new(),
                            current: None,
                        };
                    }
                    other => return other,
                },
                State::PerOrganization {
                    organizations,
                    waiting,
                    current,
                } => {
                    if let Some(pager) = current {
                        match pager.next_page().await {
                            Ok(Some(page)) => return Ok(Some(page)),
                            Ok(None) => *current = None,
                            // Deleted since it was listed: it has no members to read.
                            Err(ApiError::NotFound { .. }) => *current = None,
                            Err(error) => return Err(error),
                        }
                    } else if let Some(id) = waiting.pop_front() {
                        *current = Some(Pager::memberships_of(self.client, &id));
                    } else {
                        match organizations.next_page().await? {
                            Some(page) => waiting.extend(page.objects.into_iter().map(|o| o.id)),
                            None => return Ok(None),
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Every object of one kind, one page at a time.
#[derive(Debug)]
pub enum Listing<'a> {
    /// Users or organizations.
    Plain(Pager<'a>),
    /// Memberships, instance-wide or per organization.
    Memberships(MembershipPager<'a>),
}

impl<'a> Listing<'a> {
    /// The list of `kind`. Users come newest-updated first with `newest_first`, so a reader
    /// that wants only recent changes can stop early; otherwise oldest-created first, an
    /// order that updates made meanwhile do not shuffle. Organizations and memberships
    /// cannot be ordered by `updated_at`, and always come oldest-created first.
    pub fn new(client: &'a Client, kind: Kind, newest_first: bool) -> Self {
        match kind {
            Kind::User => Self::Plain(Pager::users(
                client,
                if newest_first {
                    "-updated_at"
                } else {
                    "+created_at"
                },
            )),
            Kind::Organization => Self::Plain(Pager::organizations(client)),
            Kind::Membership => Self::Memberships(MembershipPager::new(client)),
        }
    }

    /// The next page, or `None` when all have been read.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        match self {
            Self::Plain(pager) => pager.next_page().await,
            Self::Memberships(pager) => pager.next_page().await,
        }
    }

    /// How many there are, where the list says.
    pub fn total(&self) -> Option<u64> {
        match self {
            Self::Plain(pager) => pager.total(),
            Self::Memberships(pager) => pager.total(),
        }
    }

    /// Reads no further pages.
    pub fn stop(&mut self) {
        match self {
            Self::Plain(pager) => pager.stop(),
            Self::Memberships(pager) => pager.stop(),
        }
    }

    /// Where a resumed read would start: the objects read so far, or `None` where the list
    /// cannot be resumed part-way (memberships organization by organization).
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Plain(pager) => Some(pager.offset()),
            Self::Memberships(pager) => pager.offset(),
        }
    }

    /// Starts at `offset`, as [`Listing::offset`] gave it when a read was interrupted.
    pub fn skip_to(&mut self, offset: u64) {
        match self {
            Self::Plain(pager) => pager.skip_to(offset),
            Self::Memberships(pager) => pager.skip_to(offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_list_shapes_are_read_and_objects_kept_raw() {
        let (items, total) =
            parse_list(br#" [ {"id": "user_1",  "updated_at": 1716883500000} ]"#).unwrap();
        assert_eq!(total, None);
        assert_eq!(
            items[0].get(),
            r#"{"id": "user_1",  "updated_at": 1716883500000}"#
        );
        let (items, total) =
            parse_list(br#"{"data":[{"id":"org_1","created_at":1716883200}],"total_count":7}"#)
                .unwrap();
        assert_eq!(total, Some(7));
        let object = Object::read(items.into_iter().next().unwrap()).unwrap();
        assert_eq!(object.id, "org_1");
        assert_eq!(
            object.version(),
            Some(1_716_883_200_000),
            "seconds read as seconds"
        );
        assert!(parse_list(br#"{"errors":[]}"#).is_err());
    }

    #[test]
    fn an_item_without_an_id_is_unreadable() {
        let raw = RawValue::from_string(r#"{"object":"user"}"#.into()).unwrap();
        assert!(Object::read(raw).is_none());
    }
}
