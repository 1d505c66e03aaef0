//! The events a run sends: users, sessions, organizations and memberships with histories
//! delivered out of order, redeliveries, poison payloads and forged signatures.

use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use serde_json::{Value, json};

const T0: i64 = 1_716_883_200_000;

/// What an event is, for the checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A valid event; its effect is in the model.
    Good(Effect),
    /// Signed, but not applicable: must end in the dead-letter stream, never applied.
    Poison,
    /// Signed, then tampered with: must be refused with 401 and reach nothing.
    Forged,
}

/// The part of an event's effect the model follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    User {
        id: String,
        version: i64,
        name: Option<String>,
    },
    Session {
        id: String,
        user: String,
        version: i64,
        status: String,
    },
    Organization {
        id: String,
        version: i64,
        name: Option<String>,
    },
    Membership {
        id: String,
        version: i64,
        role: String,
        deleted: bool,
    },
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Planned {
    pub svix_id: String,
    pub body: Vec<u8>,
    pub kind: Kind,
    /// Send it again (same id, same body) later: a redelivery.
    pub resend: bool,
}

/// The size of a run.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub users: usize,
    pub organizations: usize,
}

/// Plans every event of the run, in a shuffled order: Svix does not deliver in order.
pub fn plan(size: Size, rng: &mut StdRng) -> Vec<Planned> {
    let mut events = Vec::new();
    let mut next = 0usize;
    let mut id = |prefix: &str| {
        next += 1;
        format!("{prefix}_{next:06}")
    };
    for u in 0..size.users {
        let user = format!("user_chaos{u:05}");
        let updates = rng.random_range(1..5);
        for v in 0..=updates {
            // A few versions repeat, so ties are settled by the event id.
            let version = T0 + rng.random_range(0..(updates as i64 + 2)) * 1000 + v as i64 % 2;
            let name = format!("name-{u}-{v}");
            let kind = if v == 0 {
                "user.created"
            } else {
                "user.updated"
            };
            events.push(good(
                id("msg"),
                user_body(kind, &user, version, &name),
                Effect::User {
                    id: user.clone(),
                    version,
                    name: Some(name),
                },
            ));
        }
        for s in 0..rng.random_range(0..3) {
            let session = format!("sess_chaos{u:05}_{s}");
            for status in ["active", "ended"] {
                let version = T0 + rng.random_range(0..10_000);
                events.push(good(
                    id("msg"),
                    session_body(&session, &user, version, status),
                    Effect::Session {
                        id: session.clone(),
                        user: user.clone(),
                        version,
                        status: status.to_owned(),
                    },
                ));
            }
        }
        if rng.random_bool(0.2) {
            let at = T0 + 50_000 + rng.random_range(0..10_000);
            events.push(good(
                id("msg"),
                deleted_user_body(&user, at),
                Effect::User {
                    id: user.clone(),
                    version: at,
                    name: None,
                },
            ));
        }
    }
    for o in 0..size.organizations {
        let org = format!("org_chaos{o:04}");
        for v in 0..rng.random_range(1..4) {
            let version = T0 + rng.random_range(0..5) * 1000;
            let name = format!("org-{o}-{v}");
            events.push(good(
                id("msg"),
                org_body(&org, version, &name),
                Effect::Organization {
                    id: org.clone(),
                    version,
                    name: Some(name),
                },
            ));
        }
        if rng.random_bool(0.15) {
            let at = T0 + 60_000;
            events.push(good(
                id("msg"),
                deleted_org_body(&org, at),
                Effect::Organization {
                    id: org.clone(),
                    version: at,
                    name: None,
                },
            ));
        }
        for m in 0..rng.random_range(1..4) {
            let membership = format!("orgmem_chaos{o:04}_{m}");
            let user = format!("user_chaos{:05}", rng.random_range(0..size.users));
            for v in 0..rng.random_range(1..3) {
                let version = T0 + rng.random_range(0..5) * 1000;
                let deleted = v > 0 && rng.random_bool(0.3);
                let role = format!("org:role{}", rng.random_range(0..3));
                let body = membership_body(&membership, &org, &user, version, &role, deleted);
                events.push(good(
                    id("msg"),
                    body,
                    Effect::Membership {
                        id: membership.clone(),
                        version,
                        role,
                        deleted,
                    },
                ));
            }
        }
    }
    // One in a hundred events is poison (signed but unusable), one in a hundred forged.
    let poison = events.len() / 100 + 1;
    for p in 0..poison {
        let body = if p % 2 == 0 {
            b"{ not json".to_vec()
        } else {
            br#"{"type":"user.updated","data":{"first_name":"no id"}}"#.to_vec()
        };
        events.push(Planned {
            svix_id: id("msg"),
            body,
            kind: Kind::Poison,
            resend: false,
        });
        events.push(Planned {
            svix_id: id("msg"),
            body: user_body("user.updated", "user_forged", T0, "forged")
                .to_string()
                .into_bytes(),
            kind: Kind::Forged,
            resend: false,
        });
    }
    for event in &mut events {
        event.resend = matches!(event.kind, Kind::Good(_)) && rng.random_bool(0.05);
    }
    events.shuffle(rng);
    events
}

