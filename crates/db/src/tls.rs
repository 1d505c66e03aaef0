//! TLS to PostgreSQL, checked against the roots a managed service's certificate chains to.

use std::sync::{Arc, OnceLock};

use tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS connector for `sslmode=require`: the server's certificate must chain to one of
/// Mozilla's roots or the system's (which honour `SSL_CERT_FILE`, for a provider's own CA,
/// as managed services such as RDS need), and name the host. That is stricter than libpq's
/// `require`, which encrypts without checking whom it talks to.
pub(crate) fn connector() -> MakeRustlsConnect {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(system_roots = added, "PostgreSQL TLS roots loaded");
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    MakeRustlsConnect::new((**config).clone())
}
