//! An execution request as the SDK reads it: the body kept whole, every value a view into it.
//!
//! Reading borrows from the body (`&str`, `&RawValue`) and keeps only what answering needs:
//! the trigger event, the memo, the `ctx` fields the SDK acts on, and the batch of events as
//! text, decoded when [`Context::events`](crate::Context::events) asks. The rest (`ctx.stack`,
//! `ctx.step_id`, …) is skipped without being built. Every JSON value kept is a
//! [`SharedJson`] into the body, so a request costs a handful of allocations, not one per
//! string and value.
//!
//! A body this reading refuses is read again by [`ExecutionRequest::parse`], which accepts
//! what it accepts and says what is wrong the way the official SDK does.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::memo::MemoTable;
use crate::protocol::request::RequestParseError;
use crate::protocol::{EventPayload, ExecutionRequest, JsonRepr, RawJson, SharedJson};
use crate::step_id::HashedId;

/// An execution request, read for answering it.
#[derive(Debug)]
pub(crate) struct RunRequest {
    /// The first triggering event.
    pub event: EventPayload<SharedJson>,
    /// The `events` array as sent; `None` when it is absent, `null` or empty (the batch is
    /// the trigger alone).
    batch: Option<SharedJson>,
    /// The memoized steps; moved into the run state when the request runs.
    memo: MemoTable,
    /// Whether the request carried any memoized step: `false` on the run's first request.
    memoized: bool,
    /// What the SDK acts on in `ctx`.
    pub ctx: RunContext,
    /// Whether the state is too large to send, so must be fetched from the API.
    pub use_api: bool,
}

/// The fields of `ctx` the SDK acts on.
#[derive(Debug)]
pub(crate) struct RunContext {
    pub run_id: String,
    pub attempt: u32,
    pub max_attempts: Option<u32>,
    pub disable_immediate_execution: bool,
    pub use_api: bool,
    pub fn_id: Option<String>,
    pub qi_id: Option<String>,
}

