//! The runs API, shaped like Inngest's REST API: `{data, metadata}`.

use axum::Json;
use axum::extract::{Path, State};
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
