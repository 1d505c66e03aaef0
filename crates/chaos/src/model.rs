//! The model the run is checked against: for each object, the state of its winning event,
//! by the rules the README states (newest `(updated_at, svix_id)` wins, deletions are final,
//! a deleted user's personal fields are erased), computed from the events alone.

use std::collections::BTreeMap;

use crate::workload::Effect;

/// What one object's row must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The column the model follows (a name, a status, a role), None where erased.
    pub value: Option<String>,
    /// Whether the row is deleted.
    pub deleted: bool,
}

/// The model, from the events applied.
pub fn expected(applied: &[(&str, &Effect)]) -> BTreeMap<(String, String), Expected> {
    // (table, id) -> (winning version, winning svix id, value); deletions tracked apart.
    let mut best: BTreeMap<(String, String), (i64, String, Option<String>)> = BTreeMap::new();
    let mut deleted: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut offer = |key: (String, String), version: i64, svix: &str, value: Option<String>| {
        let entry = best.entry(key).or_insert((i64::MIN, String::new(), None));
        if (version, svix) > (entry.0, entry.1.as_str()) {
            *entry = (version, svix.to_owned(), value);
        }
    };
    for (svix, effect) in applied {
        match effect {
            Effect::User {
                id,
                version,
                name: Some(name),
            } => {
                offer(
                    ("users".into(), id.clone()),
                    *version,
                    svix,
                    Some(name.clone()),
                );
            }
            Effect::User { id, name: None, .. } => {
                deleted.insert(("users".into(), id.clone()), true);
            }
            Effect::Session {
                id,
                version,
                status,
                ..
            } => {
                offer(
                    ("sessions".into(), id.clone()),
                    *version,
                    svix,
                    Some(status.clone()),
                );
            }
            Effect::Organization {
                id,
                version,
                name: Some(name),
            } => {
                offer(
                    ("organizations".into(), id.clone()),
                    *version,
                    svix,
                    Some(name.clone()),
                );
            }
            Effect::Organization { id, name: None, .. } => {
                deleted.insert(("organizations".into(), id.clone()), true);
            }
            Effect::Membership {
                id,
                version,
                role,
                deleted: gone,
            } => {
                offer(
                    ("organization_memberships".into(), id.clone()),
                    *version,
                    svix,
                    Some(role.clone()),
                );
                if *gone {
                    deleted.insert(("organization_memberships".into(), id.clone()), true);
                }
            }
        }
    }
    let mut out: BTreeMap<(String, String), Expected> = best
        .into_iter()
        .map(|(key, (_, _, value))| {
            (
                key,
                Expected {
                    value,
                    deleted: false,
                },
            )
        })
        .collect();
    for (key, _) in deleted {
        let entry = out.entry(key.clone()).or_insert(Expected {
            value: None,
            deleted: true,
        });
        entry.deleted = true;
        // A deleted user's personal fields are erased; other objects keep their last state.
        if key.0 == "users" {
            entry.value = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_716_883_200_000;

    fn user(version: i64, name: Option<&str>) -> Effect {
        Effect::User {
            id: "user_1".into(),
            version,
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn the_model_keeps_the_newest_state_and_settles_ties_by_event_id() {
        let a = user(T0, Some("a"));
        let b = user(T0 + 1, Some("b"));
        let c = user(T0 + 1, Some("c"));
        let model = expected(&[("msg_1", &a), ("msg_3", &c), ("msg_2", &b)]);
        let got = &model[&("users".to_owned(), "user_1".to_owned())];
        assert_eq!(
            got,
            &Expected {
                value: Some("c".into()),
                deleted: false
            }
        );
    }

    #[test]
    fn a_deleted_user_is_erased_and_a_deleted_organization_keeps_its_name() {
        let model = expected(&[
            ("msg_1", &user(T0, Some("a"))),
            ("msg_2", &user(T0 + 9, None)),
            (
                "msg_3",
                &Effect::Organization {
                    id: "org_1".into(),
                    version: T0,
                    name: Some("Acme".into()),
                },
            ),
            (
                "msg_4",
                &Effect::Organization {
                    id: "org_1".into(),
                    version: T0 + 9,
                    name: None,
                },
            ),
        ]);
        assert_eq!(
            model[&("users".into(), "user_1".into())],
            Expected {
                value: None,
                deleted: true
            }
        );
        assert_eq!(
            model[&("organizations".into(), "org_1".into())],
            Expected {
                value: Some("Acme".into()),
                deleted: true
            }
        );
    }
}
