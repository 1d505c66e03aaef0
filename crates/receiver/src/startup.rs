//! Binding, serving and stopping the receiver.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use anyhow::Context as _;
use clerk_sync_queue::Pool;
use clerk_sync_queue::{Enqueuer, Keys};
use clerk_sync_runtime::http::{Limits, healthz};
use clerk_sync_signature::Verifier;

use crate::Config;
use crate::routes::{health, webhook};

/// What every handler shares.
pub struct AppState {
    pub(crate) verifier: Verifier,
    pub(crate) pool: Pool,
    pub(crate) tolerance_secs: u64,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_read_timeout: Duration,
    pub(crate) clock: crate::Clock,
}

/// A bound, not yet running receiver. Binding happens in [`Application::build`], so a test
/// can bind port 0 and read the port before serving.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds the listener and prepares the server. Redis is connected lazily, so the
    /// receiver starts (and answers 503) while Redis is still coming up.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = clerk_sync_queue::connect(
            config.redis_url.expose(),
            64,
            config.enqueue.timeout,
            config.enqueue.timeout,
        )?;
        let keys = Keys::new(&config.stream_prefix);
        let state = web::Data::new(AppState {
            verifier: Verifier::new(config.secrets.clone(), config.tolerance_secs),
            pool: pool.clone(),
            tolerance_secs: config.tolerance_secs,
            max_body_bytes: config.max_body_bytes,
            body_read_timeout: config.body_read_timeout,
            clock: config.clock.clone(),
        });
        crate::metrics::handle();
        if crate::settings::uses_development_secret(&config.secrets) {
            tracing::warn!(
                "CLERK_WEBHOOK_SIGNING_SECRET is the published development secret: anyone can sign \
                 webhooks this receiver accepts; set your Clerk endpoint's own secret"
            );
        }

        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let enqueue = config.enqueue.clone();
        let server = clerk_sync_runtime::http::serve(listener, Limits::RECEIVER, move |config| {
            // One enqueuer per HTTP worker thread, built on it: its committers and its Redis
            // connections run on that thread's runtime, so a request, its group's script
            // call and its answer never wait for another thread to be scheduled.
            let enqueuer = Enqueuer::new(pool.clone(), keys.clone(), enqueue.clone());
            config
                .app_data(state.clone())
                .app_data(web::Data::new(enqueuer))
                .route("/webhooks/clerk", web::post().to(webhook::receive))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(health::readyz))
                .route("/metrics", web::get().to(health::metrics));
        })?;
        tracing::info!(
            port,
            redis = %config.redis_url,
            prefix = %config.stream_prefix,
            "receiver listening"
        );
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, finishes what is in flight
    /// (every accepted request is answered after its enqueue), and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        clerk_sync_runtime::shutdown_signal().await;
        handle.stop(true).await;
        server.await.context("server task failed")??;
        tracing::info!("receiver stopped");
        Ok(())
    }

    /// Serves until the returned server is stopped; for tests that run the app in-process.
    pub fn into_server(self) -> Server {
        self.server
    }
}
