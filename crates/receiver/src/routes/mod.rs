//! One handler per file.

pub mod health;
pub mod webhook;
