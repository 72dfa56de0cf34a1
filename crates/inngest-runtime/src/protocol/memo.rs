//! Memoized step values: how the executor stores a step's result in `steps`, and how the SDK
//! reads it back.

use serde_json::Value;

use super::error::SerializedError;

/// A memoized value, read with the official SDKs' rules, in order: an object with exactly
/// `{data}` (or `{type, data}`) is data; exactly `{error}` is an error; exactly `{input}` is a
/// step input; anything else (a raw event, `null`) is data as a whole.
///
/// ```
/// use inngest_runtime::protocol::MemoValue;
/// use serde_json::json;
/// assert_eq!(MemoValue::read(&json!({"data": 1})), MemoValue::Data(json!(1)));
/// assert_eq!(MemoValue::read(&json!(null)), MemoValue::Data(json!(null)));
/// assert!(matches!(MemoValue::read(&json!({"error": {"name":"Error","message":"x"}})), MemoValue::Error(_)));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MemoValue {
    /// A successful result.
    Data(Value),
    /// A step that failed for good.
    Error(SerializedError),
    /// An input waiting for the step to run (not a result).
    Input(Value),
}

impl MemoValue {
    /// Reads a memo value.
    pub fn read(value: &Value) -> MemoValue {
        if let Value::Object(obj) = value {
            let only = |k: &str| obj.len() == 1 && obj.contains_key(k);
            if only("data")
                || (obj.len() == 2 && obj.contains_key("data") && obj.contains_key("type"))
            {
                return MemoValue::Data(obj["data"].clone());
            }
            if only("error") {
                let err = serde_json::from_value(obj["error"].clone())
                    .unwrap_or_else(|_| SerializedError::new("Error", obj["error"].to_string()));
                return MemoValue::Error(err);
            }
            if only("input") {
                return MemoValue::Input(obj["input"].clone());
            }
        }
        MemoValue::Data(value.clone())
    }

    /// The value an executor stores for a successful step: `{"data": output}`.
    pub fn data(output: Value) -> Value {
        serde_json::json!({ "data": output })
    }

    /// The value an executor stores for a failed step: `{"error": error}`.
    pub fn error(error: &SerializedError) -> Value {
        serde_json::json!({ "error": error })
    }
}
