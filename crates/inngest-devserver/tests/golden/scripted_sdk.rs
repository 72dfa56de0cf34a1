//! A scripted SDK: an HTTP endpoint that hands every execution request to the test and answers
//! what the test tells it to, as the proxies of Inngest's own tests do between the server and
//! their fixture. It plays the official fixture's side, so the server under test can be held
//! to what those tests expect, request by request.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How long the endpoint holds a request for the test to answer before it gives up with a 500.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// One execution request the server sent.
pub struct Incoming {
    /// The `fnId` query parameter.
    pub fn_id: String,
    /// The `stepId` query parameter.
    pub step_id: String,
    /// The `X-Inngest-Step-ID` header.
    pub step_header: Option<String>,
    /// The JSON body.
    pub body: Value,
    reply: oneshot::Sender<Answer>,
}

impl Incoming {
    /// Answers the request.
    pub fn answer(self, answer: Answer) {
        // The server may have given up on the call; the test notices through what follows.
        let _ = self.reply.send(answer);
    }
}

/// What the scripted SDK answers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body as sent.
    pub body: String,
}

/// The headers every answer of the Go SDK (0.15.1, the fixture's) carries.
fn sdk_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        ("x-inngest-sdk".into(), "go:v0.15.1".into()),
        ("x-inngest-req-version".into(), "2".into()),
    ]
}

impl Answer {
    /// 206 with these ops.
    pub fn ops(ops: Value) -> Self {
        Self {
            status: 206,
            headers: sdk_headers(),
            body: ops.to_string(),
        }
    }

    /// 200: the function returned `output`.
    pub fn done(output: Value) -> Self {
        Self {
            status: 200,
            headers: sdk_headers(),
            body: output.to_string(),
        }
    }

    /// A function-level error with this status and body.
    pub fn error(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: sdk_headers(),
            body: body.to_string(),
        }
    }

    /// An answer that does not come from an SDK: no Inngest headers at all.
    pub fn not_sdk(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.to_string(),
        }
    }

    /// Adds `X-Inngest-No-Retry: true`.
    pub fn no_retry(mut self) -> Self {
        self.headers
            .push(("x-inngest-no-retry".into(), "true".into()));
        self
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.headers.push(("retry-after".into(), value.into()));
        self
    }

    /// Whether the answer carries `X-Inngest-No-Retry: true`.
    pub fn no_retry_set(&self) -> bool {
        self.headers
            .iter()
            .any(|(k, v)| k == "x-inngest-no-retry" && v == "true")
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut resp = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            self.body,
        )
            .into_response();
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::try_from(k),
                axum::http::HeaderValue::try_from(v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

/// The endpoint, serving on a port of its own until dropped.
pub struct ScriptedSdk {
    url: String,
    rx: mpsc::Receiver<Incoming>,
    task: tokio::task::JoinHandle<()>,
}

async fn endpoint(
    State(tx): State<mpsc::Sender<Incoming>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    if method != axum::http::Method::POST {
        return StatusCode::OK.into_response();
    }
    let (reply, answer) = oneshot::channel();
    let incoming = Incoming {
        fn_id: query.get("fnId").cloned().unwrap_or_default(),
        step_id: query.get("stepId").cloned().unwrap_or_default(),
        step_header: headers
            .get("x-inngest-step-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
        reply,
    };
    if tx.send(incoming).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok(answer)) => answer.into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "the test did not answer").into_response(),
    }
}

impl ScriptedSdk {
    /// Binds 127.0.0.1:0 and serves.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let (tx, rx) = mpsc::channel(64);
        let router = axum::Router::new().fallback(endpoint).with_state(tx);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{addr}/api/inngest"),
            rx,
            task,
        }
    }

    /// The serve URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next request, or a panic naming what was awaited.
    pub async fn next(&mut self, within: Duration, what: &str) -> Incoming {
        match tokio::time::timeout(within, self.next_any()).await {
            Ok(Some(incoming)) => incoming,
            _ => panic!("{what}: no request within {within:?}"),
        }
    }

    /// The next request, whenever it comes (`None` once the endpoint is gone).
    pub async fn next_any(&mut self) -> Option<Incoming> {
        self.rx.recv().await
    }

    /// Asserts that no request arrives for `d`.
    pub async fn quiet(&mut self, d: Duration, what: &str) {
        if let Ok(Some(incoming)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!(
                "{what}: unexpected request stepId={} attempt={} stack={}",
                incoming.step_id, incoming.body["ctx"]["attempt"], incoming.body["ctx"]["stack"]
            );
        }
    }
}

impl Drop for ScriptedSdk {
    fn drop(&mut self) {
        self.task.abort();
    }
}
