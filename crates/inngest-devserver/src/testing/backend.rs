//! The Inngest the test engine's app talks to instead of HTTP: events its steps send go to the
//! engine's intake (and are kept for assertions), checkpoints to the engine's memo.

use std::sync::{Arc, Mutex};

use inngest_runtime::Value;
use inngest_runtime::client::{InProcess, InProcessFuture};
use inngest_runtime::protocol::{EventPayload, GeneratorOp};

use crate::EngineHandle;

pub(super) struct Backend {
    pub engine: EngineHandle,
    /// Every event the app sent, in order.
    pub sent: Arc<Mutex<Vec<Value>>>,
}

impl InProcess for Backend {
    fn send_events(
        &self,
        events: Vec<EventPayload>,
    ) -> InProcessFuture<Result<Vec<String>, String>> {
        let engine = self.engine.clone();
        let sent = self.sent.clone();
        Box::pin(async move {
            let values: Vec<Value> = events
                .iter()
                .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
                .collect();
            let ids = engine
                .send_events(values.clone())
                .await
                .map_err(|e| crate::error_chain(&e))?;
            // Only what the engine took, with the ids it gave.
            let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
            for (mut event, id) in values.into_iter().zip(&ids) {
                event["id"] = Value::from(id.as_str());
                sent.push(event);
            }
            Ok(ids)
        })
    }

    fn checkpoint(&self, run_id: String, body: Value) -> InProcessFuture<bool> {
        let engine = self.engine.clone();
        Box::pin(async move {
            let steps: Vec<GeneratorOp> = body
                .get("steps")
                .and_then(|s| serde_json::from_value(s.clone()).ok())
                .unwrap_or_default();
            engine.checkpoint(run_id, steps).await.is_ok()
        })
    }
}
