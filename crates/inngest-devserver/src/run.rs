//! A run: one execution of a function, from its triggering event to its outcome.
//!
//! The run holds what the executor sends back to the SDK on every call (events, memo, stack)
//! and what is outstanding: planned steps, sleeps, waits and invokes in `pending`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a run stands, as the runs API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunStatus {
    /// Started, not finished.
    Running,
    /// The function returned.
    Completed,
    /// The function failed for good.
    Failed,
    /// Cancelled by an event or the API.
    Cancelled,
}

/// The parent of an invoked run, resumed with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The parent run.
    pub run_id: String,
    /// The parent's hashed `invoke` step id.
    pub step: String,
}

/// What a pending step waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pending {
    /// A planned step, called with its own `stepId`.
    Planned,
    /// A sleep until the given time (ms).
    Sleep {
        /// When it ends.
        until_ms: i64,
    },
    /// A wait for an event.
    Wait {
        /// The awaited event name.
        event: String,
        /// The `if` expression over `event` and `async`.
        condition: Option<String>,
        /// When it times out (ms).
        expires_ms: i64,
    },
    /// An invoked child run.
    Invoke {
        /// The child run.
        child_run_id: String,
        /// When it times out (ms), if ever.
        expires_ms: Option<i64>,
    },
}

/// One line of a run's history, for the runs API and the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The hashed step id.
    pub id: String,
    /// The step's name as the user wrote it.
    pub name: String,
    /// The op the SDK reported.
    pub op: String,
    /// When, in ms.
    pub at_ms: i64,
    /// The zero-based attempt of the call that reported it.
    #[serde(default)]
    pub attempt: u32,
    /// For `StepError` and `StepFailed`: the error as the SDK serialized it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// For a `StepError` that is retried: when the next attempt is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// When the call that reported it was due, in ms (the queue delay is `started_ms` minus
    /// this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_ms: Option<i64>,
    /// When the call that reported it was sent, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// For a sleep, a wait or an invoke: when it ended (woke, matched, timed out, returned),
    /// in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
}

impl StepRecord {
    /// The record of an op the SDK reported; `op` overrides the op's own name when given.
    pub fn of(
        op: &inngest_runtime::protocol::GeneratorOp,
        label: Option<&str>,
        at_ms: i64,
    ) -> Self {
        Self {
            id: op.id.clone(),
            name: op
                .userland
                .as_ref()
                .map(|u| u.id.clone())
                .or_else(|| op.display_name.clone())
                .or_else(|| op.name.clone())
                .unwrap_or_default(),
            op: label.map_or_else(|| format!("{:?}", op.op), str::to_string),
            at_ms,
            attempt: 0,
            error: op.error.as_ref().and_then(|e| serde_json::to_value(e).ok()),
            retry_at: None,
            queued_ms: None,
            started_ms: None,
            ended_ms: None,
        }
    }
}

/// A run and all its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// The run's ULID.
    pub id: String,
    /// The function's composite id.
    pub function_id: String,
    /// The app's id.
    pub app_id: String,
    /// The first triggering event.
    pub event: Value,
    /// All triggering events.
    pub events: Vec<Value>,
    /// Memoized step results by hashed id.
    pub memo: Map<String, Value>,
    /// Hashed ids in completion order.
    pub stack: Vec<String>,
    /// Where the run stands.
    pub status: RunStatus,
    /// The function's output (or its error when failed).
    pub output: Option<Value>,
    /// Start, in ms.
    pub started_at_ms: i64,
    /// End, in ms.
    pub ended_at_ms: Option<i64>,
    /// The request version the SDK answered with (`-1` until it has).
    pub version: i64,
    /// `disable_immediate_execution`: set once an answer carries more than one op; reset
    /// for request version 2 when a discovery call is scheduled (Go's `ForceStepPlan`).
    pub force_plan: bool,
    /// Outstanding steps by hashed id; a discovery call follows when none is left.
    pub pending: BTreeMap<String, Pending>,
    /// The invoking run, if any.
    pub parent: Option<ParentLink>,
    /// Attempts each queue item gets.
    pub max_attempts: u32,
    /// History.
    pub steps: Vec<StepRecord>,
    /// The run's state size, as the Go executor counts it: the bytes of its events and of
    /// each memoized value as JSON, added up as they come ([`Run::count_state`] counts it
    /// whole, for runs stored before it was kept).
    #[serde(default)]
    pub state_bytes: u64,
}

