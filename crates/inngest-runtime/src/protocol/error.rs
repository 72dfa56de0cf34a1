//! The serialized error shape: `{name, message, stack?, data?, cause?, noRetry?}`.

use serde::{Deserialize, Serialize};

/// An error as it crosses the wire: in a function's 4xx/5xx body, in a `StepError`/`StepFailed`
/// op, in a memoized `{"error": …}` value and in `inngest/function.failed` events.
///
/// ```
/// use inngest_runtime::protocol::SerializedError;
/// let e: SerializedError = serde_json::from_str(r#"{"name":"Error","message":"boom"}"#).unwrap();
/// assert_eq!(e.message, "boom");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerializedError {
    /// The error class, e.g. `Error`, `NonRetriableError`. Empty reads as `Error`.
    #[serde(default = "default_name")]
    pub name: String,
    /// The human message.
    #[serde(default)]
    pub message: String,
    /// A stack trace or chain of causes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Marks the object as a serialized error (the JS SDK checks it).
    #[serde(
        rename = "__serialized",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub serialized: bool,
    /// Extra data the SDK attached to the error (kept verbatim by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<serde_json::Value>>,
    /// The error's cause, as the SDK serialized it (kept verbatim by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<serde_json::Value>>,
    /// Set by the server on a step error answered with `X-Inngest-No-Retry: true`.
    #[serde(rename = "noRetry", default, skip_serializing_if = "Option::is_none")]
    pub no_retry: Option<bool>,
}

fn default_name() -> String {
    "Error".to_string()
}

impl SerializedError {
    /// An error with a name and a message, marked serialized.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            name: if name.is_empty() {
                default_name()
            } else {
                name
            },
            message: message.into(),
            stack: None,
            serialized: true,
            data: None,
            cause: None,
            no_retry: None,
        }
    }
}

impl std::fmt::Display for SerializedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}