/// Why a large run's state, fetched from the API, could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the API's answer is not a list of events or an object of steps")]
pub(crate) struct StateShapeError(#[from] serde_json::Error);

impl RunRequest {
    /// Reads a request body.
    ///
    /// # Errors
    ///
    /// What [`ExecutionRequest::parse`] says of a body it refuses.
    pub fn parse(body: Bytes) -> Result<Self, RequestParseError> {
        // UTF-8 is checked once for the whole body, so that borrowed strings and raw values
        // are not checked again one by one.
        if let Ok(text) = std::str::from_utf8(&body) {
            if let Ok(wire) = serde_json::from_str::<WireRequest<'_>>(text) {
                if wire.version != 0 {
                    return Ok(Self::from_wire(&body, wire));
                }
            }
        }
        ExecutionRequest::<RawJson>::parse(&body).map(Self::from_owned)
    }

    fn from_wire(body: &Bytes, wire: WireRequest<'_>) -> Self {
        let memoized = !wire.steps.0.is_empty();
        Self {
            event: wire.event.shared(body),
            batch: wire
                .events
                .filter(|raw| !is_empty_list(raw))
                .map(|raw| SharedJson::within(body, raw)),
            memo: wire.steps.shared(body),
            memoized,
            ctx: RunContext {
                run_id: wire.ctx.run_id.into_owned(),
                attempt: wire.ctx.attempt,
                max_attempts: wire.ctx.max_attempts,
                disable_immediate_execution: wire.ctx.disable_immediate_execution,
                use_api: wire.ctx.use_api,
                fn_id: wire.ctx.fn_id.map(Cow::into_owned),
                qi_id: wire.ctx.qi_id.map(Cow::into_owned),
            },
            use_api: wire.use_api,
        }
    }

    /// A request the checked parser read (a body the fast reading refused but that is valid).
    #[cold]
    fn from_owned(req: ExecutionRequest<RawJson>) -> Self {
        let copy = |v: &RawJson| SharedJson::copied(v);
        let event = EventPayload {
            name: req.event.name,
            data: copy(&req.event.data),
            id: req.event.id,
            ts: req.event.ts,
            user: req.event.user.as_ref().map(copy),
            v: req.event.v,
        };
        let batch = serde_json::to_vec(&req.events)
            .ok()
            .map(Bytes::from)
            .and_then(|text| {
                let raw: &RawValue = serde_json::from_slice(&text).ok()?;
                (!is_empty_list(raw)).then(|| SharedJson::within(&text, raw))
            });
        let mut memo = MemoTable::with_capacity(req.steps.len());
        for (key, value) in req.steps.iter() {
            if let Some(id) = HashedId::parse(key) {
                memo.insert(id, copy(value));
            }
        }
        Self {
            event,
            batch,
            memo,
            memoized: !req.steps.is_empty(),
            ctx: RunContext {
                run_id: req.ctx.run_id,
                attempt: req.ctx.attempt,
                max_attempts: req.ctx.max_attempts,
                disable_immediate_execution: req.ctx.disable_immediate_execution,
                use_api: req.ctx.use_api,
                fn_id: req.ctx.fn_id,
                qi_id: req.ctx.qi_id,
            },
            use_api: req.use_api,
        }
    }

    /// Whether the request carries no memoized step: the run's first.
    pub fn is_first_request(&self) -> bool {
        !self.memoized
    }

    /// Takes the memoized steps out of the request.
    pub fn take_memo(&mut self) -> MemoTable {
        std::mem::take(&mut self.memo)
    }

    /// Every triggering event: the batch as sent, or the trigger alone.
    ///
    /// # Errors
    ///
    /// The `events` the request carries are not a list of events.
    pub fn events(&self) -> Result<Vec<EventPayload<SharedJson>>, serde_json::Error> {
        let Some(batch) = &self.batch else {
            return Ok(vec![self.event.clone()]);
        };
        let text = Bytes::copy_from_slice(batch.as_bytes());
        let wire: Vec<WireEvent<'_>> = serde_json::from_slice(&text)?;
        Ok(wire.into_iter().map(|e| e.shared(&text)).collect())
    }

    /// Replaces the events with the run's batch as the API sent it (`use_api`).
    ///
    /// # Errors
    ///
    /// The answer is not a list of events; the request is left as it was.
    pub fn replace_events(&mut self, batch: Bytes) -> Result<(), StateShapeError> {
        let wire: Vec<WireEvent<'_>> = serde_json::from_slice(&batch)?;
        let mut events = wire.into_iter();
        if let Some(first) = events.next() {
            self.event = first.shared(&batch);
        }
        let raw: &RawValue = serde_json::from_slice(&batch)?;
        self.batch = (!is_empty_list(raw)).then(|| SharedJson::within(&batch, raw));
        Ok(())
    }

    /// Replaces the memo with the run's steps as the API sent them (`use_api`).
    ///
    /// # Errors
    ///
    /// The answer is not an object of steps; the request is left as it was.
    pub fn replace_steps(&mut self, steps: Bytes) -> Result<(), StateShapeError> {
        let wire: WireSteps<'_> = serde_json::from_slice(&steps)?;
        self.memoized = self.memoized || !wire.0.is_empty();
        self.memo = wire.shared(&steps);
        Ok(())
    }
}

/// `[]`, whatever the whitespace.
fn is_empty_list(raw: &RawValue) -> bool {
    let text = raw.get().trim();
    text.starts_with('[') && text.ends_with(']') && text[1..text.len() - 1].trim().is_empty()
}

fn minus_one() -> i64 {
    -1
}

/// The request body, borrowed: only what the SDK keeps, nothing built that it does not.
#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(borrow)]
    event: WireEvent<'a>,
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
    #[serde(borrow, default)]
    steps: WireSteps<'a>,
    #[serde(borrow)]
    ctx: WireContext<'a>,
    #[serde(default = "minus_one")]
    version: i64,
    #[serde(default)]
    use_api: bool,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Present<'a>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    ts: Option<i64>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    v: Option<Cow<'a, str>>,
}

