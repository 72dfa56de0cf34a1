//! How the protocol types hold the JSON values they carry (event data, memoized step values).
//!
//! - [`Value`], a tree: for code that looks inside the values, such as a server matching
//!   events or a test comparing requests. The default.
//! - [`RawJson`] (`Box<RawValue>`), the value's text as it came: for code that only decodes
//!   each value into its own type. Reading a request this way builds no tree; each value is
//!   decoded straight from its text, once, when a step asks.
//! - [`SharedJson`], the value's text inside the buffer it came in (a request body): what the
//!   SDK answering a request holds. Like [`RawJson`] it builds no tree, and it copies nothing
//!   either: every value of a request shares the body's one allocation.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use bytes::Bytes;
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

/// A JSON value's text in a shared buffer: cloning it or cutting it out of a request body
/// copies nothing. It always holds one valid JSON value (every constructor checks or is given
/// text a JSON parser produced).
///
/// ```
/// use inngest_runtime::protocol::{JsonRepr, SharedJson};
/// let body = bytes::Bytes::from_static(br#"{"data":{"n":1}}"#);
/// let raw: &serde_json::value::RawValue = serde_json::from_slice(&body).unwrap();
/// let shared = SharedJson::within(&body, raw);
/// assert_eq!(shared.decode::<serde_json::Value>().unwrap()["data"]["n"], 1);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SharedJson(Bytes);

impl SharedJson {
    /// The value `raw`, which a parser read out of `buffer`: a view into `buffer` when `raw`
    /// lies inside it (a borrowed [`RawValue`] always does), else a copy.
    pub fn within(buffer: &Bytes, raw: &RawValue) -> Self {
        Self(share(buffer, raw.get()))
    }

    /// `value` written as JSON.
    ///
    /// # Errors
    ///
    /// `value` cannot be written as JSON (a map with non-string keys).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::to_vec(value).map(|text| Self(Bytes::from(text)))
    }

    /// A copy of a value kept as its own text.
    pub fn copied(raw: &RawValue) -> Self {
        Self(Bytes::copy_from_slice(raw.get().as_bytes()))
    }

    /// JSON `null`.
    pub fn null() -> Self {
        Self(Bytes::from_static(b"null"))
    }

    /// The value's text, as bytes (valid UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value's text, as the buffer that holds it.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// `part` as a view into `buffer` when it lies inside it, else a copy.
pub(crate) fn share(buffer: &Bytes, part: &str) -> Bytes {
    let start = buffer.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    match at.checked_sub(start) {
        Some(offset) if offset.saturating_add(part.len()) <= buffer.len() => {
            buffer.slice(offset..offset + part.len())
        }
        _ => Bytes::copy_from_slice(part.as_bytes()),
    }
}

impl Debug for SharedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedJson({})", String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for SharedJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Written as the value itself, not as a string (a rare path: the SDK only decodes).
        let raw: &RawValue = serde_json::from_slice(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawJson::deserialize(deserializer)?;
        Ok(Self(Bytes::from(String::from(Box::<str>::from(raw)))))
    }
}

impl JsonRepr for SharedJson {
    fn empty_object() -> Self {
        Self(Bytes::from_static(b"{}"))
    }

    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.0)
    }
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
    fn shared_values_are_views_into_their_buffer_and_copies_of_anything_else() {
        let body = Bytes::from(r#"{"a":{"n":[1,2]},"b":"x"}"#.to_string());
        let text = std::str::from_utf8(&body).expect("utf-8");
        let parts: HashMap<&str, &RawValue> = serde_json::from_str(text).expect("object");
        let a = SharedJson::within(&body, parts["a"]);
        assert_eq!(a.as_bytes(), br#"{"n":[1,2]}"#);
        assert_eq!(a.as_bytes().as_ptr(), body[5..].as_ptr(), "no copy");
        assert_eq!(
            serde_json::to_string(&a).expect("serializes"),
            r#"{"n":[1,2]}"#
        );
        let elsewhere: Box<RawValue> = serde_json::from_str(r#""y""#).expect("raw");
        let copied = SharedJson::within(&body, &elsewhere);
        assert_eq!(copied, SharedJson::copied(&elsewhere));
        assert_eq!(copied.decode::<String>().expect("decodes"), "y");
        let owned: SharedJson = serde_json::from_str(r#" [1, {"k": null}] "#).expect("value");
        assert_eq!(owned.as_bytes(), br#"[1, {"k": null}]"#);
        assert_eq!(
            SharedJson::empty_object().decode::<Value>().expect("{}"),
            serde_json::json!({})
        );
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
