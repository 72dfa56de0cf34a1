//! The HTTP surface (axum is only here): the event API, sync, checkpoints, the runs API, time
//! control, the change stream and the dashboard. Every error is a 4xx/5xx JSON body `{error, status}`.

mod api;
mod checkpoint;
mod connect;
mod dashboard;
mod dev;
mod events;
mod guard;
pub(crate) mod listener;
mod register;
mod stream;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::clock::Clock;
use crate::engine::{CheckpointError, EngineHandle, EventError, Stopped};
use crate::error_chain;
use crate::registry::RegisterError;
use crate::sync::AppSyncer;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct Shared {
    pub engine: EngineHandle,
    pub clock: Clock,
    pub syncer: AppSyncer,
    /// The last sync attempt of each app URL.
    pub sync_log: crate::sync::SyncLog,
    /// Hosts allowed besides local and private names (see [`guard`]).
    pub allowed_hosts: Vec<String>,
    /// Connect workers.
    pub gateway: crate::gateway::Gateway,
    /// This server's own URL (`http://host:port`).
    pub url: String,
}

/// A JSON error answer.
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<Stopped> for ApiError {
    fn from(e: Stopped) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::Stopped(s) => s.into(),
            EventError::Invalid {
                problem: crate::engine::InvalidEvent::TooLarge,
                ..
            }
            | EventError::TooMany(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, error_chain(&e)),
            EventError::Invalid { .. } => Self::bad_request(error_chain(&e)),
            EventError::Store(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, error_chain(&e)),
        }
    }
}

impl From<crate::engine::AdvanceError> for ApiError {
    fn from(e: crate::engine::AdvanceError) -> Self {
        match e {
            crate::engine::AdvanceError::Stopped(s) => s.into(),
            crate::engine::AdvanceError::TooFar(_) => Self::bad_request(error_chain(&e)),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Stopped(s) => s.into(),
            RegisterError::NoAppName | RegisterError::Function { .. } => {
                Self::bad_request(error_chain(&e))
            }
            RegisterError::TakenBy { .. } => Self::new(StatusCode::CONFLICT, error_chain(&e)),
        }
    }
}

impl From<CheckpointError> for ApiError {
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Stopped(s) => s.into(),
            CheckpointError::UnknownRun(_) => Self::not_found(error_chain(&e)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "status": self.status.as_u16() });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Refuses a body that is not declared JSON (`415`): a web page can send `text/plain` to any
/// origin without asking first, but not `application/json`.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON, with Content-Type: application/json",
        ))
    }
}

/// Parses a JSON body, or says what is wrong with it.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// The largest event request (Inngest's event API limit).
pub(crate) const MAX_EVENT_REQUEST: usize = 3 * 1024 * 1024;

/// The largest body of any other request (syncs with many functions, checkpoints).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Makes every error answer JSON `{error, status}`, also those axum and its extractors make
/// themselves (405, 413, a body that cannot be read).
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return resp;
    }
    let text = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, message).into_response()
}

/// The longest URI taken (hyper itself answers `414` past 64 KiB, without a body).
const MAX_URI: usize = 8 * 1024;

/// Answers `414` as JSON to a URI longer than [`MAX_URI`].
async fn uri_limit(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.uri().to_string().len() > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the URI is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

/// How long a request may take, body included.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Answers `408` to a request that takes longer than [`REQUEST_TIMEOUT`] (a body sent a byte a
/// minute, say).
async fn time_limit(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response()
        }
    }
}

pub(crate) fn router(shared: Shared) -> Router {
    let allowed = guard::AllowedHosts(std::sync::Arc::new(shared.allowed_hosts.clone()));
    Router::new()
        .route("/", get(dashboard::page))
        .route("/runs/{run_id}", get(dashboard::page))
        .route("/events", get(dashboard::page))
        .route("/apps", get(dashboard::page))
        .route("/functions", get(dashboard::page))
        .route("/assets/dashboard.js", get(dashboard::script))
        .route("/assets/dashboard.css", get(dashboard::style))
        .route(
            "/e/{key}",
            post(events::send).layer(axum::extract::DefaultBodyLimit::max(MAX_EVENT_REQUEST)),
        )
        .route("/fn/register", post(register::register))
        .route(
            "/v1/checkpoint/{run_id}/async",
            post(checkpoint::checkpoint),
        )
        .route("/v1/events", get(api::events))
        .route("/v1/events/{event_id}", get(api::event))
        .route("/v1/events/{event_id}/runs", get(api::event_runs))
        .route("/v1/events/{event_id}/replay", post(api::replay))
        .route("/v1/runs", get(api::runs))
        .route("/v1/runs/{run_id}", get(api::run).delete(api::cancel))
        .route("/v1/runs/{run_id}/trace", get(api::trace))
        .route("/v1/runs/{run_id}/rerun", post(api::rerun))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/syncs", get(api::syncs))
        .route("/v1/functions/{function_id}/invoke", post(api::invoke))
        .route("/v1/apps", get(api::apps))
        .route("/v1/apps/{app_id}/functions", get(api::app_functions))
        .route("/dev", get(dev::info))
        .route("/dev/time/advance", post(dev::advance))
        .route("/dev/sync", post(dev::sync))
        .route("/v0/connect/start", post(connect::start))
        .route("/v0/connect/flush", post(connect::flush))
        .route("/v0/connect", get(connect::socket))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            guard::same_origin,
        ))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn(uri_limit))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(shared)
}
