//! What one kind's comparison found, and the deletion event for an object Clerk no longer
//! has.
//!
//! A report counts every object out of step but names only the first [`SAMPLE`] of each
//! sort: a run over a million objects a wrong database makes all "missing" must not hold
//! a million ids.

use clerk_sync_clerk_api::{Kind, Object};
use clerk_sync_db::Held;
use serde::Serialize;

/// Ids a report names per sort of drift; the count goes on past it.
pub const SAMPLE: usize = 1_000;

/// Objects of one sort of drift: how many, and the first [`SAMPLE`] ids. Serialised as the
/// ids.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    count: usize,
    ids: Vec<String>,
}

impl Sample {
    /// Counts one more, naming it while there is room.
    pub fn push(&mut self, id: &str) {
        self.count += 1;
        if self.ids.len() < SAMPLE {
            self.ids.push(id.to_owned());
        }
    }

    /// How many, named or not.
    pub fn len(&self) -> usize {
        self.count
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ids named, in the order found.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
}

impl Serialize for Sample {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.ids.serialize(serializer)
    }
}

/// What a run found of one kind, and what it queued.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    /// `users`, `organizations` or `memberships`.
    pub kind: &'static str,
    /// Objects Clerk listed.
    pub in_clerk: usize,
    /// Live rows in the database.
    pub in_database: usize,
    /// Listed objects the database holds (live or not): none at all between two instances
    /// of some size means the key is for another instance.
    pub matched: usize,
    /// In Clerk, not in the database: queued.
    pub missing: Sample,
    /// Older in the database than in Clerk: queued.
    pub stale: Sample,
    /// Live in the database, gone from Clerk (confirmed by id): deleted through the queue.
    pub extra: Sample,
    /// Live in Clerk, deleted in the database: a deletion is final, so left alone.
    pub deleted_here: Sample,
    /// Repairs queued.
    pub queued: usize,
    /// Whether extras were looked for (not in a kind resumed part-way).
    pub extras_checked: bool,
    /// More extras than a run deletes were found, and none was deleted.
    pub deletions_refused: bool,
}

/// An object to queue, at its version.
pub(super) struct Repair {
    pub(super) version: i64,
}

impl KindReport {
    pub(super) fn new(kind: Kind, in_database: usize) -> Self {
        Self {
            kind: kind.plural(),
            in_clerk: 0,
            in_database,
            matched: 0,
            missing: Sample::default(),
            stale: Sample::default(),
            extra: Sample::default(),
            deleted_here: Sample::default(),
            queued: 0,
            extras_checked: true,
            deletions_refused: false,
        }
    }

    /// Sorts one listed object against the database's row; `Some` when it must be queued.
    pub(super) fn classify(&mut self, object: &Object, held: Option<&Held>) -> Option<Repair> {
        let version = object.version().unwrap_or_default();
        if held.is_some() {
            self.matched += 1;
        }
        match held {
            None => {
                self.missing.push(&object.id);
                Some(Repair { version })
            }
            Some(h) if !h.live => {
                self.deleted_here.push(&object.id);
                None
            }
            Some(h) if h.updated_at < version => {
                self.stale.push(&object.id);
                Some(Repair { version })
            }
            Some(_) => None,
        }
    }

    /// Objects out of step.
    pub fn drift(&self) -> usize {
        self.missing.len() + self.stale.len() + self.extra.len() + self.deleted_here.len()
    }

    /// What remains once every queued repair is applied: objects deleted here but live in
    /// Clerk, and extras a run refused to delete.
    pub fn unrepairable(&self) -> usize {
        self.deleted_here.len()
            + if self.deletions_refused {
                self.extra.len()
            } else {
                0
            }
    }
}

/// The deletion event Clerk would have sent for `id`, at `now` (ms): its type and body. A
/// membership's deletion carries the whole membership; this one names only what its row
/// holds (organization and user) with the oldest version, so it records the end and
/// overwrites nothing.
pub(super) fn deletion(kind: Kind, id: &str, held: &Held, now: i64) -> (&'static str, Vec<u8>) {
    let (event_type, data) = match kind {
        Kind::User => (
            "user.deleted",
            serde_json::json!({"object": "user", "id": id, "deleted": true}),
        ),
        Kind::Organization => (
            "organization.deleted",
            serde_json::json!({"object": "organization", "id": id, "deleted": true}),
        ),
        Kind::Membership => {
            let (organization, user) = held.member_of.clone().unwrap_or_default();
            (
                "organizationMembership.deleted",
                serde_json::json!({
                    "object": "organization_membership", "id": id,
                    "organization": {"object": "organization", "id": organization, "created_at": 1, "updated_at": 1},
                    "public_user_data": {"user_id": user},
                    "created_at": 1, "updated_at": 1,
                }),
            )
        }
    };
    let body = serde_json::json!({
        "object": "event", "type": event_type, "timestamp": now, "data": data,
    });
    (event_type, body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_716_883_200_000;

    fn object(id: &str, version: i64) -> Object {
        let raw = serde_json::value::RawValue::from_string(format!(
            r#"{{"id":"{id}","updated_at":{}}}"#,
            T + version
        ))
        .unwrap();
        Object::read(raw).unwrap()
    }

    #[test]
    fn objects_are_missing_stale_level_or_deleted_here() {
        let held: std::collections::HashMap<String, Held> = [
            ("user_same", 100, true),
            ("user_stale", 50, true),
            ("user_ahead", 300, true),
            ("user_gone_here", 100, false),
        ]
        .into_iter()
        .map(|(id, updated_at, live)| {
            let held = Held {
                updated_at: T + updated_at,
                live,
                member_of: None,
            };
            (id.to_owned(), held)
        })
        .collect();
        let live = held.values().filter(|h| h.live).count();
        let mut report = KindReport::new(Kind::User, live);
        assert_eq!(report.in_database, 3);
        let queued: Vec<&str> = [
            ("user_same", 100),
            ("user_stale", 100),
            ("user_ahead", 100),
            ("user_gone_here", 100),
            ("user_missing", 100),
        ]
        .into_iter()
        .filter(|(id, v)| report.classify(&object(id, *v), held.get(*id)).is_some())
        .map(|(id, _)| id)
        .collect();
        assert_eq!(queued, vec!["user_stale", "user_missing"]);
        assert_eq!(report.deleted_here.ids(), ["user_gone_here"]);
        assert_eq!(report.drift(), 3);
        assert_eq!(report.unrepairable(), 1);
    }

    #[test]
    fn deletions_parse_as_the_events_clerk_sends() {
        let member = Held {
            updated_at: 5,
            live: true,
            member_of: Some(("org_1".into(), "user_1".into())),
        };
        for kind in Kind::ALL {
            let (event_type, body) = deletion(kind, "x_1", &member, 1_716_883_200_000);
            let event = clerk_sync_events::parse(&body, 0).unwrap();
            assert_eq!(event.event_type, event_type);
            assert_eq!(event.timestamp, 1_716_883_200_000);
            assert!(!matches!(
                event.data,
                clerk_sync_events::EventData::Unhandled
            ));
        }
    }

    #[test]
    fn a_sample_counts_everything_and_names_the_first() {
        let mut sample = Sample::default();
        for n in 0..SAMPLE + 5 {
            sample.push(&format!("user_{n}"));
        }
        assert_eq!(sample.len(), SAMPLE + 5);
        assert_eq!(sample.ids().len(), SAMPLE);
        assert_eq!(serde_json::to_value(&sample).unwrap()[0], "user_0");
    }
}
