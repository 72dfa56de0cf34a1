//! `POST /fn/register`: an app's out-of-band sync.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use inngest_runtime::protocol::sync::RegisterRequest;
use serde_json::{Value, json};

use super::{ApiError, Shared, parse_json};

pub(super) async fn register(
    State(s): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let sync: RegisterRequest = parse_json(&body, "the sync body is not valid")?;
    let url = sync.url.clone();
    match s.engine.register(sync).await {
        Ok(modified) => {
            s.sync_log.record(&url, None);
            Ok(Json(json!({ "ok": true, "modified": modified })))
        }
        Err(e) => {
            s.sync_log.record(&url, Some(crate::error_chain(&e)));
            Err(e.into())
        }
    }
}
