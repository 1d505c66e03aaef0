//! One module per Clerk object: its table's rows, the advisory-lock keys its events take,
//! what a user's deletion erases of it (`Table::personal`), and its batch statements.

pub(crate) mod domain;
pub(crate) mod invitation;
pub(crate) mod membership;
pub(crate) mod message;
pub(crate) mod organization;
pub(crate) mod payment_attempt;
pub(crate) mod permission;
pub(crate) mod role;
pub(crate) mod session;
pub(crate) mod subscription;
pub(crate) mod subscription_item;
pub(crate) mod user;
pub(crate) mod waitlist_entry;

use crate::apply::statement::Table;

/// Every object's table but the users' own (`user` writes users, their addresses and
/// tombstones itself). A user's deletion erases what these hold of the user (`personal`),
/// and the change feed keeps deleted objects deleted (`deletable`), both read from here:
/// a new object's table goes in this list, and a test fails until it does.
pub(crate) static TABLES: [&Table; 12] = [
    &session::TABLE,
    &organization::TABLE,
    &membership::TABLE,
    &invitation::TABLE,
    &domain::TABLE,
    &role::TABLE,
    &permission::TABLE,
    &message::TABLE,
    &waitlist_entry::TABLE,
    &subscription::TABLE,
    &subscription_item::TABLE,
    &payment_attempt::TABLE,
];

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    /// The JSON keys of a row, in order.
    fn keys_of(row: &impl Serialize) -> Vec<String> {
        match serde_json::to_value(row).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("a row is an object: {other}"),
        }
    }

    fn assert_covers(checked: &mut Vec<&'static str>, table: &Table, row: &impl Serialize) {
        checked.push(table.name);
        let mut keys = keys_of(row);
        let mut columns: Vec<String> = table.columns.iter().map(|c| (*c).to_owned()).collect();
        keys.sort();
        columns.sort();
        assert_eq!(
            keys, columns,
            "{}: the row and the columns written differ",
            table.name
        );
    }

    #[test]
    fn every_row_holds_exactly_the_columns_its_table_writes() {
        let mut checked = Vec::new();
        assert_covers(
            &mut checked,
            &session::TABLE,
            &session::SessionRow::default(),
        );
        assert_covers(
            &mut checked,
            &organization::TABLE,
            &organization::OrganizationRow::default(),
        );
        assert_covers(
            &mut checked,
            &membership::TABLE,
            &membership::MembershipRow::default(),
        );
        assert_covers(
            &mut checked,
            &invitation::TABLE,
            &invitation::InvitationRow::default(),
        );
        assert_covers(&mut checked, &domain::TABLE, &domain::DomainRow::default());
        assert_covers(&mut checked, &role::TABLE, &role::RoleRow::default());
        assert_covers(
            &mut checked,
            &permission::TABLE,
            &permission::PermissionRow::default(),
        );
        assert_covers(
            &mut checked,
            &message::TABLE,
            &message::MessageRow::default(),
        );
        assert_covers(
            &mut checked,
            &waitlist_entry::TABLE,
            &waitlist_entry::WaitlistRow::default(),
        );
        assert_covers(
            &mut checked,
            &subscription::TABLE,
            &subscription::SubscriptionRow::default(),
        );
        assert_covers(
            &mut checked,
            &subscription_item::TABLE,
            &subscription_item::ItemRow::default(),
        );
        assert_covers(
            &mut checked,
            &payment_attempt::TABLE,
            &payment_attempt::PaymentRow::default(),
        );
        let mut registered: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        checked.sort_unstable();
        registered.sort_unstable();
        assert_eq!(checked, registered, "a table whose row is not checked here");
    }

    /// A module with no entry in `TABLES` would hold personal data no user's deletion
    /// erases, and deleted rows the change feed announces as back.
    #[test]
    fn every_object_module_has_its_table_in_the_registry() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/apply/objects");
        let mut modules: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".rs").map(str::to_owned))
            .filter(|name| name != "mod" && name != "user")
            .collect();
        modules.sort();
        assert_eq!(modules.len(), TABLES.len(), "modules: {modules:?}");
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len(), "a table registered twice");
    }

    #[test]
    fn personal_columns_are_columns_of_their_table() {
        let personal_tables: Vec<&str> = TABLES
            .iter()
            .filter(|t| t.personal.is_some())
            .map(|t| t.name)
            .collect();
        assert_eq!(
            personal_tables,
            ["sessions", "organization_invitations", "messages"]
        );
        for table in TABLES.iter().filter(|t| t.personal.is_some()) {
            let personal = table.personal.as_ref().expect("holds personal data");
            assert!(table.columns.contains(&personal.owner), "{}", table.name);
            for column in personal.columns {
                assert!(table.columns.contains(column), "{}.{column}", table.name);
            }
        }
    }
}
