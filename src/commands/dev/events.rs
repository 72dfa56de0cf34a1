//! The `--send` events: posted to the dev server's event API once the app first serves.

use serde_json::Value;

use super::console::{Console, Source};

/// Why an event was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The server could not be reached.
    #[error("the server could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// The server answered with an error.
    #[error("the server answered {0}")]
    Refused(reqwest::StatusCode),
}

/// Posts `event` to the server at `url`; returns the ids it answers with.
pub async fn send(http: &reqwest::Client, url: &str, event: &Value) -> Result<Value, SendError> {
    let resp = http
        .post(format!("{url}/e/dev"))
        .json(event)
        .send()
        .await
        .map_err(SendError::Unreachable)?;
    if !resp.status().is_success() {
        return Err(SendError::Refused(resp.status()));
    }
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Ok(body["ids"].clone())
}

/// Sends each event in turn, saying how each went.
pub async fn send_all(console: &Console, url: &str, events: Vec<Value>) {
    let http = super::http_client();
    for event in events {
        let name = event.get("name").and_then(Value::as_str).unwrap_or("?");
        match send(&http, url, &event).await {
            Ok(ids) => console.line(Source::Dev, &format!("sent {name} (ids {ids})")),
            Err(e) => console.line(
                Source::Dev,
                &format!("sending {name}: {}", inngest_runtime::error::chain(&e)),
            ),
        }
    }
}