impl WireEvent<'_> {
    fn shared(self, body: &Bytes) -> EventPayload<SharedJson> {
        EventPayload {
            name: self.name.into_owned(),
            data: self.data.0.map_or_else(SharedJson::empty_object, |raw| {
                SharedJson::within(body, raw)
            }),
            id: self.id.map(Cow::into_owned),
            ts: self.ts,
            user: self.user.map(|raw| SharedJson::within(body, raw)),
            v: self.v.map(Cow::into_owned),
        }
    }
}

/// A value that may be absent but, when present, is kept as it is (`null` included: an
/// `Option` would read `null` as absent).
#[derive(Default)]
struct Present<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Present<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Self(Some(raw)))
    }
}

#[derive(Deserialize)]
struct WireContext<'a> {
    #[serde(borrow)]
    run_id: Cow<'a, str>,
    #[serde(default)]
    attempt: u32,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    disable_immediate_execution: bool,
    #[serde(default)]
    use_api: bool,
    #[serde(borrow, default)]
    fn_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    qi_id: Option<Cow<'a, str>>,
}

/// `steps`: hashed id → memoized value, in the order sent.
#[derive(Default)]
struct WireSteps<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl WireSteps<'_> {
    /// The memo table; keys that are no hashed id this SDK makes can name no step and are
    /// left out.
    fn shared(self, body: &Bytes) -> MemoTable {
        let mut memo = MemoTable::with_capacity(self.0.len());
        for (key, raw) in self.0 {
            if let Some(id) = HashedId::parse(&key) {
                memo.insert(id, SharedJson::within(body, raw));
            }
        }
        memo
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for WireSteps<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = WireSteps<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of memoized steps")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireSteps<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    out.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(WireSteps(out))
            }
        }
        deserializer.deserialize_map(StepsVisitor)
    }
}

