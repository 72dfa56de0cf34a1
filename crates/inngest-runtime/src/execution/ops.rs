//! The wire rules of a step: how it meets the run (memo look-up, reporting, waiting for
//! permission, executing) and which op it answers with (`StepRun`, `StepError` for an error
//! the executor retries, `StepFailed` for a final one, the checkpoint fallback to classic mode).
//! [`crate::step::Step`] is the user-facing surface over these.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::Either;
use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::output::{Memo, StepOutput};
use super::state::{FoundStep, SharedRun};
use crate::error::WorkflowError;
use crate::protocol::{GeneratorOp, MemoValue, Opcode, SerializedError, SharedJson, Userland};
use crate::step_id::HashedId;

/// A step id resolved for one use, its hash kept inline (see [`HashedId`]).
struct Resolved {
    id: String,
    index: Option<u32>,
    hashed: HashedId,
}

/// A step resolved against the run at call time: its memoized result, or what its op is made
/// of. A replayed step carries only its result; the parts of an op are built, and boxed, only
/// for a new step, so the many replayed steps of a request stay small to create and to move.
pub(crate) enum PreparedOp {
    /// The memo holds its result: the step's output, or its final error.
    Memoized(Result<StepOutput, WorkflowError>),
    /// It has none: it is new in this request.
    New(Box<NewStep>),
}

/// What a new step's op is made of.
pub(crate) struct NewStep {
    /// The id as written, its repeat index and its hash.
    resolved: Resolved,
    kind: Opcode,
    name: Option<String>,
    opts: Map<String, Value>,
    /// Async ops report `data: null`.
    null_data: bool,
}

impl NewStep {
    fn into_op(self) -> GeneratorOp {
        let mut g = GeneratorOp::new(self.kind, self.resolved.hashed.to_string());
        g.display_name = Some(self.resolved.id.clone());
        g.userland = Some(Userland {
            id: self.resolved.id,
            index: self.resolved.index,
        });
        g.name = self.name;
        g.opts = Some(self.opts);
        if self.null_data {
            g.data = Some(Value::Null);
        }
        g
    }
}

impl PreparedOp {
    /// The new step's parts, to fill in; `None` for a replayed step.
    fn new_step(&mut self) -> Option<&mut NewStep> {
        match self {
            Self::New(step) => Some(step),
            Self::Memoized(_) => None,
        }
    }
}

/// Nanoseconds since the Unix epoch, as a JSON number can carry them: a clock past the year
/// 2554 (or before 1970) reads as the end (or the start) of the range, never a panic.
fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn base_op(run: &SharedRun, id: &str, kind: Opcode) -> PreparedOp {
    let (hashed, index, memo) = run.lock().next_step(id);
    match memo.map(Memo::read) {
        Some(Memo::Data(output)) => PreparedOp::Memoized(Ok(output)),
        Some(Memo::Error(error)) => PreparedOp::Memoized(Err(WorkflowError::step_failed(error))),
        // No memo, or one that holds the step's input only: the step is new.
        Some(Memo::Input) | None => PreparedOp::New(Box::new(NewStep {
            resolved: Resolved {
                id: id.to_string(),
                index,
                hashed,
            },
            kind,
            name: None,
            opts: Map::new(),
            null_data: false,
        })),
    }
}

/// A `run`-type step (run, sendEvent). `name` overrides the op name (`sendEvent`).
pub(crate) fn run_op(run: &SharedRun, id: &str, op: Opcode, name: Option<&str>) -> PreparedOp {
    let mut p = base_op(run, id, op);
    if let Some(step) = p.new_step() {
        step.name = Some(name.unwrap_or(id).to_string());
        if name == Some("sendEvent") {
            step.opts.insert("type".into(), json!("step.sendEvent"));
        }
    }
    p
}

/// An async step (sleep, wait, invoke). `op_parts` gives its op's name and options; it is
/// called only for a new step (a replayed one builds no op).
pub(crate) fn async_op(
    run: &SharedRun,
    id: &str,
    op: Opcode,
    op_parts: impl FnOnce() -> (Option<String>, Value),
) -> PreparedOp {
    let mut p = base_op(run, id, op);
    if let Some(step) = p.new_step() {
        let (name, opts) = op_parts();
        step.name = name;
        if let Value::Object(m) = opts {
            step.opts = m;
        }
        step.null_data = true;
    }
    p
}

/// Suspends the run at an async op, or returns its memoized result.
pub(crate) async fn suspend(
    run: SharedRun,
    prepared: PreparedOp,
) -> Result<StepOutput, WorkflowError> {
    let prepared = match prepared {
        PreparedOp::Memoized(result) => return result,
        PreparedOp::New(prepared) => prepared,
    };
    run.lock().found(FoundStep {
        op: prepared.into_op(),
        runnable: false,
    });
    std::future::pending().await
}

/// The id a step was written with, for logs.
fn prepared_id(op: &GeneratorOp) -> &str {
    op.display_name.as_deref().unwrap_or(&op.id)
}

/// Runs a `run`-type step once the executor allows it, or returns its memoized result.
///
/// A replayed step is a ready future; only a new one builds (and boxes) the future that runs
/// its body, so the many replayed steps of a request stay small to create and to move.
pub(crate) fn runnable<'a>(
    run: SharedRun,
    prepared: PreparedOp,
    body: impl Future<Output = Result<Value, WorkflowError>> + Send + 'a,
) -> impl Future<Output = Result<StepOutput, WorkflowError>> + Send + 'a {
    match prepared {
        PreparedOp::Memoized(result) => Either::Left(std::future::ready(result)),
        PreparedOp::New(prepared) => Either::Right(Box::pin(run_new(run, prepared, body))),
    }
}

/// A new `run`-type step: reported, then run when the executor allows it.
async fn run_new(
    run: SharedRun,
    prepared: Box<NewStep>,
    body: impl Future<Output = Result<Value, WorkflowError>> + Send,
) -> Result<StepOutput, WorkflowError> {
    let mut op = prepared.into_op();
    let hashed = op.id.clone();
    run.lock().found(FoundStep {
        op: op.clone(),
        runnable: true,
    });
    run.granted(&hashed).await;
    let (attempt, _) = run.lock().attempts();

    let span = tracing::info_span!("step", step = %prepared_id(&op), attempt);
    let started = now_nanos();
    // A test engine's interceptor may decide the result; then the body never runs.
    let interceptor = if op.name.as_deref() == Some("sendEvent") {
        None
    } else {
        run.lock().interceptor()
    };
    let intercepted = interceptor.and_then(|i| {
        i.interceptor.intercept(&crate::intercept::StepCall {
            function_id: &i.function_id,
            run_id: &i.run_id,
            step_id: prepared_id(&op),
            attempt,
        })
    });
    let result = match intercepted {
        Some(result) => result,
        None => body.instrument(span).await,
    };
    op.timing = Some(json!({ "a": started, "b": now_nanos().saturating_sub(started) }));
    let (max_attempts, checkpoint) = {
        let st = run.lock();
        (st.attempts().1, st.checkpoint())
    };
    match result {
        Ok(data) => {
            op.data = Some(data.clone());
            if let Some(checkpoint) = checkpoint {
                if checkpoint.save(&op).await {
                    if let Ok(memo) = SharedJson::of(&MemoValue::data(data.clone())) {
                        run.lock().memoize_executed(&hashed, memo);
                        return Ok(StepOutput::Tree(data));
                    }
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
