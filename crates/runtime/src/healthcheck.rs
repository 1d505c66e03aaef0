//! The daemons' `healthcheck` subcommand, for container images without curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The `healthcheck` subcommand of the daemons: `GET /healthz` on their own listener,
/// exit 0 on 200 and 1 otherwise. Lets container images do without curl.
pub async fn healthcheck(bind: SocketAddr) -> ExitCode {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let target = SocketAddr::new(ip, bind.port());
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<bool, std::io::Error>(
            head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"),
        )
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => {
            eprintln!("unhealthy: {target}/healthz did not answer 200");
            ExitCode::FAILURE
        }
        Ok(Err(error)) => {
            eprintln!("unhealthy: cannot reach {target}: {error}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: {target} did not answer within 3 s");
            ExitCode::FAILURE
        }
    }
}
