//! Flow control between a trigger and a run's start: batching (one run for several events),
//! debounce (the last event wins, later), rate limit and idempotency (extra starts are
//! dropped), throttle (extra starts wait), singleton (skip the new run or cancel the running
//! one); and the finish timeout, which cancels a run that lasts too long.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::Engine;
use crate::expr::Expr;
use crate::run::{Job, RunStatus};

const DAY_MS: i64 = 86_400_000;

/// A debounced start waiting for quiet.
pub(super) struct Debounced {
    function_id: String,
    event: Value,
    first_ms: i64,
    pub due_ms: i64,
}

/// Events gathered for one batched run.
pub(super) struct Gathering {
    function_id: String,
    events: Vec<Value>,
    pub due_ms: i64,
}

/// A start the throttle holds back.
pub(super) struct Held {
    function_id: String,
    events: Vec<Value>,
    pub due_ms: i64,
}

/// The flow-control state: recent starts per window, pending debounces, batches and throttled
/// starts.
#[derive(Default)]
pub(super) struct FlowState {
    starts: HashMap<String, VecDeque<i64>>,
    pub debounced: HashMap<String, Debounced>,
    pub batches: HashMap<String, Gathering>,
    pub held: Vec<Held>,
}

impl FlowState {
    /// The earliest time something here becomes due.
    pub fn next_due(&self) -> Option<i64> {
        self.debounced
            .values()
            .map(|d| d.due_ms)
            .chain(self.batches.values().map(|b| b.due_ms))
            .chain(self.held.iter().map(|h| h.due_ms))
            .min()
    }
}

fn slot(function_id: &str, kind: &str, key: Option<&Expr>, event: &Value) -> String {
    let key = key
        .and_then(|k| k.key(&[("event", event)]))
        .unwrap_or_default();
    format!("{function_id}\u{0}{kind}\u{0}{key}")
}

impl FlowState {
    /// Whether a start fits `limit` per `period_ms` in `slot`; records it if so. Otherwise
    /// `Err` holds when the window next has room.
    fn take(&mut self, slot: String, limit: usize, period_ms: i64, now: i64) -> Result<(), i64> {
        let starts = self.starts.entry(slot).or_default();
        let horizon = now.saturating_sub(period_ms);
        while starts.front().is_some_and(|&t| t <= horizon) {
            starts.pop_front();
        }
        if starts.len() >= limit {
            // Never "now": a window with no room is not retried in a loop.
            let next = starts.front().map_or(now, |&t| t.saturating_add(period_ms));
            return Err(next.max(now.saturating_add(1)));
        }
        starts.push_back(now);
        Ok(())
    }
}

impl Engine {
    /// An event triggered `function_id`: debounce it, or start a run if flow control allows.
    pub(super) fn trigger(&mut self, function_id: &str, event: Value) {
        let now = self.clock.now_ms();
        if self.registry.function(function_id).is_none() || !self.first_start(function_id, &event) {
            return;
        }
        let Some(f) = self.registry.function(function_id) else {
            return;
        };
        if let Some(b) = f.flow.batch.clone() {
            let key = slot(function_id, "batch", b.key.as_ref(), &event);
            let gathering = self
                .flow
                .batches
                .entry(key.clone())
                .or_insert_with(|| Gathering {
                    function_id: function_id.to_string(),
                    events: Vec::new(),
                    due_ms: now.saturating_add(b.timeout_ms),
                });
            gathering.events.push(event);
            if gathering.events.len() >= b.max_size {
                if let Some(full) = self.flow.batches.remove(&key) {
                    self.start_if_allowed(function_id, full.events);
                }
            }
            return;
        }
        if let Some(d) = f.flow.debounce.clone() {
            let key = slot(function_id, "debounce", d.key.as_ref(), &event);
            let entry = self.flow.debounced.entry(key).or_insert_with(|| Debounced {
                function_id: function_id.to_string(),
                event: event.clone(),
                first_ms: now,
                due_ms: now.saturating_add(d.period_ms),
            });
            entry.event = event;
            entry.due_ms = match d.timeout_ms {
                Some(t) => now
                    .saturating_add(d.period_ms)
                    .min(entry.first_ms.saturating_add(t)),
                None => now.saturating_add(d.period_ms),
            };
            return;
        }
        self.start_if_allowed(function_id, vec![event]);
    }

    /// Starts what has become due: debounced runs after their quiet time, batches at their
    /// timeout, throttled starts once their window has room.
    pub(super) fn fire_flow(&mut self) {
        let now = self.clock.now_ms();
        let due: Vec<String> = self
            .flow
            .debounced
            .iter()
            .filter(|(_, d)| d.due_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(d) = self.flow.debounced.remove(&key) {
                self.start_if_allowed(&d.function_id, vec![d.event]);
            }
        }
        let due: Vec<String> = self
            .flow
            .batches
            .iter()
            .filter(|(_, b)| b.due_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(b) = self.flow.batches.remove(&key) {
                self.start_if_allowed(&b.function_id, b.events);
            }
        }
        let (ready, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.flow.held)
            .into_iter()
            .partition(|h| h.due_ms <= now);
        self.flow.held = waiting;
        for h in ready {
            self.start_if_allowed(&h.function_id, h.events);
        }
    }

    fn start_if_allowed(&mut self, function_id: &str, events: Vec<Value>) {
        let Some(event) = events.first().cloned() else {
            return;
        };
        let now = self.clock.now_ms();
        let Some(flow) = self.registry.function(function_id).map(|f| f.flow.clone()) else {
            return;
        };
        if let Some(w) = &flow.throttle {
            let s = slot(function_id, "throttle", w.key.as_ref(), &event);
            if let Err(room_at) = self.flow.take(s, w.limit, w.period_ms, now) {
                tracing::debug!(function = %function_id, "start held by the throttle");
                self.flow.held.push(Held {
                    function_id: function_id.to_string(),
                    events,
                    due_ms: room_at,
                });
                return;
            }
        }
        if let Some(w) = &flow.rate_limit {
            let s = slot(function_id, "rate", w.key.as_ref(), &event);
            if self.flow.take(s, w.limit, w.period_ms, now).is_err() {
                tracing::info!(function = %function_id, "start dropped by the rate limit");
                return;
            }
        }
        if let Some(k) = &flow.idempotency {
            let s = slot(function_id, "idempotency", Some(k), &event);
            if self.flow.take(s, 1, DAY_MS, now).is_err() {
                tracing::info!(function = %function_id, "start dropped as a repeat (idempotency)");
                return;
            }
        }
        if let Some(single) = &flow.singleton {
            let mine = slot(function_id, "singleton", single.key.as_ref(), &event);
            let running: Vec<String> = self
                .running
                .iter()
                .filter_map(|id| self.runs.get(id))
                .filter(|r| {
                    r.function_id == function_id
                        && slot(function_id, "singleton", single.key.as_ref(), &r.event) == mine
                })
                .map(|r| r.id.clone())
                .collect();
            if !running.is_empty() {
                if !single.cancel {
                    tracing::info!(function = %function_id, "start skipped: a singleton run is going");
                    return;
                }
                for id in running {
                    self.finish(&id, RunStatus::Cancelled, None, None);
                }
            }
        }
        if let Some(run_id) = self.start_run(function_id, events, None) {
            if let Some(ms) = flow.finish_timeout_ms {
                self.enqueue(&run_id, now.saturating_add(ms), Job::Deadline);
            }
        }
    }
}
