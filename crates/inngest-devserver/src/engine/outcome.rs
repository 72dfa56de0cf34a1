//! An SDK answer becomes memo entries and new queue items: the executor's rules.
//!
//! | answer | what the run gets |
//! | --- | --- |
//! | 200 | completed with the body as output |
//! | 206 `StepRun` / `StepFailed` | `{"data": …}` / `{"error": …}` in the memo |
//! | 206 `StepError` | the same call again, `attempt + 1`, after the backoff |
//! | 206 `StepPlanned` | one targeted call per planned step; later calls disable immediate execution |
//! | 206 `Sleep` / `WaitForEvent` / `InvokeFunction` | pending until woken, matched or answered |
//! | 206 `RunComplete` | completed (checkpoint mode) |
//! | error, retriable | the same call again after the backoff (or `Retry-After`) |
//! | error, final or on the last attempt | failed |
//!
//! When nothing is pending any more, a discovery call (`stepId=step`) follows.

use std::time::Duration;

use inngest_runtime::protocol::{GeneratorOp, Opcode};
use serde_json::{Value, json};

use super::Engine;
use crate::backoff;
use crate::call::{CallOutcome, CallResult};
use crate::run::{Job, Pending, QueueItem, RunStatus, StepRecord};

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// When a `Sleep` op ends: `opts.duration` or `name`, a duration (`"3d"`) or an instant.
fn sleep_until(op: &GeneratorOp, now: i64) -> Option<i64> {
    let spec = op
        .opt_str("duration")
        .or(op.name.as_deref())?
        .trim()
        .to_string();
    if let Ok(d) = inngest_runtime::duration::parse(&spec) {
        return Some(now.saturating_add(ms(d)));
    }
    chrono::DateTime::parse_from_rfc3339(&spec)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn timeout_at(op: &GeneratorOp, now: i64) -> Option<i64> {
    let d = inngest_runtime::duration::parse(op.opt_str("timeout")?).ok()?;
    Some(now.saturating_add(ms(d)))
}

/// A failed attempt, as the SDK reported it.
struct Failure {
    /// No retry may follow.
    final_error: bool,
    /// The SDK's requested delay.
    retry_after: Option<Duration>,
    /// The error to record if it is final.
    error: Value,
}

impl Engine {
    pub(super) fn on_called(&mut self, item: QueueItem, result: CallResult) {
        self.persist(|s, _| s.delete_item(&item.id));
        let Job::Execute { step_id, attempt } = item.job else {
            return;
        };
        let run_id = item.run_id;
        let Some(run) = self.runs.get_mut(&run_id) else {
            return;
        };
        if run.is_finished() {
            return;
        }
        tracing::debug!(run = %run_id, step = %step_id, status = ?result.status, "the app answered");
        if let Some(v) = result.version {
            run.version = v;
        }
        let now = self.clock.now_ms();
        match result.outcome {
            CallOutcome::Done(output) => self.finish(&run_id, RunStatus::Completed, Some(output)),
            CallOutcome::Ops(ops) if ops.is_empty() => {
                // Nothing reported and nothing pending would mean calling again at once, forever:
                // treat it as a failed attempt instead.
                let error =
                    json!({ "name": "Error", "message": "the SDK answered 206 with no ops" });
                let failure = Failure {
                    final_error: false,
                    retry_after: None,
                    error,
                };
                self.fail_or_retry(&run_id, step_id, attempt, failure);
            }
            CallOutcome::Ops(ops) => self.apply_ops(&run_id, &step_id, attempt, ops),
            CallOutcome::Error {
                final_error,
                retry_after,
                error,
            } => {
                let failure = Failure {
                    final_error,
                    retry_after,
                    error,
                };
                self.fail_or_retry(&run_id, step_id, attempt, failure);
            }
            CallOutcome::Unreachable(reason) => {
                // Nothing ran, so no attempt is used up: the run waits for the app to return.
                let delay = backoff::delay(0, self.options.retry_interval);
                tracing::warn!(run = %run_id, %reason, ?delay, "the app is unreachable; will retry");
                self.save_run(&run_id);
                self.enqueue(&run_id, now + ms(delay), Job::Execute { step_id, attempt });
            }
        }
    }

    /// A failed attempt: final (no retry allowed, or the last attempt) or retried after the
    /// backoff or the SDK's `Retry-After`.
    fn fail_or_retry(&mut self, run_id: &str, step_id: String, attempt: u32, failure: Failure) {
        let max_attempts = self.runs.get(run_id).map_or(1, |r| r.max_attempts);
        if failure.final_error || attempt + 1 >= max_attempts {
            self.finish(run_id, RunStatus::Failed, Some(failure.error));
            return;
        }
        let delay = failure
            .retry_after
            .unwrap_or_else(|| backoff::delay(attempt, self.options.retry_interval));
        tracing::info!(run = %run_id, attempt, ?delay, "retrying after an error");
        self.save_run(run_id);
        let at = self.clock.now_ms() + ms(delay);
        self.enqueue(
            run_id,
            at,
            Job::Execute {
                step_id,
                attempt: attempt + 1,
            },
        );
    }

    fn apply_ops(&mut self, run_id: &str, step_id: &str, attempt: u32, ops: Vec<GeneratorOp>) {
        let now = self.clock.now_ms();
        let mut retry: Option<Option<Duration>> = None;
        let mut complete: Option<Value> = None;
        let mut unsupported: Option<String> = None;
        let mut planned = Vec::new();
        let mut timers = Vec::new();
        let mut invokes = Vec::new();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        for op in ops {
            let is_step = !matches!(
                op.op,
                Opcode::RunComplete | Opcode::DiscoveryRequest | Opcode::None
            );
            if is_step {
                run.steps.push(StepRecord::of(&op, None, now));
            }
            match op.op {
                Opcode::StepRun => {
                    run.memoize(&op.id, json!({ "data": op.data.unwrap_or(Value::Null) }))
                }
                Opcode::StepFailed => run.memoize(&op.id, json!({ "error": op.error })),
                Opcode::StepError if attempt + 1 < run.max_attempts => retry = Some(None),
                Opcode::StepError => run.memoize(&op.id, json!({ "error": op.error })),
                Opcode::StepPlanned => {
                    run.force_plan = true;
                    run.pending.insert(op.id.clone(), Pending::Planned);
                    planned.push(op.id);
                }
                Opcode::Sleep => match sleep_until(&op, now) {
                    Some(until_ms) => {
                        run.pending
                            .insert(op.id.clone(), Pending::Sleep { until_ms });
                        timers.push((until_ms, Job::Wake { step: op.id }));
                    }
                    None => {
                        unsupported = Some(format!(
                            "a Sleep op without a duration or time: {:?}",
                            op.name
                        ))
                    }
                },
                Opcode::WaitForEvent => {
                    let event = op
                        .opt_str("event")
                        .or(op.name.as_deref())
                        .unwrap_or_default()
                        .to_string();
                    let expires_ms = timeout_at(&op, now).unwrap_or(i64::MAX);
                    let condition = op.opt_str("if").map(str::to_string);
                    run.pending.insert(
                        op.id.clone(),
                        Pending::Wait {
                            event,
                            condition,
                            expires_ms,
                        },
                    );
                    timers.push((expires_ms, Job::Timeout { step: op.id }));
                }
                Opcode::InvokeFunction => {
                    let opts = op.opts.clone().unwrap_or_default();
                    invokes.push((op.id.clone(), opts, timeout_at(&op, now)));
                }
                Opcode::RunComplete => complete = Some(op.data.unwrap_or(Value::Null)),
                Opcode::None | Opcode::DiscoveryRequest => {}
                Opcode::Unknown => {
                    unsupported = Some("an op this dev server does not support".to_string());
                }
            }
        }
        let idle = run.pending.is_empty() && invokes.is_empty();
        self.save_run(run_id);

        if let Some(reason) = unsupported {
            let error = json!({ "name": "Error", "message": format!("the SDK reported {reason}") });
            self.finish(run_id, RunStatus::Failed, Some(error));
            return;
        }
        if let Some(output) = complete {
            self.finish(run_id, RunStatus::Completed, Some(output));
            return;
        }
        if let Some(after) = retry {
            let delay =
                after.unwrap_or_else(|| backoff::delay(attempt, self.options.retry_interval));
            self.enqueue(
                run_id,
                now + ms(delay),
                Job::Execute {
                    step_id: step_id.to_string(),
                    attempt: attempt + 1,
                },
            );
            return;
        }
        for step in planned {
            self.enqueue(
                run_id,
                now,
                Job::Execute {
                    step_id: step,
                    attempt: 0,
                },
            );
        }
        for (at, job) in timers {
            if at != i64::MAX {
                self.enqueue(run_id, at, job);
            }
        }
        for (step, opts, expires) in invokes {
            self.invoke(run_id, &step, &opts, expires);
        }
        if idle {
            self.discover(run_id, now);
        }
    }

    /// `POST /v1/checkpoint/{run}/async`: steps the SDK ran inline, folded into the memo.
    pub(super) fn checkpoint(
        &mut self,
        run_id: &str,
        steps: Vec<GeneratorOp>,
    ) -> Result<(), super::CheckpointError> {
        let now = self.clock.now_ms();
        let Some(run) = self.runs.get_mut(run_id) else {
            return Err(super::CheckpointError::UnknownRun(run_id.to_string()));
        };
        if run.is_finished() {
            return Ok(());
        }
        let mut complete = None;
        for op in steps {
            match op.op {
                Opcode::StepRun => {
                    run.steps
                        .push(StepRecord::of(&op, Some("StepRun (checkpoint)"), now));
                    run.memoize(&op.id, json!({ "data": op.data.unwrap_or(Value::Null) }));
                }
                Opcode::RunComplete => complete = Some(op.data.unwrap_or(Value::Null)),
                _ => {}
            }
        }
        self.save_run(run_id);
        if let Some(output) = complete {
            self.finish(run_id, RunStatus::Completed, Some(output));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_take_durations_or_instants() {
        let mut op = GeneratorOp::new(Opcode::Sleep, "x");
        op.name = Some("3d".into());
        assert_eq!(sleep_until(&op, 1_000), Some(1_000 + 3 * 86_400_000));
        // The Python SDK sends the end as an ISO timestamp.
        op.name = Some("2030-01-02T03:04:05.000Z".into());
        assert_eq!(sleep_until(&op, 0), Some(1_893_553_445_000));
        // `opts.duration` wins over `name`.
        let mut opts = serde_json::Map::new();
        opts.insert("duration".into(), json!("1m"));
        op.opts = Some(opts);
        assert_eq!(sleep_until(&op, 0), Some(60_000));
        op.opts = None;
        op.name = Some("whenever".into());
        assert_eq!(sleep_until(&op, 0), None);
    }
}