/// A map key, borrowed unless it is written with escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body(v: &Value) -> Bytes {
        Bytes::from(serde_json::to_vec(v).expect("json"))
    }

    fn welcome() -> Value {
        let event = json!({"name": "user/user.created", "data": {"email": "ada@example.com"},
            "id": "01E", "ts": 1767225600000_i64, "user": {}});
        json!({
            "event": event, "events": [event],
            "steps": {
                crate::step_id::hash("a"): {"data": {"sent": true}},
                crate::step_id::hash("b"): null,
                "not-a-hashed-id": {"data": 1},
            },
            "ctx": {"run_id": "01R", "attempt": 2, "max_attempts": 4,
                "stack": {"stack": ["x"], "current": 1}, "step_id": "step", "fn_id": "f", "qi_id": "q"},
            "version": 2,
        })
    }

    #[test]
    fn the_fast_reading_keeps_what_the_checked_one_does_as_views_into_the_body() {
        let text = body(&welcome());
        let mut fast = RunRequest::parse(text.clone()).expect("reads");
        let checked = ExecutionRequest::<RawJson>::parse(&text).expect("parses");
        let slow = RunRequest::from_owned(checked.clone());
        for req in [&fast, &slow] {
            assert_eq!(req.event.name, "user/user.created");
            assert_eq!(req.event.id.as_deref(), Some("01E"));
            assert_eq!(req.event.ts, Some(1767225600000));
            assert_eq!(
                req.event.data.decode::<Value>().expect("data"),
                json!({"email": "ada@example.com"})
            );
            assert_eq!(req.ctx.run_id, "01R");
            assert_eq!((req.ctx.attempt, req.ctx.max_attempts), (2, Some(4)));
            assert_eq!(
                (req.ctx.fn_id.as_deref(), req.ctx.qi_id.as_deref()),
                (Some("f"), Some("q"))
            );
            assert!(!req.is_first_request());
            assert_eq!(req.events().expect("events").len(), 1);
        }
        let data = fast.event.data.as_bytes().as_ptr() as usize;
        let start = text.as_ptr() as usize;
        assert!(
            (start..start + text.len()).contains(&data),
            "the event's data is not copied"
        );
        let mut memo = fast.take_memo();
        assert_eq!(memo.len(), 2, "the key that is no hashed id is left out");
        assert_eq!(checked.steps.len(), 3);
        let a = HashedId::parse(&crate::step_id::hash("a")).expect("id");
        let b = HashedId::parse(&crate::step_id::hash("b")).expect("id");
        assert_eq!(
            memo.take(&a).map(|v| v.as_bytes().to_vec()),
            Some(br#"{"data":{"sent":true}}"#.to_vec())
        );
        assert_eq!(
            memo.take(&b).map(|v| v.as_bytes().to_vec()),
            Some(b"null".to_vec())
        );
    }

    #[test]
    fn escaped_strings_and_keys_are_read_as_written() {
        let key = crate::step_id::hash("a");
        let text = format!(
            r#"{{"event":{{"name":"a\/b","data":null}},"steps":{{"\u00{}{}":1}},"ctx":{{"run_id":"r\u0031"}}}}"#,
            hex(key.as_bytes()[0]),
            &key[1..]
        );
        let mut req = RunRequest::parse(Bytes::from(text)).expect("reads");
        assert_eq!(req.event.name, "a/b");
        assert_eq!(
            req.event.data.as_bytes(),
            b"null",
            "a null payload stays null"
        );
        assert_eq!(req.ctx.run_id, "r1");
        let id = HashedId::parse(&key).expect("id");
        assert!(
            req.take_memo().take(&id).is_some(),
            "an escaped key is the same key"
        );
    }

    fn hex(b: u8) -> String {
        format!("{b:02x}")
    }

    #[test]
    fn a_batch_is_read_when_asked_and_an_empty_one_is_the_trigger() {
        let mut v = welcome();
        v["events"] =
            json!([v["event"], {"name": "user/user.created", "data": {"email": "b@example.com"}}]);
        let req = RunRequest::parse(body(&v)).expect("reads");
        let events = req.events().expect("events");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].data.decode::<Value>().expect("data")["email"],
            "b@example.com"
        );
        v["events"] = json!([]);
        let req = RunRequest::parse(body(&v)).expect("reads");
        assert_eq!(req.events().expect("events")[0].name, "user/user.created");
        v["events"] = json!("not a list");
        let req = RunRequest::parse(body(&v)).expect("reads");
        assert!(
            req.events().is_err(),
            "a malformed batch is an error when it is read"
        );
    }

    #[test]
    fn what_the_fast_reading_refuses_gets_the_checked_parsers_error() {
        for bad in [
            &br#"{"steps":{}}"#[..],
            br#"{"event":{"name":"a"},"ctx":{"run_id":"r"},"version":0}"#,
            b"not json",
            br#"{"event":{"name":"a"},"steps":[],"ctx":{"run_id":"r"}}"#,
        ] {
            let fast = RunRequest::parse(Bytes::copy_from_slice(bad)).map(|_| ());
            let checked = ExecutionRequest::<RawJson>::parse(bad).map(|_| ());
            assert!(fast.is_err(), "{}", String::from_utf8_lossy(bad));
            assert_eq!(fast, checked);
        }
    }

    #[test]
    fn large_state_from_the_api_replaces_events_and_steps() {
        let mut req = RunRequest::parse(body(&welcome())).expect("reads");
        let batch =
            body(&json!([{"name": "x/y", "data": {"n": 1}}, {"name": "x/y", "data": {"n": 2}}]));
        req.replace_events(batch).expect("a batch");
        assert_eq!(req.event.name, "x/y");
        assert_eq!(req.events().expect("events").len(), 2);
        let key = crate::step_id::hash("c");
        req.replace_steps(body(&json!({ key.clone(): {"data": 3} })))
            .expect("steps");
        let mut memo = req.take_memo();
        assert_eq!(memo.len(), 1);
        assert!(memo.take(&HashedId::parse(&key).expect("id")).is_some());
        assert!(req.replace_steps(Bytes::from_static(b"[1]")).is_err());
        assert!(req.replace_events(Bytes::from_static(b"{}")).is_err());
    }
}
