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

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;
    use crate::apply::statement::Table;

    /// The JSON keys of a row, in order.
    fn keys_of(row: &impl Serialize) -> Vec<String> {
        match serde_json::to_value(row).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("a row is an object: {other}"),
        }
    }

    fn assert_covers(table: &Table, row: &impl Serialize) {
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
        assert_covers(&session::TABLE, &session::SessionRow::default());
        assert_covers(
            &organization::TABLE,
            &organization::OrganizationRow::default(),
        );
        assert_covers(&membership::TABLE, &membership::MembershipRow::default());
        assert_covers(&invitation::TABLE, &invitation::InvitationRow::default());
        assert_covers(&domain::TABLE, &domain::DomainRow::default());
        assert_covers(&role::TABLE, &role::RoleRow::default());
        assert_covers(&permission::TABLE, &permission::PermissionRow::default());
        assert_covers(&message::TABLE, &message::MessageRow::default());
        assert_covers(
            &waitlist_entry::TABLE,
            &waitlist_entry::WaitlistRow::default(),
        );
        assert_covers(
            &subscription::TABLE,
            &subscription::SubscriptionRow::default(),
        );
        assert_covers(
            &subscription_item::TABLE,
            &subscription_item::ItemRow::default(),
        );
        assert_covers(
            &payment_attempt::TABLE,
            &payment_attempt::PaymentRow::default(),
        );
    }

    #[test]
    fn personal_columns_are_columns_of_their_table() {
        for table in [&session::TABLE, &message::TABLE, &invitation::TABLE] {
            let personal = table.personal.as_ref().expect("holds personal data");
            assert!(table.columns.contains(&personal.owner), "{}", table.name);
            for column in personal.columns {
                assert!(table.columns.contains(column), "{}.{column}", table.name);
            }
        }
    }
}
