//! An event arrives: it is checked and stored, then it resumes waits, cancels runs and
//! starts runs of the functions it triggers.

use serde_json::{Map, Value, json};

use super::Engine;
use super::journal::Write;
use crate::registry::name_matches;
use crate::run::{Pending, RunStatus};

/// Why a batch of events was not accepted (nothing of it was).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// An event of the batch is malformed.
    #[error("event {index} of the batch is not valid")]
    Invalid {
        /// Its position in the batch.
        index: usize,
        /// What is wrong with it.
        #[source]
        problem: InvalidEvent,
    },
    /// More events in one batch than the event API takes.
    #[error("the batch has {0} events; at most {MAX_BATCH} are allowed in one request")]
    TooMany(usize),
    /// The batch could not be stored; none of it was accepted.
    #[error("the events could not be stored")]
    Store(#[source] crate::store::StoreError),
    /// The server stopped.
    #[error(transparent)]
    Stopped(#[from] super::Stopped),
}

/// The most events one request may carry (Inngest's event API limit).
pub const MAX_BATCH: usize = 5000;

/// The largest event, as JSON (Inngest's event API limit).
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// How long an event id is remembered per function: a second event with the same id within
/// this window is accepted, stored and matched against waits, but starts no second run of a
/// function it already started (the Go server's run idempotency, keyed by function and event
/// id, for 24 hours).
pub const DEDUPLICATION_MS: i64 = 24 * 3_600_000;

/// What is wrong with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEvent {
    /// It is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// `name` is missing or blank.
    #[error("the event has no name")]
    NoName,
    /// `name` is not a string.
    #[error("the event's name must be a string")]
    NameNotAString,
    /// `data` is neither absent, null nor an object.
    #[error("the event's data must be an object")]
    DataNotAnObject,
    /// `ts` is neither absent, null nor an integer.
    #[error("the event's ts must be an integer (ms)")]
    TsNotAnInteger,
    /// `ts` is before 1980 or after 2100 (the Go event API's range).
    #[error("the event's ts is out of range (1980 to 2100, in ms)")]
    TsOutOfRange,
    /// The event is larger than the event API takes.
    #[error("the event is larger than {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    /// The event nests deeper than the event API takes (100 levels).
    #[error("the event nests deeper than {MAX_EVENT_DEPTH} levels")]
    TooDeep,
}

/// The deepest an event may nest. Runs, their state rows and the lifecycle events that carry
/// an event wrap it a few levels deeper, and each of those must stay readable.
pub const MAX_EVENT_DEPTH: usize = 100;

/// 1980-01-01T00:00:00Z and 2100-01-01T00:00:00Z, the range of `ts` the Go event API accepts.
const TS_RANGE_MS: std::ops::RangeInclusive<i64> = 315_532_800_000..=4_102_444_800_000;

/// An event as the Go server hands it to a run (`pkg/event` `Event.Map()`): `name`, `data`
/// (`{}` when absent), `user` (`{}` when absent), `id`, `ts`, and `v` when set; nothing else.
pub(crate) fn event_map(event: &Value) -> Value {
    let object = |key: &str| match event.get(key) {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    let mut out = json!({
        "name": event.get("name").cloned().unwrap_or(Value::Null),
        "data": object("data"),
        "user": object("user"),
        "id": event.get("id").cloned().unwrap_or_else(|| json!("")),
        "ts": event.get("ts").cloned().unwrap_or_else(|| json!(0)),
    });
    if let Some(v) = event
        .get("v")
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    {
        out["v"] = v.clone();
    }
    out
}

/// The event the server emits when an invoked run starts.
pub(crate) const INVOKED: &str = "inngest/function.invoked";

fn check(event: &Value, from_outside: bool) -> Result<(), InvalidEvent> {
    let Value::Object(o) = event else {
        return Err(InvalidEvent::NotAnObject);
    };
    match o.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {}
        Some(Value::String(_)) | None => return Err(InvalidEvent::NoName),
        Some(_) => return Err(InvalidEvent::NameNotAString),
    }
    match o.get("data") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err(InvalidEvent::DataNotAnObject),
    }
    match o.get("ts") {
        None | Some(Value::Null) => {}
        Some(ts) => match ts.as_i64() {
            Some(ms) if TS_RANGE_MS.contains(&ms) => {}
            Some(_) => return Err(InvalidEvent::TsOutOfRange),
            None if ts.as_u64().is_some() => return Err(InvalidEvent::TsOutOfRange),
            None => return Err(InvalidEvent::TsNotAnInteger),
        },
    }
    // Serialized size, counted without building the text.
    if crate::json_size::json_size(event, MAX_EVENT_BYTES as u64) > MAX_EVENT_BYTES as u64 {
        return Err(InvalidEvent::TooLarge);
    }
    // Events the server makes (lifecycle events wrap a run's events and output a few levels
    // deeper) are not held to it: the store reads rows up to 256 levels.
    if from_outside && crate::json_size::json_depth(event) > MAX_EVENT_DEPTH {
        return Err(InvalidEvent::TooDeep);
    }
    Ok(())
}