/// The most steps a run may memoize (the Go executor's `DefaultMaxStepLimit`).
pub const MAX_STEPS: usize = 1_000;
/// The most bytes of state (its events and memoized values) a run may hold
/// (`DefaultMaxStateSizeLimit`, 32 MiB).
pub const MAX_STATE_BYTES: u64 = 32 * 1024 * 1024;

/// A limit of a run it went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// [`MAX_STEPS`].
    Steps,
    /// [`MAX_STATE_BYTES`].
    State,
}

impl Overflow {
    /// The Go executor's error for it: the failed run's output, and the reason.
    pub fn failure(self) -> (Value, String) {
        let (error, name, message) = match self {
            Self::Steps => (
                "function has too many steps",
                "InngestErrFunctionOverflowed",
                format!("The function run exceeded the step limit of {MAX_STEPS} steps."),
            ),
            Self::State => (
                "state is too large",
                "InngestErrStateOverflowed",
                format!(
                    "The function run exceeded the state size limit of {MAX_STATE_BYTES} bytes."
                ),
            ),
        };
        (
            crate::error_object::executor_error(error, name, &message),
            message,
        )
    }
}

impl Run {
    /// Counts [`Run::state_bytes`] from the events and the memo.
    pub fn count_state(&mut self) {
        let size = |v: &Value| crate::json_size::json_size(v, u64::MAX);
        self.state_bytes = self
            .events
            .iter()
            .chain(self.memo.values())
            .map(size)
            .fold(0, u64::saturating_add);
    }

    /// Which of its limits the run is past, if any: [`MAX_STEPS`] steps memoized, or more
    /// than [`MAX_STATE_BYTES`] of state. Such a run fails without a retry.
    pub fn overflow(&self) -> Option<Overflow> {
        if self.memo.len() >= MAX_STEPS {
            Some(Overflow::Steps)
        } else if self.state_bytes > MAX_STATE_BYTES {
            Some(Overflow::State)
        } else {
            None
        }
    }

    /// Whether the run has ended.
    pub fn is_finished(&self) -> bool {
        self.status != RunStatus::Running
    }

    /// Stores a step's result and records it in the stack.
    pub fn memoize(&mut self, hashed: &str, value: Value) {
        self.state_bytes = self
            .state_bytes
            .saturating_add(crate::json_size::json_size(&value, u64::MAX));
        if let Some(replaced) = self.memo.insert(hashed.to_string(), value) {
            self.state_bytes = self
                .state_bytes
                .saturating_sub(crate::json_size::json_size(&replaced, u64::MAX));
        }
        if !self.stack.iter().any(|s| s == hashed) {
            self.stack.push(hashed.to_string());
        }
        self.pending.remove(hashed);
    }

    /// The event id of the first trigger.
    pub fn event_id(&self) -> Option<&str> {
        self.event.get("id").and_then(Value::as_str)
    }
}

/// What a queue item does when it is due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// Call the SDK.
    Execute(CallJob),
    /// A sleep ends.
    Wake {
        /// The sleep's hashed id.
        step: String,
    },
    /// A wait or invoke times out.
    Timeout {
        /// The step's hashed id.
        step: String,
    },
    /// The run's `timeouts.finish` has passed: cancel it if still running.
    Deadline,
}

/// One call of the SDK (a Go queue item of kind `edge`, `edge-error`, `sleep` …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallJob {
    /// `step` (discovery) or a planned step's hash.
    pub step_id: String,
    /// 0-based attempt.
    pub attempt: u32,
    /// The step the run comes from (the Go edge's `Outgoing`): the step whose result led to
    /// this call, or for a planned step the one before its plan. None for the first call.
    /// `ctx.stack.current` is its place in the stack.
    #[serde(default)]
    pub outgoing: Option<String>,
    /// This call still sends `disable_immediate_execution: true` though the run's flag was
    /// reset: the Go executor resets it when a sleep resumes, after it has read it for the
    /// resuming call.
    #[serde(default)]
    pub stale_plan: bool,
}

impl CallJob {
    /// A discovery call (`stepId=step`, attempt 0) coming from `outgoing`.
    pub fn discovery(outgoing: Option<String>) -> Self {
        Self {
            step_id: "step".into(),
            attempt: 0,
            outgoing,
            stale_plan: false,
        }
    }

    /// The same call again, one attempt later.
    pub fn retry(&self) -> Self {
        Self {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }
}

/// A scheduled piece of work for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    /// Unique id (also the `qi_id` sent for checkpointing).
    pub id: String,
    /// The run.
    pub run_id: String,
    /// When it is due, in ms.
    pub at_ms: i64,
    /// What to do.
    pub job: Job,
}