fn good(svix_id: String, body: Value, effect: Effect) -> Planned {
    Planned {
        svix_id,
        body: body.to_string().into_bytes(),
        kind: Kind::Good(effect),
        resend: false,
    }
}

fn user_body(kind: &str, id: &str, version: i64, name: &str) -> Value {
    json!({"object": "event", "type": kind, "timestamp": version, "data": {
        "object": "user", "id": id, "first_name": name, "last_name": "Chaos",
        "primary_email_address_id": format!("idn_{id}"),
        "email_addresses": [{"id": format!("idn_{id}"), "email_address": format!("{id}@example.com"),
                             "verification": {"status": "verified"}}],
        "created_at": T0, "updated_at": version}})
}

fn deleted_user_body(id: &str, at: i64) -> Value {
    json!({"object": "event", "type": "user.deleted", "timestamp": at,
           "data": {"object": "user", "id": id, "deleted": true}})
}

fn session_body(id: &str, user: &str, version: i64, status: &str) -> Value {
    json!({"object": "event", "type": format!("session.{}", if status == "active" { "created" } else { "ended" }),
           "timestamp": version,
           "event_attributes": {"http_request": {"client_ip": "203.0.113.7", "user_agent": "chaos"}},
           "data": {"object": "session", "id": id, "user_id": user, "status": status,
                    "last_active_at": version, "created_at": T0, "updated_at": version}})
}

fn org_body(id: &str, version: i64, name: &str) -> Value {
    json!({"object": "event", "type": "organization.updated", "timestamp": version,
           "data": {"object": "organization", "id": id, "name": name, "slug": id,
                    "created_at": T0, "updated_at": version}})
}

fn deleted_org_body(id: &str, at: i64) -> Value {
    json!({"object": "event", "type": "organization.deleted", "timestamp": at,
           "data": {"object": "organization", "id": id, "deleted": true}})
}

fn membership_body(
    id: &str,
    org: &str,
    user: &str,
    version: i64,
    role: &str,
    deleted: bool,
) -> Value {
    let kind = if deleted {
        "organizationMembership.deleted"
    } else {
        "organizationMembership.updated"
    };
    // The organization it carries is older than any of the organization's own events, so
    // the model of organizations needs only their own events.
    json!({"object": "event", "type": kind, "timestamp": version, "data": {
        "object": "organization_membership", "id": id, "role": role, "permissions": [],
        "organization": {"object": "organization", "id": org, "name": "snapshot", "created_at": T0,
                         "updated_at": T0 - 1000},
        "public_user_data": {"user_id": user}, "created_at": T0, "updated_at": version}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_the_same_for_the_same_seed_and_has_every_kind() {
        use rand::SeedableRng as _;
        let size = Size {
            users: 20,
            organizations: 5,
        };
        let a = plan(size, &mut StdRng::seed_from_u64(7));
        let b = plan(size, &mut StdRng::seed_from_u64(7));
        assert_eq!(
            a.iter().map(|e| &e.svix_id).collect::<Vec<_>>(),
            b.iter().map(|e| &e.svix_id).collect::<Vec<_>>()
        );
        assert!(a.iter().any(|e| e.kind == Kind::Poison));
        assert!(a.iter().any(|e| e.kind == Kind::Forged));
        for event in a.iter().filter(|e| matches!(e.kind, Kind::Good(_))) {
            let parsed = has_an_object_id(&event.body);
            assert!(parsed, "{}", String::from_utf8_lossy(&event.body));
        }
    }

    fn has_an_object_id(body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(body).is_ok_and(|v| v["data"]["id"].is_string())
    }
}
