//! The operator console (`clerk-sync console`): the pipeline at a glance, dead letters
//! grouped by type and reason and replayed or purged in bulk with a plan first, scheduled
//! retries, one object's whole story, the change feed live, and the audit log of every
//! action taken here.
//!
//! Pages are rendered on the server from templates checked at compile time (askama), with
//! their stylesheet and one small script embedded in the binary; a strict
//! `Content-Security-Policy` allows nothing inline. Every page answers JSON when asked with
//! `Accept: application/json`, from the same view its template renders.
//!
//! It reads Redis and PostgreSQL as the CLI does, through the queue's and the database's
//! crates: a bulk replay moves each dead letter with the same atomic script as
//! `clerk-sync dlq replay`. Every read is bounded: pages of entries by key, the dead letters
//! through the index the dead-letter step keeps, never a scan of all of Redis or of a table.

mod assets;
mod auth;
mod extract;
mod feed;
mod pages;
mod respond;
mod settings;
mod state;
mod store;

use std::net::TcpListener;

pub use auth::{COOKIE, Identity, Role};
pub use pages::routes;
pub use settings::{ConsoleArgs, Tokens, parse_tokens};
pub use state::{Console, ConsoleConfig};

/// Serves the console on `listener` until `shutdown` resolves.
pub async fn serve(
    console: Console,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let server = clerk_sync_runtime::http::serve(
        listener,
        clerk_sync_runtime::http::Limits::INTERNAL,
        pages::routes(console),
    )?;
    let handle = server.handle();
    tokio::select! {
        result = server => result,
        () = shutdown => {
            handle.stop(true).await;
            Ok(())
        }
    }
}
