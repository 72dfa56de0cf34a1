//! The axum adapter over real TCP: how it reads a request's body (limit, time, malformed
//! framing) and which path it hands the handler when mounted under `Router::nest`.

use std::time::Duration;

use inngest_runtime::config::Config;
use inngest_runtime::serve::{self, ServeHandler};
use inngest_runtime::{App, Context, Event, Inngest, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::{register_api, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Pinged {}
impl Event for Pinged {
    const NAME: &'static str = "test/pinged";
}

struct Pong;
impl Workflow for Pong {
    type Event = Pinged;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("pong")
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<Value, WorkflowError> {
        Ok(json!("pong"))
    }
}

fn handler(vars: Vec<(&str, String)>) -> ServeHandler {
    let client = Inngest::with_config("adapter-test", Config::from_vars(vars));
    let app = App::builder(client)
        .register(Pong)
        .build()
        .expect("a valid app");
    ServeHandler::new(app)
}

/// Writes `head` (and nothing more) to the server, then reads its answer: status line, headers
/// and as much body as `content-length` says, as text (or what came before the server closed).
async fn exchange(addr: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(head.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |answer: &[u8]| {
        let text = String::from_utf8_lossy(answer);
        let Some((headers, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        body.len() >= length
    };
    while !complete(&answer) {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or_default()
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_with_the_sdk_headers() {
    let handler = handler(vec![]).body_timeout(Duration::from_millis(200));
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint_with(handler));
    let (addr, task) = serve(router).await;

    // 10 of the 100 bytes announced, then nothing.
    let answer = exchange(
        &addr,
        "POST /api/inngest?fnId=adapter-test-pong&stepId=step HTTP/1.1\r\nhost: x\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"event\":",
    )
    .await;
    assert_eq!(status_of(&answer), "408", "{answer}");
    assert!(answer.contains("x-inngest-sdk: "), "{answer}");
    assert!(
        answer.contains(r#"{"message":"request body did not arrive within 200ms"}"#),
        "{answer}"
    );
    task.abort();
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_and_an_oversized_one_413() {
    let handler = handler(vec![]).body_limit(1024);
    let router = axum::Router::new().route("/api/inngest", serve::axum::endpoint_with(handler));
    let (addr, task) = serve(router).await;

    let malformed = exchange(
        &addr,
        "POST /api/inngest?fnId=adapter-test-pong HTTP/1.1\r\nhost: x\r\n\
         transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&malformed), "400", "{malformed}");
    assert!(malformed.contains("x-inngest-sdk: "), "{malformed}");
    assert!(
        malformed.contains("request body could not be read"),
        "{malformed}"
    );

    let chunk = "a".repeat(2000);
    let oversized = exchange(
        &addr,
        &format!(
            "POST /api/inngest?fnId=adapter-test-pong HTTP/1.1\r\nhost: x\r\n\
             transfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            chunk.len()
        ),
    )
    .await;
    assert_eq!(status_of(&oversized), "413", "{oversized}");
    assert!(oversized.contains("x-inngest-sdk: "), "{oversized}");
    assert!(
        oversized.contains("request body is over the limit of 1024 bytes"),
        "{oversized}"
    );
    task.abort();
}

/// `Router::nest` strips its prefix from the path the handler sees; the URL a sync registers
/// must still be the one Inngest calls.
#[tokio::test]
async fn a_nested_endpoint_registers_its_whole_path() {
    let (api, urls, api_task) = register_api().await;
    let handler = handler(vec![
        ("INNGEST_SIGNING_KEY", "signkey-test-12345678".into()),
        ("INNGEST_API_BASE_URL", api),
        ("INNGEST_SERVE_ORIGIN", "https://shop.example".into()),
    ]);
    let router = axum::Router::new().nest(
        "/api",
        axum::Router::new().route("/inngest", serve::axum::endpoint_with(handler)),
    );
    let (addr, task) = serve(router).await;

    let answer = exchange(
        &addr,
        "PUT /api/inngest HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&answer), "200", "{answer}");
    assert_eq!(
        *urls.lock().expect("not poisoned"),
        ["https://shop.example/api/inngest"]
    );
    task.abort();
    api_task.abort();
}
