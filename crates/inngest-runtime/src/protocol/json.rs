//! How the protocol types hold the JSON values they carry (event data, memoized step values).
//!
//! - [`Value`], a tree: for code that looks inside the values, such as a server matching
//!   events or a test comparing requests. The default.
//! - [`RawJson`] (`Box<RawValue>`), the value's text as it came: for code that only decodes
//!   each value into its own type, such as the SDK answering a request. Reading a request this
//!   way builds no tree; each value is decoded straight from its text, once, when a step asks.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value kept as its text.
pub type RawJson = Box<RawValue>;

/// A representation of JSON values in the protocol types: [`Value`] or [`RawJson`].
pub trait JsonRepr: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// `{}`, for an event without `data`.
    fn empty_object() -> Self;

    /// Decodes the value into `T` (without copying a tree).
    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T>;

    /// The value as a tree.
    fn to_tree(&self) -> serde_json::Result<Value> {
        self.decode()
    }
}

impl JsonRepr for Value {
    fn empty_object() -> Self {
        Value::Object(serde_json::Map::new())
    }

    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(self)
    }

    fn to_tree(&self) -> serde_json::Result<Value> {
        Ok(self.clone())
    }
}

impl JsonRepr for RawJson {
    fn empty_object() -> Self {
        RawValue::from_string("{}".to_string()).unwrap_or_else(|_| unreachable_raw())
    }

    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.get())
    }
}

/// `{}` as raw JSON never fails to parse; this keeps the fallback total without a panic.
#[cold]
fn unreachable_raw() -> RawJson {
    serde_json::value::to_raw_value(&Value::Null).unwrap_or_default()
}

/// Memoized step values keyed by hashed step id, in the order the request lists them (which
/// is the order the steps completed when the request has no stack).
#[derive(Debug, Clone, PartialEq)]
pub struct Steps<V>(Vec<(String, V)>);

impl<V> Default for Steps<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Steps<V> {
    /// No steps.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The hashed ids, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The value of a hashed id (a linear search: for a few look-ups; collect into a map for
    /// many).
    pub fn get(&self, hashed: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == hashed).map(|(_, v)| v)
    }

    /// Sets the value of a hashed id (replacing it in place if present; a linear search).
    pub fn insert(&mut self, hashed: impl Into<String>, value: V) {
        let hashed = hashed.into();
        match self.0.iter_mut().find(|(k, _)| *k == hashed) {
            Some(slot) => slot.1 = value,
            None => self.0.push((hashed, value)),
        }
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V> IntoIterator for Steps<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V> FromIterator<(String, V)> for Steps<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut steps = Self::new();
        for (k, v) in iter {
            steps.insert(k, v);
        }
        steps
    }
}

impl<V: Serialize> Serialize for Steps<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Steps<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for StepsVisitor<V> {
            type Value = Steps<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of memoized steps")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Steps<V>, A::Error> {
                // A request lists each step once; a repeated key keeps its last value (at its
                // first place), as a JSON object would. Duplicates are looked for once, after
                // reading, with a hash set of borrowed keys: linear time, however hostile the
                // body.
                let mut out: Vec<(String, V)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, V>()? {
                    out.push(entry);
                }
                let mut seen = HashSet::with_capacity(out.len());
                if out.iter().all(|(k, _)| seen.insert(k.as_str())) {
                    return Ok(Steps(out));
                }
                let mut merged: Vec<(String, V)> = Vec::with_capacity(out.len());
                let mut index: HashMap<String, usize> = HashMap::with_capacity(out.len());
                for (k, v) in out {
                    match index.get(&k) {
                        Some(&i) => merged[i].1 = v,
                        None => {
                            index.insert(k.clone(), merged.len());
                            merged.push((k, v));
                        }
                    }
                }
                let out = merged;
                Ok(Steps(out))
            }
        }
        deserializer.deserialize_map(StepsVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_their_order_and_read_both_ways() {
        let text = r#"{"b":{"data":1},"a":null,"c":{"data":{"x":[1,2]}}}"#;
        let tree: Steps<Value> = serde_json::from_str(text).expect("steps");
        assert_eq!(tree.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        let raw: Steps<RawJson> = serde_json::from_str(text).expect("steps");
        assert_eq!(
            raw.get("c").map(|v| v.get()),
            Some(r#"{"data":{"x":[1,2]}}"#)
        );
        assert_eq!(serde_json::to_string(&raw).expect("serializes"), text);
        assert_eq!(RawJson::empty_object().get(), "{}");
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_however_many_keys() {
        for n in [3, 40] {
            let mut text = String::from("{");
            for i in 0..n {
                text.push_str(&format!("\"k{i}\":{i},"));
            }
            text.push_str("\"k1\":\"last\"}");
            let steps: Steps<Value> = serde_json::from_str(&text).expect("steps");
            assert_eq!(steps.len(), n);
            assert_eq!(steps.get("k1"), Some(&Value::from("last")));
            assert_eq!(steps.keys().nth(1), Some("k1"), "in first-seen order");
        }
    }
}
