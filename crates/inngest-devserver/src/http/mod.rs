//! The HTTP surface (axum is only here): the event API, sync, checkpoints, the runs API, time
//! control and the page. Every error is a 4xx/5xx JSON body `{error, status}`.

mod api;
mod checkpoint;
mod dev;
mod events;
mod page;
mod register;

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
            EventError::Invalid { .. } => Self::bad_request(error_chain(&e)),
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

/// Parses a JSON body, or says what is wrong with it.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/e/{key}", post(events::send))
        .route("/fn/register", post(register::register))
        .route(
            "/v1/checkpoint/{run_id}/async",
            post(checkpoint::checkpoint),
        )
        .route("/v1/events/{event_id}", get(api::event))
        .route("/v1/events/{event_id}/runs", get(api::event_runs))
        .route("/v1/runs/{run_id}", get(api::run).delete(api::cancel))
        .route("/v1/apps", get(api::apps))
        .route("/v1/apps/{app_id}/functions", get(api::app_functions))
        .route("/dev", get(dev::info))
        .route("/dev/time/advance", post(dev::advance))
        .route("/dev/sync", post(dev::sync))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .with_state(shared)
}
