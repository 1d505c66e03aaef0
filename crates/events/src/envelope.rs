//! The envelope of an event, and the dispatch of its `data` by type.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::redact;
use crate::time::seconds_or_millis;
use crate::{
    Channel, Deleted, Domain, Invitation, Membership, Message, Organization, ParseError,
    PaymentAttempt, Permission, Role, Session, Subscription, SubscriptionItem, User, WaitlistEntry,
};

/// One Clerk event, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Clerk's `type`, e.g. `user.updated`.
    pub event_type: String,
    /// When the event happened, Unix ms: the envelope's `timestamp` in either unit, or, for
    /// senders that omit it, when the receiver accepted the event. Stable across retries and
    /// replays, so it can order events that carry no `updated_at`.
    pub timestamp: i64,
    /// The Clerk instance that sent it, when the sender says.
    pub instance_id: Option<String>,
    /// The request that caused the event, when Clerk says (sign-ins, sign-ups).
    pub http_request: Option<HttpRequest>,
    /// What the event does.
    pub data: EventData,
}

/// What an event does, by type. Objects are boxed: they are large and of many sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    /// `user.created`, `user.updated`: the user's whole state at `updated_at`.
    UserUpserted(Box<User>),
    /// `user.deleted`.
    UserDeleted(Deleted),
    /// `session.created`, `.ended`, `.removed`, `.revoked`, `.pending`: the whole session.
    SessionUpserted(Box<Session>),
    /// `organization.created`, `organization.updated`.
    OrganizationUpserted(Box<Organization>),
    /// `organization.deleted`.
    OrganizationDeleted(Deleted),
    /// `organizationMembership.created`, `.updated`.
    MembershipUpserted(Box<Membership>),
    /// `organizationMembership.deleted`: the whole membership, as it was.
    MembershipDeleted(Box<Membership>),
    /// `organizationInvitation.created`, `.accepted`, `.revoked`.
    InvitationUpserted(Box<Invitation>),
    /// `organizationDomain.created`, `.updated`.
    DomainUpserted(Box<Domain>),
    /// `organizationDomain.deleted`.
    DomainDeleted(Deleted),
    /// `role.created`, `role.updated`.
    RoleUpserted(Box<Role>),
    /// `role.deleted`.
    RoleDeleted(Deleted),
    /// `permission.created`, `permission.updated`.
    PermissionUpserted(Box<Permission>),
    /// `permission.deleted`.
    PermissionDeleted(Deleted),
    /// `email.created`, `sms.created`.
    MessageCreated(Channel, Box<Message>),
    /// `waitlistEntry.created`, `waitlistEntry.updated`.
    WaitlistEntryUpserted(Box<WaitlistEntry>),
    /// `subscription.*`: the subscription with its items.
    SubscriptionUpserted(Box<Subscription>),
    /// `subscriptionItem.*`.
    SubscriptionItemUpserted(Box<SubscriptionItem>),
    /// `paymentAttempt.created`, `paymentAttempt.updated`.
    PaymentAttemptUpserted(Box<PaymentAttempt>),
    /// A type clerk-sync does not apply; acknowledged and counted.
    Unhandled,
}

/// The instance ids of the examples Clerk publishes (its webhook specification's, which the
/// dashboard's "Send Example" sends, and its guides'). An event naming one of them is a
/// test, not a word from any real instance: it neither pins the database's instance nor is
/// refused by it.
pub const EXAMPLE_INSTANCE_IDS: &[&str] = &["ins_123", "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S"];

impl Event {
    /// The Clerk instance the event names, unless it names none or one of Clerk's examples
    /// ([`EXAMPLE_INSTANCE_IDS`]).
    pub fn named_instance(&self) -> Option<&str> {
        self.instance_id
            .as_deref()
            .filter(|id| !EXAMPLE_INSTANCE_IDS.contains(id))
    }

    /// The id of the object the event is about, where it has one.
    pub fn object_id(&self) -> Option<&str> {
        self.data.subject().map(|subject| subject.id)
    }
}

/// The object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// Its Clerk id.
    pub id: &'a str,
    /// Whether the event deletes it (or ends it: a membership's deletion).
    pub deleted: bool,
}

