//! A step's result as the handler receives it: read from the memo (raw JSON text, decoded
//! straight into the step's type) or just computed by the step body (a tree).

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::protocol::{MemoValue, SerializedError, SharedJson};

/// A step's result before it is decoded into the step's type.
#[derive(Debug)]
pub(crate) enum StepOutput {
    /// From the memo, the value itself.
    Raw(SharedJson),
    /// From the memo, a `{"data": value}` envelope (decoded in one pass).
    Envelope(SharedJson),
    /// From the memo, an object whose first key is `data`: a `{"data": value}` envelope, the
    /// common case, unless it has other keys (then the value is the whole object). Decoded in
    /// one pass when it is an envelope; read again only when it is not.
    DataFirst(SharedJson),
    /// Computed in this request.
    Tree(Value),
}

/// `{"data": T}`, the memo of a successful step (a `type` beside it is ignored).
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// Exactly `{"data": T}` or `{"type": …, "data": T}`: anything else is no envelope.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictEnvelope<T> {
    data: T,
    #[serde(rename = "type", default)]
    _kind: Option<IgnoredAny>,
}

impl StepOutput {
    /// Decodes into `T`.
    pub fn decode<T: DeserializeOwned>(self) -> serde_json::Result<T> {
        match self {
            Self::Raw(raw) => serde_json::from_slice(raw.as_bytes()),
            Self::Envelope(raw) => {
                serde_json::from_slice::<Envelope<T>>(raw.as_bytes()).map(|e| e.data)
            }
            Self::DataFirst(raw) => {
                match serde_json::from_slice::<StrictEnvelope<T>>(raw.as_bytes()) {
                    Ok(envelope) => Ok(envelope.data),
                    Err(_) => Self::classified(raw).decode(),
                }
            }
            Self::Tree(value) => serde_json::from_value(value),
        }
    }

    /// A [`StepOutput::DataFirst`] read the careful way: envelope or whole value.
    #[cold]
    fn classified(raw: SharedJson) -> Self {
        match serde_json::from_slice::<Shape>(raw.as_bytes()) {
            Ok(shape) if shape.is_envelope() => Self::Envelope(raw),
            Ok(_) => Self::Raw(raw),
            // Keys with escapes: the tree says.
            Err(_) => match serde_json::from_slice::<Value>(raw.as_bytes()) {
                Ok(value) => match MemoValue::read(&value) {
                    MemoValue::Data(data) => Self::Tree(data),
                    _ => Self::Tree(value),
                },
                Err(_) => Self::Raw(raw),
            },
        }
    }

    /// Whether it is JSON `null` (a wait that timed out).
    pub fn is_null(&self) -> bool {
        match self {
            Self::Raw(raw) => raw.as_bytes().trim_ascii() == b"null",
            Self::Envelope(raw) => {
                serde_json::from_slice::<Envelope<Option<IgnoredAny>>>(raw.as_bytes())
                    .is_ok_and(|e| e.data.is_none())
            }
            Self::DataFirst(raw) => Self::classified(raw.clone()).is_null(),
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

impl Shape {
    /// Exactly `{data}` or `{type, data}`.
    fn is_envelope(&self) -> bool {
        self.data && (self.keys == 1 || (self.keys == 2 && self.kind))
    }
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
    pub fn read(raw: SharedJson) -> Self {
        let text = raw.as_bytes().trim_ascii_start();
        if text.first() != Some(&b'{') {
            return Self::Data(StepOutput::Raw(raw));
        }
        // What executors write (`{"data":…}`, no space): data for sure, decoded in one pass.
        if text.starts_with(br#"{"data":"#) {
            return Self::Data(StepOutput::DataFirst(raw));
        }
        Self::read_shape(raw)
    }

    /// Reads which keys the object has, then what it is.
    fn read_shape(raw: SharedJson) -> Self {
        match serde_json::from_slice::<Shape>(raw.as_bytes()) {
            Ok(s) if s.is_envelope() => Self::Data(StepOutput::Envelope(raw)),
            Ok(s) if s.keys == 1 && s.input => Self::Input,
            Ok(s) if s.keys == 1 && s.error => {
                match serde_json::from_slice::<ErrorEnvelope>(raw.as_bytes()) {
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
    fn read_slowly(raw: SharedJson) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(raw.as_bytes()) else {
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

    fn raw(v: &Value) -> SharedJson {
        SharedJson::of(v).expect("raw")
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
            json!({ "data": { "x": 1 }, "type": "data" }),
            json!({ "data": 1, "error": 2 }),
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
        let raw: SharedJson = serde_json::from_str(r#"{"d\u0061ta": {"n": 1}}"#).expect("raw");
        match Memo::read(raw) {
            Memo::Data(out) => {
                assert_eq!(out.decode::<Value>().expect("decodes"), json!({ "n": 1 }))
            }
            _ => panic!("data expected"),
        }
        let raw: SharedJson = serde_json::from_str(r#"{"data": null}"#).expect("raw");
        match Memo::read(raw) {
            Memo::Data(out) => assert!(out.is_null()),
            _ => panic!("data expected"),
        }
    }

    /// Memos as an executor writes them, in either key order, decode in one pass or the
    /// careful way to the same value.
    #[test]
    fn envelopes_in_either_key_order_and_data_beside_other_keys() {
        let read = |text: &str| match Memo::read(serde_json::from_str(text).expect("json")) {
            Memo::Data(out) => out,
            _ => panic!("{text}: data expected"),
        };
        for (text, want) in [
            (r#"{"data":{"n":1}}"#, json!({"n": 1})),
            (r#"{"data":{"n":1},"type":"data"}"#, json!({"n": 1})),
            (r#"{"type":"data","data":{"n":1}}"#, json!({"n": 1})),
            (r#"{"data":1,"other":2}"#, json!({"data": 1, "other": 2})),
        ] {
            assert_eq!(
                read(text).decode::<Value>().expect("decodes"),
                want,
                "{text}"
            );
        }
        assert!(read(r#"{"data":null}"#).is_null());
        assert!(
            !read(r#"{"data":null,"other":1}"#).is_null(),
            "the whole object is the value"
        );
        let wrong = read(r#"{"data":"text"}"#).decode::<u32>();
        assert!(
            wrong.is_err(),
            "a value of another type is an error, not another reading"
        );
    }
}
