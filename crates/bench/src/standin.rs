//! A stand-in for Clerk's Backend API that serves a million users without holding them:
//! user `n` is generated on each request, full-size (the corpus's `user.updated` object
//! with two addresses, a phone and an OAuth account, about 2.3 KB), so the reconciliation
//! measured reads what a real instance would send. Plain HTTP/1.1 with keep-alive, enough
//! for the one client that reads it.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The instance it answers `GET /v1/instance` with.
pub const INSTANCE: &str = "ins_2benchStandIn00000000000A";
/// Every user's version, ms.
pub const VERSION: i64 = 1_716_883_200_000;

const N_MARK: &str = "9876543";
const V_MARK: &str = "1111111111111";

/// The id of user `n`.
pub fn user_id(n: usize) -> String {
    format!("user_bench{n:07}")
}

/// Serves `users` users until the process ends; returns its base URL.
pub async fn start(users: usize) -> anyhow::Result<String> {
    let template = template()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shared = Arc::new((template, users));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = serve(stream, &shared.0, shared.1).await;
            });
        }
    });
    Ok(url)
}

/// User `N_MARK` at version `V_MARK`, as text, for [`user`] to fill in.
fn template() -> anyhow::Result<String> {
    let mark: usize = N_MARK.parse()?;
    let event: serde_json::Value =
        serde_json::from_slice(&crate::payload::user_updated(mark, V_MARK.parse()?))?;
    let text = event["data"].to_string();
    anyhow::ensure!(text.contains(N_MARK), "the template names its user");
    Ok(text)
}

fn user(template: &str, n: usize) -> String {
    template
        .replace(N_MARK, &format!("{n:07}"))
        .replace(V_MARK, &VERSION.to_string())
}

async fn serve(stream: TcpStream, template: &str, users: usize) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let target = line
            .split_whitespace()
            .nth(1)
            .context("a request line")?
            .to_owned();
        loop {
            let mut header = String::new();
            if read.read_line(&mut header).await? == 0 || header.trim().is_empty() {
                break;
            }
        }
        let (status, body) = answer(&target, template, users);
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(body.as_bytes()).await?;
    }
}

fn answer(target: &str, template: &str, users: usize) -> (&'static str, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let not_found = || {
        (
            "404 Not Found",
            r#"{"errors":[{"message":"not found","long_message":"not found","code":"resource_not_found"}]}"#
                .to_owned(),
        )
    };
    match path {
        "/v1/instance" => (
            "200 OK",
            format!(r#"{{"object":"instance","id":"{INSTANCE}","environment_type":"production"}}"#),
        ),
        "/v1/users" => {
            let offset = param("offset").unwrap_or(0).min(users);
            let end = (offset + param("limit").unwrap_or(10).min(500)).min(users);
            let page: Vec<String> = (offset..end).map(|n| user(template, n)).collect();
            ("200 OK", format!("[{}]", page.join(",")))
        }
        "/v1/organizations" | "/v1/organization_memberships" => {
            ("200 OK", r#"{"data":[],"total_count":0}"#.to_owned())
        }
        _ => match path
            .strip_prefix("/v1/users/user_bench")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n < users => ("200 OK", user(template, n)),
            _ => not_found(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_generated_full_size_with_their_own_ids() {
        let template = template().unwrap();
        let one = user(&template, 42);
        let value: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(value["id"], user_id(42));
        assert_eq!(value["updated_at"], VERSION);
        assert!(one.len() > 2_000, "{} bytes", one.len());
        let (_, page) = answer("/v1/users?limit=500&offset=999990", &template, 1_000_000);
        let page: Vec<serde_json::Value> = serde_json::from_str(&page).unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(
            answer("/v1/users/user_bench1000000", &template, 1_000_000).0,
            "404 Not Found"
        );
    }
}