impl EventData {
    /// The object the event is about; `None` for a type clerk-sync does not apply. The one
    /// projection of every variant in this crate: a new variant must say here what it is
    /// about, and the db crate's registry (`objects::visit`) what it does to it.
    pub fn subject(&self) -> Option<Subject<'_>> {
        use EventData as D;
        let (id, deleted) = match self {
            D::UserUpserted(o) => (&o.id, false),
            D::UserDeleted(d) => (&d.id, true),
            D::SessionUpserted(o) => (&o.id, false),
            D::OrganizationUpserted(o) => (&o.id, false),
            D::OrganizationDeleted(d) => (&d.id, true),
            D::MembershipUpserted(o) => (&o.id, false),
            D::MembershipDeleted(o) => (&o.id, true),
            D::InvitationUpserted(o) => (&o.id, false),
            D::DomainUpserted(o) => (&o.id, false),
            D::DomainDeleted(d) => (&d.id, true),
            D::RoleUpserted(o) => (&o.id, false),
            D::RoleDeleted(d) => (&d.id, true),
            D::PermissionUpserted(o) => (&o.id, false),
            D::PermissionDeleted(d) => (&d.id, true),
            D::MessageCreated(_, o) => (&o.id, false),
            D::WaitlistEntryUpserted(o) => (&o.id, false),
            D::SubscriptionUpserted(o) => (&o.id, false),
            D::SubscriptionItemUpserted(o) => (&o.id, false),
            D::PaymentAttemptUpserted(o) => (&o.id, false),
            D::Unhandled => return None,
        };
        Some(Subject { id, deleted })
    }
}

/// The client behind the event, from `event_attributes.http_request`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct HttpRequest {
    /// The client's IP address.
    #[serde(default)]
    pub client_ip: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default)]
    pub user_agent: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default)]
    event_type: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "seconds_or_millis")]
    timestamp: Option<i64>,
    #[serde(default)]
    instance_id: Option<serde_json::Value>,
    #[serde(default)]
    event_attributes: Option<serde_json::Value>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Parses a webhook body. `received_at` (Unix ms) stands in for a missing `timestamp`.
pub fn parse(body: &[u8], received_at: i64) -> Result<Event, ParseError> {
    let envelope: Envelope<'_> = {
        let mut de = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(envelope) => envelope,
            Err(error) => {
                let path = error.path().to_string();
                let inner = error.into_inner();
                return Err(if inner.is_syntax() || inner.is_eof() || path == "." {
                    ParseError::NotJson(redact(&inner.to_string()))
                } else {
                    ParseError::Invalid {
                        event_type: String::new(),
                        path,
                        reason: redact(&inner.to_string()),
                    }
                });
            }
        }
    };
    // A derived struct also reads a JSON array, by position; Clerk's envelope is an object.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ParseError::NoType);
    }
    let Some(serde_json::Value::String(event_type)) = envelope.event_type else {
        return Err(ParseError::NoType);
    };

    let data = dispatch(&event_type, envelope.data, body)?;

    let http_request = envelope
        .event_attributes
        .and_then(|mut attributes| {
            attributes
                .get_mut("http_request")
                .map(serde_json::Value::take)
        })
        .and_then(|request| serde_json::from_value::<HttpRequest>(request).ok());
    Ok(Event {
        timestamp: envelope.timestamp.unwrap_or(received_at),
        instance_id: envelope
            .instance_id
            .and_then(|id| id.as_str().map(str::to_owned)),
        http_request,
        data,
        event_type,
    })
}

/// Reads `data` according to the event's type: by the part before the dot, with deletions
/// (which carry a different shape) picked out first.
fn dispatch(
    event_type: &str,
    raw: Option<&RawValue>,
    body: &[u8],
) -> Result<EventData, ParseError> {
    use EventData as D;
    let kind = event_type
        .split_once('.')
        .map_or(event_type, |(kind, _)| kind);
    let t = event_type;
    Ok(match (kind, event_type) {
        (_, "user.deleted") => D::UserDeleted(data(t, raw, body)?),
        (_, "user.created" | "user.updated") => D::UserUpserted(data(t, raw, body)?),
        ("session", _) => D::SessionUpserted(data(t, raw, body)?),
        (_, "organization.deleted") => D::OrganizationDeleted(data(t, raw, body)?),
        ("organization", _) => D::OrganizationUpserted(data(t, raw, body)?),
        (_, "organizationMembership.deleted") => D::MembershipDeleted(data(t, raw, body)?),
        ("organizationMembership", _) => D::MembershipUpserted(data(t, raw, body)?),
        ("organizationInvitation", _) => D::InvitationUpserted(data(t, raw, body)?),
        (_, "organizationDomain.deleted") => D::DomainDeleted(data(t, raw, body)?),
        ("organizationDomain", _) => D::DomainUpserted(data(t, raw, body)?),
        (_, "role.deleted") => D::RoleDeleted(data(t, raw, body)?),
        ("role", _) => D::RoleUpserted(data(t, raw, body)?),
        (_, "permission.deleted") => D::PermissionDeleted(data(t, raw, body)?),
        ("permission", _) => D::PermissionUpserted(data(t, raw, body)?),
        (_, "email.created") => D::MessageCreated(Channel::Email, data(t, raw, body)?),
        (_, "sms.created") => D::MessageCreated(Channel::Sms, data(t, raw, body)?),
        ("waitlistEntry", _) => D::WaitlistEntryUpserted(data(t, raw, body)?),
        ("subscription", _) => D::SubscriptionUpserted(data(t, raw, body)?),
        ("subscriptionItem", _) => D::SubscriptionItemUpserted(data(t, raw, body)?),
        ("paymentAttempt", _) => D::PaymentAttemptUpserted(data(t, raw, body)?),
        _ => D::Unhandled,
    })
}

