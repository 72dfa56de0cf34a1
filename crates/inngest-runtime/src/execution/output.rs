//! A step's result as the handler receives it: read from the memo (raw JSON text, decoded
//! straight into the step's type) or just computed by the step body (a tree).

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::protocol::{MemoValue, RawJson, SerializedError};

/// A step's result before it is decoded into the step's type.
#[derive(Debug)]
pub(crate) enum StepOutput {
    /// From the memo, the value itself.
    Raw(RawJson),
    /// From the memo, a `{"data": value}` envelope (the common case, decoded in one pass).
    Envelope(RawJson),
    /// Computed in this request.
    Tree(Value),
}

/// `{"data": T}`, the memo of a successful step (a `type` beside it is ignored).
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

impl StepOutput {
    /// Decodes into `T`.
    pub fn decode<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        match self {
            Self::Raw(raw) => serde_json::from_str(raw.get()),
            Self::Envelope(raw) => serde_json::from_str::<Envelope<T>>(raw.get()).map(|e| e.data),
            Self::Tree(value) => serde_json::from_value(value),
        }
    }

    /// Whether it is JSON `null` (a wait that timed out).
    pub fn is_null(&self) -> bool {
        match self {
            Self::Raw(raw) => raw.get().trim() == "null",
            Self::Envelope(raw) => serde_json::from_str::<Envelope<Option<IgnoredAny>>>(raw.get())
                .is_ok_and(|e| e.data.is_none()),
            Self::Tree(value) => value.is_null(),
        }
    }
}

/// Which keys a memo object has, found in one pass that builds nothing.
#[derive(Default)]
struct Shape {
    keys: usize,
    data: bool,
    kind: bool,
    error: bool,
    input: bool,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::default();
                // Keys with escapes cannot be borrowed; the caller then reads the slow way.
                while let Some(key) = map.next_key::<&'de str>()? {
                    shape.keys += 1;
                    match key {
                        "data" => shape.data = true,
                        "type" => shape.kind = true,
                        "error" => shape.error = true,
                        "input" => shape.input = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(shape)
            }
        }
        deserializer.deserialize_map(ShapeVisitor)
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

/// `{"error": …}`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Value,
}

impl Memo {
    pub fn read(raw: RawJson) -> Self {
        if !raw.get().trim_start().starts_with('{') {
            return Self::Data(StepOutput::Raw(raw));
        }
        match serde_json::from_str::<Shape>(raw.get()) {
            Ok(s) if s.data && (s.keys == 1 || (s.keys == 2 && s.kind)) => {
                Self::Data(StepOutput::Envelope(raw))
            }
            Ok(s) if s.keys == 1 && s.input => Self::Input,
            Ok(s) if s.keys == 1 && s.error => {
                match serde_json::from_str::<ErrorEnvelope>(raw.get()) {
                    Ok(e) => Self::Error(
                        serde_json::from_value(e.error.clone())
                            .unwrap_or_else(|_| SerializedError::new("Error", e.error.to_string())),
                    ),
                    Err(_) => Self::Data(StepOutput::Raw(raw)),
                }
            }
            Ok(_) => Self::Data(StepOutput::Raw(raw)),
            Err(_) => Self::read_slowly(raw),
        }
    }

    /// Keys with escapes: read the object as a tree.
    #[cold]
    fn read_slowly(raw: RawJson) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(raw.get()) else {
            return Self::Data(StepOutput::Raw(raw));
        };
        match MemoValue::read(&value) {
            MemoValue::Data(v) => Self::Data(StepOutput::Tree(v)),
            MemoValue::Error(e) => Self::Error(e),
            MemoValue::Input(_) => Self::Input,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            json!({ "data": null }),
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

    /// A key written with an escape is the same key.
    #[test]
    fn escaped_keys_read_the_slow_way() {
        let raw =
            serde_json::value::RawValue::from_string(r#"{"d\u0061ta": {"n": 1}}"#.to_string())
                .expect("raw");
        match Memo::read(raw) {
            Memo::Data(out) => {
                assert_eq!(out.decode::<Value>().expect("decodes"), json!({ "n": 1 }))
            }
            _ => panic!("data expected"),
        }
        let raw =
            serde_json::value::RawValue::from_string(r#"{"data": null}"#.to_string()).expect("raw");
        match Memo::read(raw) {
            Memo::Data(out) => assert!(out.is_null()),
            _ => panic!("data expected"),
        }
    }
}
