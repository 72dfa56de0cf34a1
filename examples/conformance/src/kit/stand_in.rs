//! A stand-in for the Inngest API that an SDK calls while answering (sync's `/fn/register`,
//! `step.sendEvent`'s `/e/{key}`, checkpointing's `/v1/checkpoint/…`). It answers as the
//! recordings' API did and keeps every request it was sent.
//!
//! A mock, and says so: the real Inngest server cannot run on this machine. It is only where
//! the SDK under test sends its own calls; what is compared is the SDK's answers.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The largest request body kept.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A request the SDK sent to the API.
#[derive(Debug, Clone)]
pub struct SideRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Headers, lowercased.
    pub headers: Map<String, Value>,
    /// The body as JSON (`null` when it was not JSON).
    pub body: Value,
    /// The status the stand-in answered.
    pub reply_status: u16,
}

impl SideRequest {
    /// As the corpus stores it in `NN-side-requests.json`.
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "reply_status": self.reply_status,
            "body_json": self.body,
        })
    }
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<SideRequest>>,
    checkpoint_status: AtomicU16,
}

/// The running stand-in. Stops when dropped.
pub struct StandInApi {
    origin: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl StandInApi {
    /// Serves on `listener` (bound by the caller, e.g. to `127.0.0.1:0`).
    pub fn serve(listener: TcpListener) -> std::io::Result<Self> {
        let origin = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            checkpoint_status: AtomicU16::new(200),
            ..Shared::default()
        });
        let router = axum::Router::new()
            .fallback(any(answer))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!("stand-in API stopped: {e}");
            }
        });
        Ok(Self {
            origin,
            shared,
            task,
        })
    }

    /// Binds `127.0.0.1:0` and serves there.
    pub async fn start() -> std::io::Result<Self> {
        Self::serve(TcpListener::bind("127.0.0.1:0").await?)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Answers checkpoint calls with this status from now on (200 by default).
    pub fn set_checkpoint_status(&self, status: u16) {
        self.shared
            .checkpoint_status
            .store(status, Ordering::Relaxed);
    }

    /// Takes the requests received since the last call.
    pub fn take(&self) -> Vec<SideRequest> {
        std::mem::take(
            &mut *self
                .shared
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for StandInApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let url = parts.uri.to_string();
    let path = parts.uri.path();
    let (status, reply) = if path.starts_with("/fn/register") {
        (200, json!({ "ok": true, "modified": true }))
    } else if path.starts_with("/e/") {
        let n = json.as_array().map_or(1, Vec::len);
        let ids: Vec<String> = (0..n).map(|i| format!("01JRECORDEREVENT{i:010}")).collect();
        (200, json!({ "ids": ids, "status": 200 }))
    } else if path.starts_with("/v1/checkpoint") {
        match shared.checkpoint_status.load(Ordering::Relaxed) {
            200 => (200, json!({ "data": {} })),
            s => (s, json!({ "error": "not supported", "status": s })),
        }
    } else {
        (200, json!({ "ok": true }))
    };
    let headers = super::corpus::headers_json(&parts.headers);
    shared
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(SideRequest {
            method: parts.method.to_string(),
            url,
            headers,
            body: json,
            reply_status: status,
        });
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    (status, axum::Json(reply)).into_response()
}
