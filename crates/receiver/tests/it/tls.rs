//! `rediss://`: the receiver reaches a TLS-only Redis whose certificate a CA in
//! `SSL_CERT_FILE` signed (as with a managed Redis and its provider's CA).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::{Delivery, SECRET};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and a certificate it signed for `localhost`.
fn certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(clerk_sync_test_support::unique_prefix());
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=clerk-sync test CA",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
    );
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_rediss_url_reaches_a_tls_redis_trusting_the_ca_in_ssl_cert_file() {
    let dir = certificates();
    let redis_port = free_port();
    let _redis = Killed(
        Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &redis_port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.pem",
            ])
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed"),
    );
    let port = free_port();
    let receiver = |cert_file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_clerk-sync-receiver"))
            .env_clear()
            .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
            .env("REDIS_URL", format!("rediss://localhost:{redis_port}"))
            .env("SSL_CERT_FILE", cert_file)
            .env("RECEIVER_BIND", format!("127.0.0.1:{port}"))
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let answers = async |client: &reqwest::Client, path: &str| {
        clerk_sync_test_support::try_eventually(Duration::from_secs(30), || async {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await
    };

    let trusted = Killed(receiver(&dir.join("ca.pem")));
    assert!(
        answers(&client, "/readyz").await,
        "the receiver reaches Redis over TLS"
    );
    let delivery = Delivery::signed("msg_tls", br#"{"type":"user.created"}"#);
    let response = client
        .post(format!("{base}/webhooks/clerk"))
        .header("svix-id", &delivery.id)
        .header("svix-timestamp", &delivery.timestamp)
        .header("svix-signature", &delivery.signature)
        .body(delivery.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "queued over TLS");
    drop(trusted);

    // Without the CA the certificate is not trusted: never ready, never a 2xx.
    let _untrusted = Killed(receiver(&dir.join("server.key")));
    assert!(answers(&client, "/healthz").await, "the receiver runs");
    let status = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 503);
    let _ = std::fs::remove_dir_all(&dir);
}
