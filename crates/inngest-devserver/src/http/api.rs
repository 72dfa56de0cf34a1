//! The runs API, shaped like Inngest's REST API: `{data, metadata}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use serde_json::{Value, json};

use super::{ApiError, Shared};

fn envelope<T: Serialize>(s: &Shared, data: T) -> Json<Value> {
    paged(s, data, json!({}))
}

/// [`envelope`] with more metadata (a list's `next_before`, `total`).
fn paged<T: Serialize>(s: &Shared, data: T, more: Value) -> Json<Value> {
    let mut metadata = json!({
        "fetched_at": crate::clock::rfc3339(s.clock.now_ms()),
        "cached_until": null,
    });
    if let (Value::Object(meta), Value::Object(more)) = (&mut metadata, more) {
        meta.extend(more);
    }
    Json(json!({ "data": data, "metadata": metadata }))
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
    let syncs = s.sync_log.attempts();
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
                let last = syncs.iter().find(|a| a.url == app.url);
                o.insert(
                    "last_sync".into(),
                    serde_json::to_value(last).unwrap_or(Value::Null),
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

/// `GET /v1/runs` query: `function_id`, `status`, `limit` (1 to 1,000, default 50), `before`
/// (the last run id of the previous page), `from` and `to` (RFC 3339, when runs started).
#[derive(Debug, serde::Deserialize)]
pub(super) struct RunsQuery {
    function_id: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    before: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// An RFC 3339 query value in Unix ms.
fn instant(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| Some(d.timestamp_millis()))
            .map_err(|e| {
                ApiError::bad_request(format!("{name} {t:?} is not an RFC 3339 time: {e}"))
            }),
    }
}

/// A `limit` query value: 1 to 1,000.
fn limit(n: Option<usize>) -> Result<Option<usize>, ApiError> {
    if n.is_some_and(|n| n == 0 || n > 1000) {
        return Err(ApiError::bad_request("limit is 1 to 1000"));
    }
    Ok(n)
}

/// The newest runs, newest first, filtered by function, status and start time, a page at a
/// time: `metadata.next_before` is the cursor of the next page (`null` on the last) and
/// `metadata.total` how many match.
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
    let limit = limit(q.limit)?;
    let filter = crate::RunFilter {
        function_id: q.function_id.filter(|f| !f.is_empty()),
        status,
        limit,
        before: q.before.filter(|b| !b.is_empty()),
        from_ms: instant("from", q.from.as_deref())?,
        to_ms: instant("to", q.to.as_deref())?,
    };
    let total = s.engine.count_runs(filter.clone()).await?;
    let runs = s.engine.find_runs(filter).await?;
    let full = runs.len() == limit.unwrap_or(50);
    let next = runs.last().filter(|_| full).map(|r| r.run_id.clone());
    Ok(paged(
        &s,
        &runs,
        json!({ "next_before": next, "total": total }),
    ))
}

/// `GET /v1/runs/{run_id}/trace`: the run, its events and its steps and attempts as spans.
pub(super) async fn trace(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let trace = s
        .engine
        .trace(run_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {run_id:?} not found")))?;
    Ok(envelope(&s, trace))
}

/// `POST /v1/runs/{run_id}/rerun`: a new run of the same function with the same events.
pub(super) async fn rerun(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let new = s.engine.rerun(run_id.clone()).await?.ok_or_else(|| {
        ApiError::not_found(format!("run {run_id:?} not found, or its function is gone"))
    })?;
    Ok((
        axum::http::StatusCode::CREATED,
        envelope(&s, json!({ "run_id": new, "rerun_of": run_id })),
    ))
}

/// `GET /v1/events` query: `name`, `before` (a cursor), `limit` (1 to 1,000, default 50).
#[derive(Debug, serde::Deserialize)]
pub(super) struct EventsQuery {
    name: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

/// Received events, newest first, each with the runs it started; `metadata.next_before` is
/// the cursor of the next page.
pub(super) async fn events(
    State(s): State<Shared>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = limit(q.limit)?;
    let events = s
        .engine
        .events(crate::EventFilter {
            name: q.name.filter(|n| !n.is_empty()),
            before: q.before,
            limit,
        })
        .await?;
    let full = events.len() == limit.unwrap_or(50);
    let next = events.last().filter(|_| full).map(|e| e.cursor);
    Ok(paged(&s, &events, json!({ "next_before": next })))
}

/// `POST /v1/events/{event_id}/replay`: sends the event again, as new (a new id and time).
pub(super) async fn replay(
    State(s): State<Shared>,
    Path(event_id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let event = s
        .engine
        .event(event_id.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {event_id:?} not found")))?;
    let mut again = serde_json::Map::new();
    for key in ["name", "data", "user", "v"] {
        if let Some(v) = event.get(key) {
            again.insert(key.into(), v.clone());
        }
    }
    let ids = s.engine.send_events(vec![Value::Object(again)]).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        envelope(&s, json!({ "ids": ids, "replay_of": event_id })),
    ))
}

/// `GET /v1/syncs`: the last sync attempt of each app URL, oldest first.
pub(super) async fn syncs(State(s): State<Shared>) -> Json<Value> {
    envelope(&s, s.sync_log.attempts())
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
