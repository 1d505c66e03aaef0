//! README's documentation of the database is what the code makes: every table and column
//! the migrations create has its row in README's table of tables, and every object type the
//! change feed names is in README's list of them. A new object fails here until documented.

use std::collections::{BTreeMap, BTreeSet};

use clerk_sync_db::DeleteMode;

use crate::helpers::db;

const README: &str = include_str!("../../../../README.md");

/// The words in backticks of a README table's cells, by the row's first cell.
fn documented(header: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut lines = README
        .lines()
        .skip_while(|line| line.trim() != header)
        .skip(2);
    let mut rows = BTreeMap::new();
    for line in lines.by_ref().take_while(|line| line.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_owned();
        let words: BTreeSet<String> = cells[2..]
            .iter()
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .flat_map(|quoted| quoted.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect();
        rows.insert(name, words);
    }
    assert!(!rows.is_empty(), "README has no table under {header:?}");
    rows
}

#[tokio::test]
async fn readme_documents_every_table_and_column_the_migrations_make() {
    let mut db = db().await;
    let rows = db
        .rows(
            "SELECT c.table_name::text AS table, c.column_name::text AS column \
             FROM information_schema.columns c JOIN information_schema.tables t \
                 ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = 'clerk' AND t.table_type = 'BASE TABLE' \
                 AND c.table_name <> '__diesel_schema_migrations'",
        )
        .await;
    let mut made: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in &rows {
        made.entry(row["table"].as_str().unwrap().to_owned())
            .or_default()
            .insert(row["column"].as_str().unwrap().to_owned());
    }
    let documented = documented("| table | key | columns |");
    assert_eq!(
        made.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "README's tables and the migrations' differ"
    );
    for (table, columns) in &made {
        // README says once that every object table has it.
        for column in columns.iter().filter(|c| *c != "last_svix_id") {
            assert!(
                documented[table].contains(column),
                "README does not document {table}.{column}"
            );
        }
    }
}

#[tokio::test]
async fn readme_lists_every_object_type_the_change_feed_names() {
    let mut db = db().await;
    for (i, (_, body)) in clerk_sync_test_support::clerk_payloads().iter().enumerate() {
        let event = clerk_sync_events::parse(body, 0).unwrap();
        db.apply(&format!("msg_{i:02}"), &event, DeleteMode::Soft)
            .await;
    }
    let named: BTreeSet<String> = db
        .rows("SELECT DISTINCT object_type FROM clerk.sync_changes")
        .await
        .iter()
        .map(|row| row["object_type"].as_str().unwrap().to_owned())
        .collect();
    let listed = documented("| column | |")
        .remove("object_type")
        .expect("README's change feed documents object_type");
    assert_eq!(named, listed, "the feed's object types and README's differ");
}
