//! `POST /v1/checkpoint/{run_id}/async`: steps a v4 SDK ran inline.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use inngest_runtime::protocol::GeneratorOp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Shared, parse_json};

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    steps: Vec<GeneratorOp>,
}

pub(super) async fn checkpoint(
    State(s): State<Shared>,
    Path(run_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Body = parse_json(&body, "the checkpoint body is not valid")?;
    s.engine.checkpoint(run_id, body.steps).await?;
    Ok(Json(json!({ "data": {} })))
}
