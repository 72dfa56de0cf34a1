//! `POST /e/{key}`: one event or an array; any key is accepted in dev.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, Shared, parse_json};

pub(super) async fn send(State(s): State<Shared>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let events = match parse_json::<Value>(&body, "the body is not JSON")? {
        Value::Array(list) => list,
        one => vec![one],
    };
    let ids = s.engine.send_events(events).await?;
    Ok(Json(json!({ "ids": ids, "status": 200 })))
}
