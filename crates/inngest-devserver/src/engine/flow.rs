//! Flow control between a trigger and a run's start: debounce (the last event wins, later),
//! rate limit and idempotency (extra starts are dropped), singleton (skip the new run or cancel
//! the running one); and the finish timeout, which cancels a run that lasts too long.

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

/// The flow-control state: recent starts per window, pending debounces.
#[derive(Default)]
pub(super) struct FlowState {
    starts: HashMap<String, VecDeque<i64>>,
    pub debounced: HashMap<String, Debounced>,
}

fn slot(function_id: &str, kind: &str, key: Option<&Expr>, event: &Value) -> String {
    let key = key
        .and_then(|k| k.key(&[("event", event)]))
        .unwrap_or_default();
    format!("{function_id}\u{0}{kind}\u{0}{key}")
}

impl FlowState {
    /// Whether a start fits `limit` per `period_ms` in `slot`; records it if so.
    fn take(&mut self, slot: String, limit: usize, period_ms: i64, now: i64) -> bool {
        let starts = self.starts.entry(slot).or_default();
        while starts.front().is_some_and(|&t| t <= now - period_ms) {
            starts.pop_front();
        }
        if starts.len() >= limit {
            return false;
        }
        starts.push_back(now);
        true
    }
}

impl Engine {
    /// An event triggered `function_id`: debounce it, or start a run if flow control allows.
    pub(super) fn trigger(&mut self, function_id: &str, event: Value) {
        let now = self.clock.now_ms();
        let Some(f) = self.registry.function(function_id) else {
            return;
        };
        if let Some(d) = f.flow.debounce.clone() {
            let key = slot(function_id, "debounce", d.key.as_ref(), &event);
            let entry = self.flow.debounced.entry(key).or_insert_with(|| Debounced {
                function_id: function_id.to_string(),
                event: event.clone(),
                first_ms: now,
                due_ms: now + d.period_ms,
            });
            entry.event = event;
            entry.due_ms = match d.timeout_ms {
                Some(t) => (now + d.period_ms).min(entry.first_ms + t),
                None => now + d.period_ms,
            };
            return;
        }
        self.start_if_allowed(function_id, event);
    }

    /// Starts every debounced run whose quiet time has passed.
    pub(super) fn fire_debounces(&mut self) {
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
                self.start_if_allowed(&d.function_id, d.event);
            }
        }
    }

    fn start_if_allowed(&mut self, function_id: &str, event: Value) {
        let now = self.clock.now_ms();
        let Some(flow) = self.registry.function(function_id).map(|f| f.flow.clone()) else {
            return;
        };
        if let Some(w) = &flow.rate_limit {
            let s = slot(function_id, "rate", w.key.as_ref(), &event);
            if !self.flow.take(s, w.limit, w.period_ms, now) {
                tracing::info!(function = %function_id, "start dropped by the rate limit");
                return;
            }
        }
        if let Some(k) = &flow.idempotency {
            let s = slot(function_id, "idempotency", Some(k), &event);
            if !self.flow.take(s, 1, DAY_MS, now) {
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
                    self.finish(&id, RunStatus::Cancelled, None);
                }
            }
        }
        if let Some(run_id) = self.start_run(function_id, vec![event], None) {
            if let Some(ms) = flow.finish_timeout_ms {
                self.enqueue(&run_id, now.saturating_add(ms), Job::Deadline);
            }
        }
    }
}
