//! An event arrives: it is checked and stored, then it resumes waits, cancels runs and
//! starts runs of the functions it triggers.

use serde_json::{Map, Value, json};

use super::Engine;
use crate::registry::name_matches;
use crate::run::{Pending, RunStatus};

/// Why a batch of events was not accepted (nothing of it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// The server stopped.
    #[error(transparent)]
    Stopped(#[from] super::Stopped),
}

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
}

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

fn check(event: &Value) -> Result<(), InvalidEvent> {
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
        Some(ts) if ts.as_i64().is_some() => {}
        Some(_) => return Err(InvalidEvent::TsNotAnInteger),
    }
    Ok(())
}

impl Engine {
    /// Accepts a batch of events: all or none.
    pub(super) fn ingest(&mut self, events: Vec<Value>) -> Result<Vec<String>, EventError> {
        for (index, e) in events.iter().enumerate() {
            check(e).map_err(|problem| EventError::Invalid { index, problem })?;
        }
        let mut ids = Vec::with_capacity(events.len());
        for mut event in events {
            let now = self.clock.now_ms();
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
            self.persist(|s, _| s.save_event(&id, &event));
            self.events.push_back(event.clone());
            if self.events.len() > super::RECENT_EVENTS {
                self.events.pop_front();
            }
            self.on_event(&event);
            ids.push(id);
        }
        Ok(ids)
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
        for run in self.running.iter().filter_map(|id| self.runs.get(id)) {
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
        let mut cancelled = Vec::new();
        for run in self
            .runs
            .values()
            .filter(|r| r.status == RunStatus::Running)
        {
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
