//! A TCP proxy that can be switched off, to take a dependency "down" for one test without
//! touching the server every other test shares.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards to `target` while up; while down, refuses new connections (accepts and closes
/// them) and cuts every open one.
pub struct Proxy {
    port: u16,
    switch: watch::Sender<bool>,
}

impl Proxy {
    /// Starts forwarding to `target` on a free local port.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (switch, up) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*up.borrow() {
                    continue;
                }
                let mut up = up.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = up.wait_for(|up| !up) => {}
                    }
                });
            }
        });
        Self { port, switch }
    }

    /// The local port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.switch.send_replace(false);
    }

    /// Forwards again.
    pub fn up(&self) {
        self.switch.send_replace(true);
    }
}
