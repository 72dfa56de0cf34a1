//! Dev-only endpoints: server info, time control, syncing an app on demand.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared, parse_json};

pub(super) async fn info(State(s): State<Shared>) -> Result<Json<Value>, ApiError> {
    let apps = s.engine.apps().await?;
    Ok(Json(json!({
        "name": "inngest-devserver",
        "version": env!("CARGO_PKG_VERSION"),
        "now": crate::clock::rfc3339(s.clock.now_ms()),
        "clock_offset_ms": s.clock.offset_ms(),
        "apps": apps,
    })))
}

#[derive(Deserialize)]
struct Advance {
    duration: String,
}

/// `POST /dev/time/advance {"duration": "3d"}`.
pub(super) async fn advance(State(s): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let req: Advance = parse_json(&body, "expected {\"duration\": \"<e.g. 3d>\"}")?;
    let by = inngest_runtime::duration::parse(&req.duration)
        .map_err(|e| ApiError::bad_request(crate::error_chain(&e)))?;
    s.engine.advance(by).await?;
    Ok(Json(json!({
        "now": crate::clock::rfc3339(s.clock.now_ms()),
        "clock_offset_ms": s.clock.offset_ms(),
    })))
}

#[derive(Deserialize)]
struct SyncRequest {
    url: String,
}

/// `POST /dev/sync {"url": "http://127.0.0.1:3000/api/inngest"}`: PUT the app now. JSON only,
/// `http(s)` URLs only, and the app's answer is not passed back (the endpoint must not be a
/// way to read other servers' pages).
pub(super) async fn sync(
    State(s): State<Shared>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    super::require_json(&headers)?;
    let req: SyncRequest = parse_json(&body, "expected {\"url\": \"<app serve URL>\"}")?;
    let scheme_ok =
        reqwest::Url::parse(&req.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !scheme_ok {
        return Err(ApiError::bad_request(format!(
            "{:?} is not an http(s) URL",
            req.url
        )));
    }
    s.syncer
        .sync(&req.url)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, crate::error_chain(&e)))?;
    Ok(Json(json!({ "url": req.url, "synced": true })))
}
