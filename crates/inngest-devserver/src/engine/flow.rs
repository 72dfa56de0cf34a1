//! Flow control between a trigger and a run's start: batching (one run for several events),
//! debounce (the last event wins, later), rate limit and idempotency (extra starts are
//! dropped), throttle (extra starts wait), singleton (skip the new run or cancel the running
//! one); and the finish timeout, which cancels a run that lasts too long.

use std::collections::{BTreeMap, HashMap, VecDeque};

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
    /// The events' size as JSON.
    bytes: u64,
    pub due_ms: i64,
}

/// A batch starts once its events reach this size as JSON, however many it may hold (the Go
/// server's batch size limit, 10 MiB).
const MAX_BATCH_BYTES: u64 = 10 * 1024 * 1024;

/// The starts a window (a rate limit, a throttle, an idempotency key) counted lately.
struct Window {
    period_ms: i64,
    starts: VecDeque<i64>,
}

impl Window {
    /// Forgets the starts older than the period.
    fn expire(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.period_ms);
        while self.starts.front().is_some_and(|&t| t <= horizon) {
            self.starts.pop_front();
        }
    }
}

/// Windows kept before the expired ones are swept out (then twice what is left, at least
/// this): each key a sync's expression gives makes one, and an idempotency key is seldom seen
/// twice.
const SWEEP_FLOOR: usize = 1024;

/// A start the throttle holds back.
pub(super) struct Held {
    function_id: String,
    events: Vec<Value>,
}

/// The flow-control state: recent starts per window, pending debounces, batches and throttled
/// starts.
#[derive(Default)]
pub(super) struct FlowState {
    windows: HashMap<String, Window>,
    /// How many windows trigger the next sweep (0: [`SWEEP_FLOOR`]).
    sweep_at: usize,
    pub debounced: HashMap<String, Debounced>,
    pub batches: HashMap<String, Gathering>,
    /// The throttle's held starts by (when the window has room, arrival): a backlog of
    /// thousands is not walked on every turn, and starts due together keep their order.
    held: BTreeMap<(i64, u64), Held>,
    /// The arrival number of the next held start.
    held_seq: u64,
}

impl FlowState {
    /// The earliest time something here becomes due.
    pub fn next_due(&self) -> Option<i64> {
        self.debounced
            .values()
            .map(|d| d.due_ms)
            .chain(self.batches.values().map(|b| b.due_ms))
            .chain(self.held.first_key_value().map(|(&(due, _), _)| due))
            .min()
    }
}

/// The slot of `function_id`'s `kind` of flow control for `event`: the key's value, hashed
/// (SHA-256) when longer than a hash, so that a key of hundreds of KB, which an event can
/// carry, is not kept whole.
fn slot(function_id: &str, kind: &str, key: Option<&Expr>, event: &Value) -> String {
    use sha2::Digest as _;
    let key = key
        .and_then(|k| k.key(&[("event", event)]))
        .unwrap_or_default();
    // Marked, so that no short key can be taken for a hashed one.
    let key = if key.len() > 64 {
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        )
    } else {
        key
    };
    format!("{function_id}\u{0}{kind}\u{0}{key}")
}

impl FlowState {
    /// Whether a start fits `limit` per `period_ms` in `slot`; records it if so. Otherwise
    /// `Err` holds when the window next has room.
    fn take(&mut self, slot: String, limit: usize, period_ms: i64, now: i64) -> Result<(), i64> {
        if self.windows.len() >= self.sweep_at.max(SWEEP_FLOOR) {
            self.sweep(now);
        }
        let window = self.windows.entry(slot).or_insert_with(|| Window {
            period_ms,
            starts: VecDeque::new(),
        });
        window.period_ms = period_ms;
        window.expire(now);
        let starts = &mut window.starts;
        if starts.len() >= limit {
            // Never "now": a window with no room is not retried in a loop.
            let next = starts.front().map_or(now, |&t| t.saturating_add(period_ms));
            return Err(next.max(now.saturating_add(1)));
        }
        starts.push_back(now);
        Ok(())
    }

    /// Drops the windows whose starts have all expired: a key seen once is forgotten once its
    /// period is over, not kept for good.
    fn sweep(&mut self, now: i64) {
        self.windows.retain(|_, w| {
            w.expire(now);
            !w.starts.is_empty()
        });
        self.sweep_at = self.windows.len().saturating_mul(2).max(SWEEP_FLOOR);
    }

    /// How many windows are kept.
    #[cfg(test)]
    fn windows(&self) -> usize {
        self.windows.len()
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
                    bytes: 0,
                    due_ms: now.saturating_add(b.timeout_ms),
                });
            gathering.bytes = gathering
                .bytes
                .saturating_add(crate::json_size::json_size(&event, MAX_BATCH_BYTES));
            gathering.events.push(event);
            if gathering.events.len() >= b.max_size || gathering.bytes >= MAX_BATCH_BYTES {
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
        // Those due now, in order; one that finds no room is held again, due later than now.
        while let Some(entry) = self.flow.held.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let h = entry.remove();
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
                let seq = self.flow.held_seq;
                self.flow.held_seq = seq.wrapping_add(1);
                self.flow.held.insert(
                    (room_at, seq),
                    Held {
                        function_id: function_id.to_string(),
                        events,
                    },
                );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A window whose starts have all expired is dropped at the next sweep: keys seen once
    /// (idempotency keys, say) are not kept for good.
    #[test]
    fn expired_windows_are_swept_out() {
        let mut flow = FlowState::default();
        let period = 60_000;
        for i in 0..SWEEP_FLOOR {
            flow.take(format!("f\u{0}idempotency\u{0}{i}"), 1, period, 0)
                .expect("a first start");
        }
        assert_eq!(flow.windows(), SWEEP_FLOOR);
        // Still within the period: the sweep keeps them all, and a repeat is refused.
        assert!(
            flow.take("f\u{0}idempotency\u{0}0".into(), 1, period, 1)
                .is_err()
        );
        flow.take("f\u{0}idempotency\u{0}new".into(), 1, period, 1)
            .expect("a new key");
        assert_eq!(flow.windows(), SWEEP_FLOOR + 1);
        // Past the period, the next start that reaches the sweep drops the expired ones.
        let later = period + 10;
        for i in 0..SWEEP_FLOOR {
            flow.take(format!("g\u{0}rate\u{0}{i}"), 1, period, later)
                .expect("a start");
        }
        assert!(
            flow.windows() <= SWEEP_FLOOR + 1,
            "{} windows kept",
            flow.windows()
        );
        assert!(
            flow.take("g\u{0}rate\u{0}0".into(), 1, period, later)
                .is_err()
        );
    }

    /// A key longer than a hash is kept as its hash.
    #[test]
    fn long_keys_are_hashed() {
        let key = Expr::compile("event.data.k").expect("compiles");
        let long = serde_json::json!({"data": {"k": "k".repeat(100_000)}});
        let hashed = slot("f", "rate", Some(&key), &long);
        assert!(hashed.len() < 100, "{} bytes", hashed.len());
        let short = serde_json::json!({"data": {"k": "abc"}});
        assert!(slot("f", "rate", Some(&key), &short).ends_with("abc"));
    }
}
