//! A seam for test engines: a [`StepInterceptor`] on an app decides a `run` step's result
//! before its body runs (`send_event` steps are not intercepted). `inngest-devserver`'s `TestEngine` mocks steps and makes them fail
//! this way. The executor sees what it would see from the body (`StepRun` with the value, or
//! `StepError`/`StepFailed` with the error), so replays, retries and `on_failure` behave as in
//! production, and a mocked step's body never runs.
//!
//! ```
//! use inngest_runtime::intercept::{StepCall, StepInterceptor};
//! use inngest_runtime::{WorkflowError, json, Value};
//!
//! /// Every `charge` step answers a fixed receipt.
//! struct FakeCharge;
//! impl StepInterceptor for FakeCharge {
//!     fn intercept(&self, call: &StepCall<'_>) -> Option<Result<Value, WorkflowError>> {
//!         (call.step_id == "charge").then(|| Ok(json!({ "receipt": "r_1" })))
//!     }
//! }
//! ```

use serde_json::Value;

use crate::error::WorkflowError;

/// A `run` step about to run its body.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StepCall<'a> {
    /// The function's composite id (`<app id>-<workflow id>`).
    pub function_id: &'a str,
    /// The run's id.
    pub run_id: &'a str,
    /// The step id as written.
    pub step_id: &'a str,
    /// The zero-based attempt of the request the step runs in. In checkpoint mode a step that
    /// runs after a retried one shares that request's attempt: count a step's own attempts by
    /// run and step id.
    pub attempt: u32,
}

/// Decides a step's result instead of its body (see the [module](self)).
pub trait StepInterceptor: Send + Sync + 'static {
    /// `Some` result replaces the body's; `None` lets the body run.
    fn intercept(&self, call: &StepCall<'_>) -> Option<Result<Value, WorkflowError>>;
}
