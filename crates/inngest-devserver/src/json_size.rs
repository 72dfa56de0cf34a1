//! The size of a JSON value: its bytes as text, counted without building the text, and how
//! deep it nests, measured without recursion.

use serde_json::Value;

/// Counts what is written, and fails the write once past its cap.
struct Counter {
    bytes: u64,
    cap: u64,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len() as u64);
        if self.bytes > self.cap {
            return Err(std::io::Error::other("past the cap"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bytes of `value` as compact JSON, or, when that is more than `cap`, some number above
/// `cap`: serializing stops at the first write past it (a string is one write), so the rest
/// of a huge value is not walked.
pub(crate) fn json_size<T: serde::Serialize + ?Sized>(value: &T, cap: u64) -> u64 {
    let mut counter = Counter { bytes: 0, cap };
    // A write past the cap fails and stops the serializer; the count is then above the cap.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes
}

/// How deep `value` nests (a scalar is 0, `[]` and `{}` are 1, `[[1]]` is 2), walked with a
/// stack of its own rather than by recursion.
pub(crate) fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let inner = depth + 1;
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, inner))),
            Value::Object(fields) => stack.extend(fields.values().map(|c| (c, inner))),
            _ => continue,
        }
        deepest = deepest.max(inner);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::{json_depth, json_size};

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!([])), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    }
    use serde_json::json;

    #[test]
    fn counts_compact_json_and_stops_past_the_cap() {
        let value = json!({"a": [1, 2], "b": "x"});
        let text = serde_json::to_string(&value).expect("JSON");
        assert_eq!(json_size(&value, u64::MAX), text.len() as u64);
        assert_eq!(json_size(&value, text.len() as u64), text.len() as u64);
        // Stops at the first write past the cap: the first of many strings.
        let many: Vec<String> = (0..1000).map(|_| "y".repeat(1000)).collect();
        let over = json_size(&json!(many), 100);
        assert!(over > 100 && over < 2_000, "{over}");
    }
}
