//! A step's result as the handler receives it: read from the memo (raw JSON text, decoded
//! straight into the step's type) or just computed by the step body (a tree).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::json::Steps;
use crate::protocol::{RawJson, SerializedError};

/// A step's result before it is decoded into the step's type.
#[derive(Debug)]
pub(crate) enum StepOutput {
    /// From the memo, as sent.
    Raw(RawJson),
    /// Computed in this request.
    Tree(Value),
}

impl StepOutput {
    /// Decodes into `T`.
    pub fn decode<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        match self {
            Self::Raw(raw) => serde_json::from_str(raw.get()),
            Self::Tree(value) => serde_json::from_value(value),
        }
    }

    /// Whether it is JSON `null` (a wait that timed out).
    pub fn is_null(&self) -> bool {
        match self {
            Self::Raw(raw) => raw.get().trim() == "null",
            Self::Tree(value) => value.is_null(),
        }
    }
}

/// A memoized value read with the official SDKs' rules (see [`crate::protocol::MemoValue`]):
/// exactly `{data}` (or `{type, data}`) is data, exactly `{error}` an error, exactly `{input}`
/// an input waiting for its step; anything else is data as a whole.
pub(crate) enum Memo {
    Data(StepOutput),
    Error(SerializedError),
    Input,
}

impl Memo {
    pub fn read(raw: RawJson) -> Self {
        if !raw.get().trim_start().starts_with('{') {
            return Self::Data(StepOutput::Raw(raw));
        }
        let Ok(fields) = serde_json::from_str::<Steps<RawJson>>(raw.get()) else {
            return Self::Data(StepOutput::Raw(raw));
        };
        let keys: Vec<&str> = fields.keys().collect();
        match keys.as_slice() {
            ["data"] | ["data", "type"] | ["type", "data"] => {
                let data = fields
                    .into_iter()
                    .find(|(k, _)| k == "data")
                    .map(|(_, v)| v);
                Self::Data(StepOutput::Raw(data.unwrap_or(raw)))
            }
            ["error"] => {
                let text = fields.get("error").map(|v| v.get()).unwrap_or("null");
                Self::Error(
                    serde_json::from_str(text)
                        .unwrap_or_else(|_| SerializedError::new("Error", text.to_string())),
                )
            }
            ["input"] => Self::Input,
            _ => Self::Data(StepOutput::Raw(raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MemoValue;
    use serde_json::json;

    fn raw(v: &Value) -> RawJson {
        serde_json::value::to_raw_value(v).expect("raw")
    }

    /// The raw reading agrees with [`MemoValue::read`] on every shape.
    #[test]
    fn raw_memo_reads_as_the_tree_does() {
        for v in [
            json!({ "data": { "a": 1 } }),
            json!({ "type": "data", "data": [1, 2] }),
            json!({ "error": { "name": "Error", "message": "boom" } }),
            json!({ "input": [1] }),
            json!({ "name": "billing/payment.succeeded", "data": { "n": 1 }, "id": "e1" }),
            json!(null),
            json!(3),
            json!({ "data": 1, "other": 2 }),
        ] {
            let by_tree = MemoValue::read(&v);
            match (Memo::read(raw(&v)), by_tree) {
                (Memo::Data(out), MemoValue::Data(want)) => {
                    assert_eq!(out.decode::<Value>().expect("decodes"), want, "{v}");
                }
                (Memo::Error(e), MemoValue::Error(want)) => assert_eq!(e, want, "{v}"),
                (Memo::Input, MemoValue::Input(_)) => {}
                (_, want) => panic!("{v}: raw reading differs from {want:?}"),
            }
        }
    }
}
