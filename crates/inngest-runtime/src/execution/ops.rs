//! The wire rules of a step: how it meets the run (memo look-up, reporting, waiting for
//! permission, executing) and which op it answers with (`StepRun`, `StepError` for an error
//! the executor retries, `StepFailed` for a final one, the checkpoint fallback to classic mode).
//! [`crate::step::Step`] is the user-facing surface over these.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use super::state::{FoundStep, SharedRun};
use crate::error::WorkflowError;
use crate::protocol::{GeneratorOp, MemoValue, Opcode, SerializedError, Userland};

/// A step resolved against the run at call time: its op as reported, and its memo if any.
pub(crate) struct PreparedOp {
    op: GeneratorOp,
    memo: Option<Value>,
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn base_op(run: &SharedRun, id: &str, op: Opcode) -> PreparedOp {
    let (resolved, memo) = run.lock().next_step(id);
    let mut g = GeneratorOp::new(op, resolved.hashed);
    g.display_name = Some(id.to_string());
    g.userland = Some(Userland {
        id: resolved.id,
        index: resolved.index,
    });
    PreparedOp { op: g, memo }
}

/// A `run`-type step (run, sendEvent). `name` overrides the op name (`sendEvent`).
pub(crate) fn run_op(run: &SharedRun, id: &str, op: Opcode, name: Option<&str>) -> PreparedOp {
    let mut p = base_op(run, id, op);
    p.op.name = Some(name.unwrap_or(id).to_string());
    let mut opts = Map::new();
    if name == Some("sendEvent") {
        opts.insert("type".into(), json!("step.sendEvent"));
    }
    p.op.opts = Some(opts);
    p
}

/// An async step (sleep, wait, invoke).
pub(crate) fn async_op(
    run: &SharedRun,
    id: &str,
    op: Opcode,
    name: Option<String>,
    opts: Value,
) -> PreparedOp {
    let mut p = base_op(run, id, op);
    p.op.name = name;
    p.op.opts = match opts {
        Value::Object(m) => Some(m),
        _ => Some(Map::new()),
    };
    p.op.data = Some(Value::Null);
    p
}

fn from_memo(memo: &Value) -> Option<Result<Value, WorkflowError>> {
    match MemoValue::read(memo) {
        MemoValue::Data(v) => Some(Ok(v)),
        MemoValue::Error(e) => Some(Err(WorkflowError::step_failed(e))),
        MemoValue::Input(_) => None,
    }
}

/// Suspends the run at an async op, or returns its memoized result.
pub(crate) async fn suspend(run: SharedRun, prepared: PreparedOp) -> Result<Value, WorkflowError> {
    if let Some(result) = prepared.memo.as_ref().and_then(from_memo) {
        return result;
    }
    run.lock().found(FoundStep {
        op: prepared.op,
        runnable: false,
    });
    std::future::pending().await
}

/// Runs a `run`-type step once the executor allows it, or returns its memoized result.
pub(crate) async fn runnable(
    run: SharedRun,
    prepared: PreparedOp,
    body: impl Future<Output = Result<Value, WorkflowError>> + Send,
) -> Result<Value, WorkflowError> {
    if let Some(result) = prepared.memo.as_ref().and_then(from_memo) {
        return result;
    }
    let hashed = prepared.op.id.clone();
    let mut op = prepared.op;
    run.lock().found(FoundStep {
        op: op.clone(),
        runnable: true,
    });
    run.granted(&hashed).await;

    let started = now_nanos();
    let result = body.await;
    op.timing = Some(json!({ "a": started, "b": now_nanos().saturating_sub(started) }));
    let ((attempt, max_attempts), checkpoint) = {
        let st = run.lock();
        (st.attempts(), st.checkpoint())
    };
    match result {
        Ok(data) => {
            op.data = Some(data.clone());
            if let Some(checkpoint) = checkpoint {
                if checkpoint.save(&op).await {
                    run.lock()
                        .memoize_executed(&hashed, MemoValue::data(data.clone()));
                    return Ok(data);
                }
            }
            run.lock().interrupt(op, None);
        }
        Err(err) => {
            let serialized: SerializedError = err.serialized().clone();
            let final_error = err.is_final(attempt, max_attempts);
            op.op = if final_error {
                Opcode::StepFailed
            } else {
                Opcode::StepError
            };
            op.error = Some(serialized.clone());
            op.data = if final_error {
                let mut copy = serialized;
                copy.stack = Some(String::new());
                serde_json::to_value(copy).ok()
            } else {
                Some(Value::Null)
            };
            run.lock().interrupt(op, Some(err));
        }
    }
    std::future::pending().await
}
