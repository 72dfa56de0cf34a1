//! Options of `wait_for_event`.

use serde_json::{Value, json};

use crate::error::WorkflowError;

/// Options of `wait_for_event`: a timeout and an optional match condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitForEvent {
    timeout: String,
    condition: Option<String>,
}

impl WaitForEvent {
    /// Waits at most `timeout` (an Inngest duration string).
    pub fn timeout(timeout: impl Into<String>) -> Self {
        Self {
            timeout: timeout.into(),
            condition: None,
        }
    }

    /// Matches only events whose field equals the triggering event's: `"data.order_id"`
    /// becomes `event.data.order_id == async.data.order_id`.
    pub fn matching(mut self, field: &str) -> Self {
        self.condition = Some(format!("event.{field} == async.{field}"));
        self
    }

    /// Matches only events for which a CEL expression over `event` (the triggering event) and
    /// `async` (the candidate) holds.
    pub fn when(mut self, expression: impl Into<String>) -> Self {
        self.condition = Some(expression.into());
        self
    }

    pub(crate) fn opts(&self) -> Result<Value, WorkflowError> {
        crate::duration::parse(&self.timeout)
            .map_err(|e| WorkflowError::non_retriable(crate::error::chain(&e)))?;
        let mut opts = json!({ "timeout": self.timeout });
        if let Some(c) = &self.condition {
            opts["if"] = json!(c);
        }
        Ok(opts)
    }
}
