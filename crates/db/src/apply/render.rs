//! The statement building of the apply step, apart from any connection, so a criterion
//! benchmark (`benches/sql.rs`) can catch a regression in it without a database.

use clerk_sync_events::EventData;

use super::object::{self, Stored as _};
use super::objects::user::User;
use super::{Pending, Plan};
use crate::DbError;

/// Builds what a batch of `user.created`/`user.updated` events sends for the users table,
/// as [`crate::apply_batch`] does: every row from its event, reduced to one per user, and
/// encoded as the statement's one bind. Answers the statement's text and the bind's size.
#[doc(hidden)]
pub fn render_user_batch(events: &[Pending<'_>]) -> Result<(String, usize), DbError> {
    let mut plan = Plan::default();
    for (i, pending) in events.iter().enumerate() {
        let EventData::UserUpserted(user) = &pending.event.data else {
            return Err(DbError::Permanent(format!(
                "{} does not write a user",
                pending.event.event_type
            )));
        };
        object::stage::<User>(&mut plan, Some(i), pending.svix_id, pending.event, user)?;
    }
    let json = plan.users.upserts.json()?;
    Ok((User::upsert().text(crate::Schema::default()), json.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_payload_renders_and_other_events_are_refused() {
        for (name, body) in clerk_sync_test_support::clerk_payloads() {
            let event = clerk_sync_events::parse(&body, 0).expect(&name);
            let pending = [Pending {
                svix_id: "msg_1",
                event: &event,
            }];
            let rendered = render_user_batch(&pending);
            if name.starts_with("user.created") || name.starts_with("user.updated") {
                let (sql, bind) = rendered.expect(&name);
                assert!(
                    sql.contains("INSERT INTO \"clerk\".users AS t"),
                    "{name}: {sql}"
                );
                assert!(sql.contains("ON CONFLICT (clerk_id) DO UPDATE"), "{name}");
                assert!(sql.contains("WHERE t.deleted_at IS NULL"), "{name}");
                let user_id = event.object_id().expect("a user has an id");
                assert!(
                    bind >= user_id.len() + "msg_1".len(),
                    "{name}: {bind} bytes"
                );
            } else if !name.starts_with("user.") {
                assert!(rendered.is_err(), "{name} rendered a user upsert");
            }
        }
    }

    #[test]
    fn versions_of_one_user_in_a_batch_reduce_to_the_newest() {
        let (_, body) = clerk_sync_test_support::clerk_payloads()
            .into_iter()
            .find(|(name, _)| name.starts_with("user.updated"))
            .expect("a user.updated in the corpus");
        let event = clerk_sync_events::parse(&body, 0).unwrap();
        let one = [Pending {
            svix_id: "msg_1",
            event: &event,
        }];
        let three = [one[0], one[0], one[0]];
        let (_, single) = render_user_batch(&one).unwrap();
        let (_, reduced) = render_user_batch(&three).unwrap();
        assert_eq!(single, reduced, "one user, one row");
    }
}
