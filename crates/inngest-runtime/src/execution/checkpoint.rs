//! Async checkpointing (the official v4 SDKs' default): when the executor sends `ctx.fn_id` and
//! `ctx.qi_id`, steps run inline and each result is saved with
//! `POST {api}/v1/checkpoint/{run_id}/async` before the run goes on. If saving fails, the step
//! is reported in the response instead, as in classic mode.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::protocol::GeneratorOp;

/// Saves executed steps for one run.
pub(crate) struct Checkpointer {
    pub client: crate::client::Inngest,
    pub url: String,
    pub bearer: Option<String>,
    pub run_id: String,
    pub fn_id: String,
    pub qi_id: String,
    pub started_at_ms: u128,
}

const ATTEMPTS: u32 = 5;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl Checkpointer {
    /// Saves one executed step; `false` when the API did not accept it after retries.
    pub async fn save(&self, op: &GeneratorOp) -> bool {
        let body = json!({
            "run_id": self.run_id,
            "fn_id": self.fn_id,
            "qi_id": self.qi_id,
            "request_started_at": self.started_at_ms,
            "steps": [op],
            "ts": now_ms(),
        });
        if let Some(inngest) = self.client.in_process_inngest() {
            return inngest.checkpoint(self.run_id.clone(), body).await;
        }
        let mut delay = Duration::from_millis(100);
        for attempt in 0..ATTEMPTS {
            let mut req = self.client.http().post(&self.url).json(&body);
            if let Some(b) = &self.bearer {
                req = req.bearer_auth(b);
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => return true,
                Ok(resp) if resp.status() == reqwest::StatusCode::CONFLICT => {
                    tracing::warn!(run_id = %self.run_id, "checkpoint refused as stale");
                    return false;
                }
                Ok(resp) => {
                    tracing::debug!(status = %resp.status(), attempt, "checkpoint not accepted")
                }
                Err(e) => tracing::debug!(error = %e, attempt, "checkpoint failed"),
            }
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        tracing::warn!(run_id = %self.run_id, "checkpoint API unavailable; reporting the step instead");
        false
    }
}