impl Engine {
    /// Accepts a batch of events from outside: all or none. Each gets an `id` (a ULID) and
    /// `ts` when it has none; the batch is stored in one transaction before any of it is
    /// routed, so a batch the store refuses is refused as a whole.
    pub(super) fn ingest(&mut self, events: Vec<Value>) -> Result<Vec<String>, EventError> {
        self.accept(events, true)
    }

    /// Accepts events the server makes itself (lifecycle and invoke events): stored with the
    /// rest of the turn.
    pub(super) fn emit(&mut self, events: Vec<Value>) -> Result<Vec<String>, EventError> {
        self.accept(events, false)
    }

    fn accept(&mut self, events: Vec<Value>, store_now: bool) -> Result<Vec<String>, EventError> {
        if events.len() > MAX_BATCH {
            return Err(EventError::TooMany(events.len()));
        }
        for (index, e) in events.iter().enumerate() {
            // Only events from outside (the event API's, stored at once) are held to the depth
            // limit.
            check(e, store_now).map_err(|problem| EventError::Invalid { index, problem })?;
        }
        let now = self.clock.now_ms();
        self.forget_received(now);
        let mut batch = Vec::with_capacity(events.len());
        for mut event in events {
            if let Value::Object(o) = &mut event {
                if !matches!(o.get("id"), Some(Value::String(s)) if !s.is_empty()) {
                    o.insert("id".into(), json!(ulid::Ulid::new().to_string()));
                }
                if o.get("ts").and_then(Value::as_i64).is_none() {
                    o.insert("ts".into(), json!(now));
                }
                if !matches!(o.get("data"), Some(Value::Object(_))) {
                    o.insert("data".into(), Value::Object(Map::new()));
                }
            }
            let id = event["id"].as_str().unwrap_or_default().to_string();
            batch.push((id, event));
        }
        if store_now {
            self.store.save_events(&batch).map_err(EventError::Store)?;
        }
        let mut ids = Vec::with_capacity(batch.len());
        for (id, event) in batch {
            self.changed(|| super::Change::Event {
                id: id.clone(),
                name: event
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            });
            self.on_event(&event);
            if !store_now {
                self.journal.push(Write::Event(id.clone(), event));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Whether `event` may start `function_id`: false when an event with its id started it in
    /// the last 24 hours; records the start otherwise.
    pub(super) fn first_start(&mut self, function_id: &str, event: &Value) -> bool {
        let Some(id) = event.get("id").and_then(Value::as_str) else {
            return true;
        };
        let key = format!("{function_id}\u{0}{id}");
        if self.received.contains_key(&key) {
            tracing::info!(event = %id, function = %function_id, "this event id started the function in the last 24 h; no second run");
            return false;
        }
        let now = self.clock.now_ms();
        self.journal.push(Write::Received(key.clone(), now));
        self.received.insert(key.clone(), now);
        self.received_order.push_back((now, key));
        true
    }

    /// Drops the starts recorded more than 24 hours before `now` from the deduplication window.
    fn forget_received(&mut self, now: i64) {
        let horizon = now.saturating_sub(DEDUPLICATION_MS);
        let mut expired = false;
        while let Some((at, _)) = self.received_order.front() {
            if *at >= horizon {
                break;
            }
            if let Some((_, id)) = self.received_order.pop_front() {
                self.received.remove(&id);
                expired = true;
            }
        }
        if expired {
            self.journal.push(Write::ForgetReceived(horizon));
        }
    }

    /// Routes an accepted event (also the events the server emits itself).
    pub(super) fn on_event(&mut self, event: &Value) {
        let name = event["name"].as_str().unwrap_or_default().to_string();
        tracing::debug!(event = %name, "event");
        self.resume_waits(&name, event);
        self.cancel_matching(&name, event);
        if name == INVOKED {
            return;
        }
        let triggered: Vec<String> = self
            .registry
            .functions()
            .filter(|f| f.triggered_by(event))
            .map(|f| f.config.id.clone())
            .collect();
        for fn_id in triggered {
            self.trigger(&fn_id, event.clone());
        }
    }

    fn resume_waits(&mut self, name: &str, event: &Value) {
        let mut resumed = Vec::new();
        // Only the runs indexed as waiting for this name are looked at; an entry whose run no
        // longer waits for it (resumed, timed out, finished) is dropped on the way.
        let candidates: Vec<String> = self
            .waits_by_event
            .get(name)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        let mut stale = Vec::new();
        for id in &candidates {
            let waiting = self.runs.get(id).is_some_and(|run| {
                !run.is_finished()
                    && run
                        .pending
                        .values()
                        .any(|p| matches!(p, Pending::Wait { event, .. } if event == name))
            });
            if !waiting {
                stale.push(id.clone());
            }
        }
        if let Some(ids) = self.waits_by_event.get_mut(name) {
            for id in &stale {
                ids.remove(id);
            }
            if ids.is_empty() {
                self.waits_by_event.remove(name);
            }
        }
        for run in candidates
            .iter()
            .filter(|id| !stale.contains(id))
            .filter_map(|id| self.runs.get(id))
        {
            for (step, pending) in &run.pending {
                let Pending::Wait {
                    event: awaited,
                    condition,
                    ..
                } = pending
                else {
                    continue;
                };
                if awaited != name {
                    continue;
                }
                let holds = match condition {
                    None => true,
                    Some(src) => match self.exprs.get(src) {
                        Ok(e) => e.matches(&[("event", &run.event), ("async", event)]),
                        Err(e) => {
                            tracing::warn!(run = %run.id, error = %crate::error_chain(e), "a wait's condition does not compile");
                            false
                        }
                    },
                };
                if holds {
                    resumed.push((run.id.clone(), step.clone()));
                    // One event resumes at most one wait of a run.
                    break;
                }
            }
        }
        // The step's memo is the event as the Go server maps it (`Event.Map()`).
        let memo = event_map(event);
        for (run_id, step) in resumed {
            self.resolve(&run_id, &step, memo.clone());
        }
    }

    fn cancel_matching(&mut self, name: &str, event: &Value) {
        // The functions with a cancel rule for this event's name; most events have none, and
        // then no running run is looked at (an event costs the same with 10,000 runs asleep).
        let cancellable: std::collections::HashSet<&str> = self
            .registry
            .functions()
            .filter(|f| f.cancel.iter().any(|rule| name_matches(&rule.event, name)))
            .map(|f| f.config.id.as_str())
            .collect();
        if cancellable.is_empty() {
            return;
        }
        let mut cancelled = Vec::new();
        // Only running runs can be cancelled: the set of them, not every run stored.
        for run in self.running.iter().filter_map(|id| self.runs.get(id)) {
            if !cancellable.contains(run.function_id.as_str()) {
                continue;
            }
            let Some(f) = self.registry.function(&run.function_id) else {
                continue;
            };
            let hit = f.cancel.iter().any(|rule| {
                name_matches(&rule.event, name)
                    && rule
                        .condition
                        .as_ref()
                        .is_none_or(|c| c.matches(&[("event", &run.event), ("async", event)]))
            });
            if hit {
                cancelled.push(run.id.clone());
            }
        }
        for run_id in cancelled {
            tracing::info!(run = %run_id, event = %name, "run cancelled by event");
            self.finish(&run_id, RunStatus::Cancelled, None, None);
        }
    }
}
