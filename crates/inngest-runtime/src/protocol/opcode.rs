//! Generator ops: what the SDK reports in a 206 body.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::SerializedError;

/// The kind of a generator op. Unknown names parse as [`Opcode::Unknown`] so that an executor
/// never fails on an op it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Opcode {
    /// Nothing to do (an empty op list).
    None,
    /// A step ran and `data` is its output.
    StepRun,
    /// A step threw and may be retried.
    StepError,
    /// A step failed for good.
    StepFailed,
    /// A step was found but not run; the executor calls again targeting it.
    StepPlanned,
    /// Sleep for the duration in `name` (or `opts.duration`), or until a timestamp.
    Sleep,
    /// Wait for an event.
    WaitForEvent,
    /// Invoke another function and wait for its result.
    InvokeFunction,
    /// Checkpoint mode: the run finished, `data` is the output.
    RunComplete,
    /// Checkpoint mode: schedule a new discovery request.
    DiscoveryRequest,
    /// An op this crate does not model (`AIGateway`, `Gateway`, `WaitForSignal`, …).
    #[serde(other)]
    Unknown,
}

impl Opcode {
    /// Whether this op suspends the run until the server resumes it.
    pub fn is_async(self) -> bool {
        matches!(
            self,
            Opcode::Sleep | Opcode::WaitForEvent | Opcode::InvokeFunction
        )
    }
}

/// `userland`: the step id as the user wrote it, and the repeat index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Userland {
    /// The step id as written.
    pub id: String,
    /// The repeat index (absent for the first use of an id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// One op of a 206 body. Unknown keys are ignored when reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorOp {
    /// The hashed step id.
    pub id: String,
    /// The op kind.
    pub op: Opcode,
    /// The step name; for `Sleep` the duration, for `WaitForEvent` the event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Op options (sleep duration, wait timeout and expression, invoke target…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<Map<String, Value>>,
    /// The name shown in dashboards.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// The id as the user wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userland: Option<Userland>,
    /// Output (StepRun, RunComplete) or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The error (StepError, StepFailed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SerializedError>,
    /// Start and end of the step, in Unix nanoseconds (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Value>,
}

impl GeneratorOp {
    /// An op of the given kind for a hashed id, with nothing else set.
    pub fn new(op: Opcode, id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            op,
            name: None,
            opts: None,
            display_name: None,
            userland: None,
            data: None,
            error: None,
            timing: None,
        }
    }

    /// A string option (`opts.<key>`), if set.
    pub fn opt_str(&self, key: &str) -> Option<&str> {
        self.opts.as_ref()?.get(key)?.as_str()
    }
}