/// Reads `data` as `T`, naming the failing path.
fn data<T: DeserializeOwned>(
    event_type: &str,
    raw: Option<&RawValue>,
    body: &[u8],
) -> Result<T, ParseError> {
    // Only bodies that will be stored are checked: an ignored type may hold anything.
    if crate::scan::has_nul_escape(body) {
        return Err(ParseError::NulCharacter);
    }
    let raw = raw
        .filter(|raw| raw.get() != "null")
        .ok_or_else(|| ParseError::Invalid {
            event_type: event_type.to_owned(),
            path: "data".to_owned(),
            reason: "missing".to_owned(),
        })?;
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| ParseError::invalid(event_type, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: i64 = 1_800_000_000_000;

    #[test]
    fn a_user_event_is_read_with_its_primary_email() {
        let body = br#"{"type":"user.updated","timestamp":1716883200,"data":{
            "id":"user_1","first_name":null,"primary_email_address_id":"idn_2",
            "email_addresses":[{"id":"idn_1","email_address":"a@x.test"},
                               {"id":"idn_2","email_address":"b@x.test","verification":{"status":"verified"}}],
            "private_metadata":{"secret":1},"updated_at":1716883200123}}"#;
        let event = parse(body, RECEIVED).unwrap();
        assert_eq!(event.timestamp, 1_716_883_200_000, "seconds become ms");
        let EventData::UserUpserted(user) = event.data else {
            panic!("not a user: {event:?}")
        };
        assert_eq!(user.primary_email(), Some("b@x.test"));
        assert!(user.email_addresses[1].verified());
        assert_eq!(user.updated_at, Some(1_716_883_200_123));
    }

    #[test]
    fn a_missing_timestamp_falls_back_to_the_receipt_time() {
        let event = parse(
            br#"{"type":"user.deleted","data":{"id":"user_1","deleted":true}}"#,
            RECEIVED,
        )
        .unwrap();
        assert_eq!(event.timestamp, RECEIVED);
        assert_eq!(event.object_id(), Some("user_1"));
    }

    #[test]
    fn unknown_types_are_unhandled_not_errors() {
        let event = parse(
            br#"{"type":"something.new","data":{"x":"\u0000"}}"#,
            RECEIVED,
        )
        .unwrap();
        assert_eq!(event.data, EventData::Unhandled);
    }

    #[test]
    fn unusable_bodies_are_permanent_errors_that_name_the_field() {
        assert!(matches!(
            parse(b"not json", RECEIVED),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(parse(b"[1,2]", RECEIVED), Err(ParseError::NoType));
        assert_eq!(parse(br#"{"data":{}}"#, RECEIVED), Err(ParseError::NoType));
        assert_eq!(parse(br#"{"type":7}"#, RECEIVED), Err(ParseError::NoType));
        let missing = parse(
            br#"{"type":"user.created","data":{"first_name":"Jo"}}"#,
            RECEIVED,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(missing, "user.created: data: missing field `id`");
        let mistyped = parse(
            br#"{"type":"user.created","data":{"id":"user_1","email_addresses":[{"id":5,"email_address":"jane@x.test"}]}}"#,
            RECEIVED,
        )
        .unwrap_err()
        .to_string();
        assert!(
            mistyped.starts_with("user.created: data.email_addresses[0].id: invalid type"),
            "{mistyped}"
        );
        let quoted = parse(
            br#"{"type":"user.created","data":{"id":"user_1","banned":"jane@x.test"}}"#,
            RECEIVED,
        )
        .unwrap_err()
        .to_string();
        assert!(!quoted.contains("jane"), "{quoted}");
        assert_eq!(
            parse(br#"{"type":"user.created","data":null}"#, RECEIVED)
                .unwrap_err()
                .to_string(),
            "user.created: data: missing"
        );
        assert_eq!(
            parse(
                br#"{"type":"user.created","data":{"id":"user_\u0000"}}"#,
                RECEIVED
            ),
            Err(ParseError::NulCharacter)
        );
    }

    #[test]
    fn the_request_behind_an_event_is_kept() {
        let event = parse(
            br#"{"type":"user.created","event_attributes":{"http_request":{"client_ip":"10.0.0.1","user_agent":"UA"}},"data":{"id":"user_1"}}"#,
            RECEIVED,
        )
        .unwrap();
        assert_eq!(
            event.http_request.unwrap().client_ip.as_deref(),
            Some("10.0.0.1")
        );
    }
}
