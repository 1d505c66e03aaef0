//! One subcommand per file.

pub mod migrate;
