//! The runs API, shaped like Inngest's REST API: `{data, metadata}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::{ApiError, Shared};

fn envelope<T: Serialize>(s: &Shared, data: T) -> Json<Value> {
    Json(json!({
        "data": data,
        "metadata": { "fetched_at": crate::clock::rfc3339(s.clock.now_ms()), "cached_until": null },
    }))
}

pub(super) async fn run(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let run = s
        .engine
        .run(run_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {run_id:?} not found")))?;
    Ok(envelope(&s, run))
}

pub(super) async fn cancel(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if s.engine.cancel(run_id.clone()).await? {
        Ok(envelope(
            &s,
            json!({ "run_id": run_id, "status": "Cancelled" }),
        ))
    } else {
        Err(ApiError::not_found(format!("no running run {run_id:?}")))
    }
}

pub(super) async fn event(
    State(s): State<Shared>,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = s
        .engine
        .event(event_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {event_id:?} not found")))?;
    Ok(envelope(&s, event))
}

pub(super) async fn event_runs(
    State(s): State<Shared>,
    Path(event_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let runs = s.engine.event_runs(event_id).await?;
    Ok(envelope(&s, runs))
}

/// The apps, each with its transport (`serve` or `connect`) and, for connect apps, the
/// workers connected now.
pub(super) async fn apps(State(s): State<Shared>) -> Result<Json<Value>, ApiError> {
    let apps = s.engine.apps().await?;
    let mut workers = s.gateway.workers();
    let shown: Vec<Value> = apps
        .into_iter()
        .map(|app| {
            let connected = workers.remove(&app.id).unwrap_or_default();
            let transport = crate::gateway::transport(&app.url);
            let mut v = serde_json::to_value(&app).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("transport".into(), Value::from(transport));
                o.insert(
                    "workers".into(),
                    serde_json::to_value(connected).unwrap_or(Value::Null),
                );
            }
            v
        })
        .collect();
    Ok(envelope(&s, shown))
}

pub(super) async fn app_functions(
    State(s): State<Shared>,
    Path(app_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let app = s
        .engine
        .apps()
        .await?
        .into_iter()
        .find(|a| a.id == app_id)
        .ok_or_else(|| ApiError::not_found(format!("app {app_id:?} not found")))?;
    Ok(envelope(&s, app.functions))
}

/// `GET /v1/runs` query: `function_id`, `status`, `limit` (1 to 1,000, default 50).
#[derive(Debug, serde::Deserialize)]
pub(super) struct RunsQuery {
    function_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

/// The newest runs, newest first, filtered by function and status.
pub(super) async fn runs(
    State(s): State<Shared>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            serde_json::from_value::<crate::RunStatus>(Value::from(text)).map_err(|_| {
                ApiError::bad_request(format!(
                    "status {text:?} is not one of Running, Completed, Failed, Cancelled"
                ))
            })?,
        ),
    };
    if q.limit.is_some_and(|n| n == 0 || n > 1000) {
        return Err(ApiError::bad_request("limit is 1 to 1000"));
    }
    let runs = s
        .engine
        .find_runs(crate::RunFilter {
            function_id: q.function_id.filter(|f| !f.is_empty()),
            status,
            limit: q.limit,
        })
        .await?;
    Ok(envelope(&s, runs))
}

/// `POST /v1/functions/{function_id}/invoke` with `{"data": {...}}`: starts a run as an invoke
/// from no parent would; answers `{"run_id"}`.
pub(super) async fn invoke(
    State(s): State<Shared>,
    Path(function_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?
    };
    let data = match body.get("data") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(ApiError::bad_request("data must be a JSON object")),
    };
    let run_id = s
        .engine
        .invoke(function_id.clone(), data)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no function {function_id:?}")))?;
    Ok((
        axum::http::StatusCode::CREATED,
        envelope(&s, json!({ "run_id": run_id, "function_id": function_id })),
    ))
}
