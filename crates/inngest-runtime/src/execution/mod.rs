//! Executing one request: replay the memo, find the new steps, run or report them.
//!
//! The handler future is polled by [`drive`]. Steps whose results are memoized resolve at once.
//! A new step registers itself in the [`state::RunState`] and waits. When the handler can make
//! no more progress (every branch waits on a new step), the driver decides, as the official
//! SDKs do:
//!
//! - a targeted request (`stepId` is a hash) runs that step and reports it;
//! - a discovery request with exactly one new `run` step, immediate execution allowed, runs it
//!   and reports `StepRun`;
//! - otherwise every new step is reported: `run` steps as `StepPlanned`, async steps as
//!   themselves (`Sleep`, `WaitForEvent`, `InvokeFunction`).
//!
//! In checkpoint mode an executed step is saved through the checkpoint API and the run goes on
//! within the same request; the end of the run is reported as `RunComplete`.

mod checkpoint;
mod memo;
pub(crate) mod ops;
mod output;
mod request;
mod state;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use serde_json::Value;

use crate::client::Inngest;
use crate::error::WorkflowError;
use crate::protocol::{GeneratorOp, Opcode, SharedJson};
use state::{NextAction, RequestMode, RunState};

pub(crate) use output::StepOutput;
pub(crate) use request::{RunRequest, StateShapeError};
pub(crate) use state::{Interrupt, SharedRun};

/// How one execution request ended.
pub(crate) enum Outcome {
    /// The handler returned (its output written as JSON).
    Returned(Result<SharedJson, WorkflowError>),
    /// The handler returned in checkpoint mode (reported as `RunComplete`).
    Completed(SharedJson),
    /// A step ran (or failed) and ends this request.
    Step(Box<Interrupt>),
    /// New steps to report.
    Ops(Vec<GeneratorOp>),
    /// The targeted step is not reachable.
    StepNotFound {
        requested: String,
        found: Vec<GeneratorOp>,
    },
}

/// The pieces of a request the engine needs, after parsing.
pub(crate) struct Execution {
    run: SharedRun,
    checkpointing: bool,
    first_request: bool,
}

impl Execution {
    /// Prepares the state for a request; `target` is the `stepId` unless it is `step`.
    /// The memo moves out of `req` into the run state.
    pub fn new(
        req: &mut RunRequest,
        target: Option<String>,
        max_attempts: u32,
        client: &Inngest,
        intercept: Option<(Arc<dyn crate::intercept::StepInterceptor>, String)>,
    ) -> Self {
        let intercept = intercept.map(|(interceptor, function_id)| state::Intercept {
            interceptor,
            function_id,
            run_id: req.ctx.run_id.clone(),
        });
        let checkpoint = match (&req.ctx.fn_id, &req.ctx.qi_id) {
            (Some(fn_id), Some(qi_id))
                if target.is_none() && !req.ctx.disable_immediate_execution =>
            {
                let config = client.config();
                Some(Arc::new(checkpoint::Checkpointer {
                    client: client.clone(),
                    url: format!(
                        "{}/v1/checkpoint/{}/async",
                        config.api_origin(),
                        req.ctx.run_id
                    ),
                    bearer: config.signing_key_bearer(),
                    run_id: req.ctx.run_id.clone(),
                    fn_id: fn_id.clone(),
                    qi_id: qi_id.clone(),
                    started_at_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis())
                        .unwrap_or(0),
                }))
            }
            _ => None,
        };
        let checkpointing = checkpoint.is_some();
        let first_request = req.is_first_request();
        let run = SharedRun::new(RunState::new(RequestMode {
            memo: req.take_memo(),
            immediate: !req.ctx.disable_immediate_execution,
            target,
            attempt: req.ctx.attempt,
            max_attempts: req.ctx.max_attempts.unwrap_or(max_attempts).max(1),
            checkpoint,
            intercept,
        }));
        Self {
            run,
            checkpointing,
            first_request,
        }
    }

    /// Whether the request carries no memoized step: the run's first.
    pub fn is_first_request(&self) -> bool {
        self.first_request
    }

    /// The run state the step tools of this request share.
    pub fn run(&self) -> SharedRun {
        self.run.clone()
    }

    /// `(attempt, max_attempts)` of this request.
    pub fn attempts(&self) -> (u32, u32) {
        self.run.lock().attempts()
    }

    /// Drives the handler future, made by `handler`, to the end of this request. The future is
    /// made here, where it is pinned, so that it is not moved (a handler future is kilobytes).
    pub async fn drive<F>(self, handler: impl FnOnce() -> F) -> Outcome
    where
        F: Future<Output = Result<SharedJson, WorkflowError>>,
    {
        let mut handler = pin!(handler());
        let run = self.run;
        let checkpointing = self.checkpointing;
        poll_fn(move |cx| {
            loop {
                if let Poll::Ready(out) = handler.as_mut().poll(cx) {
                    if let Some(interrupt) = run.lock().take_interrupt() {
                        return Poll::Ready(Outcome::Step(Box::new(interrupt)));
                    }
                    return Poll::Ready(match out {
                        Ok(v) if checkpointing => Outcome::Completed(v),
                        other => Outcome::Returned(other),
                    });
                }
                let mut st = run.lock();
                if let Some(interrupt) = st.take_interrupt() {
                    return Poll::Ready(Outcome::Step(Box::new(interrupt)));
                }
                match st.next_action() {
                    NextAction::Wait => return Poll::Pending,
                    // Poll again: the granted step runs its body now.
                    NextAction::Grant => {}
                    NextAction::StepNotFound { requested, found } => {
                        return Poll::Ready(Outcome::StepNotFound { requested, found });
                    }
                    NextAction::Report(found) => {
                        return Poll::Ready(Outcome::Ops(found.into_iter().map(planned).collect()));
                    }
                }
            }
        })
        .await
    }
}

/// A found step as reported without running it.
fn planned(found: state::FoundStep) -> GeneratorOp {
    let mut op = found.op;
    if found.runnable {
        op.op = Opcode::StepPlanned;
        op.data = Some(Value::Null);
    }
    op
}
