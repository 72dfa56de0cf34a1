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

use inngest_runtime::duration::DurationError;
use inngest_runtime::protocol::{GeneratorOp, Opcode};
use serde_json::{Value, json};

use super::Engine;
use crate::backoff;
use crate::call::{CallOutcome, CallResult};
use crate::run::{Job, Pending, QueueItem, RunStatus, StepRecord};

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Why the ops of an answer cannot be acted on. As in the Go executor, where such an op is an
/// error of the queue item, the attempt fails: the call is retried after the backoff, and the
/// run fails on the last attempt.
#[derive(Debug, thiserror::Error)]
enum OpError {
    /// A `Sleep` whose length is neither a duration nor an RFC 3339 time.
    #[error("the sleep's length is not valid")]
    Sleep(#[source] DurationError),
    /// A `WaitForEvent` whose `timeout` is neither a duration nor an RFC 3339 time.
    #[error("the wait-for-event timeout is not valid")]
    WaitTimeout(#[source] DurationError),
    /// An `InvokeFunction` whose `timeout` is neither a duration nor an RFC 3339 time.
    #[error("the invoke timeout is not valid")]
    InvokeTimeout(#[source] DurationError),
}

/// `spec` from `now`: a duration (`"3d"`) or an RFC 3339 instant; the error is the duration's.
fn instant(spec: &str, now: i64) -> Result<i64, DurationError> {
    let spec = spec.trim();
    match inngest_runtime::duration::parse(spec) {
        Ok(d) => Ok(now.saturating_add(ms(d))),
        Err(e) => chrono::DateTime::parse_from_rfc3339(spec)
            .map(|t| t.timestamp_millis())
            .map_err(|_| e),
    }
}

/// A string option of an op, `None` when absent or empty.
fn non_empty<'a>(op: &'a GeneratorOp, key: &str) -> Option<&'a str> {
    op.opt_str(key).filter(|s| !s.trim().is_empty())
}

/// When a `Sleep` op ends: `opts.duration`, else `name` (older SDKs); as in the Go executor,
/// neither means no sleep at all.
fn sleep_until(op: &GeneratorOp, now: i64) -> Result<i64, OpError> {
    let name = op.name.as_deref().filter(|s| !s.trim().is_empty());
    match non_empty(op, "duration").or(name) {
        None => Ok(now),
        Some(spec) => instant(spec, now).map_err(OpError::Sleep),
    }
}

/// When a `WaitForEvent` op times out. As in the Go executor, no (or an empty) `timeout` is
/// "now": the JS SDK sends `""` for a timeout it cannot read.
fn wait_expires(op: &GeneratorOp, now: i64) -> Result<i64, OpError> {
    match non_empty(op, "timeout") {
        None => Ok(now),
        Some(spec) => instant(spec, now).map_err(OpError::WaitTimeout),
    }
}

/// When an `InvokeFunction` op times out, if ever.
fn invoke_expires(op: &GeneratorOp, now: i64) -> Result<Option<i64>, OpError> {
    non_empty(op, "timeout")
        .map(|spec| instant(spec, now).map_err(OpError::InvokeTimeout))
        .transpose()
}

/// The times an answer's ops need, checked before any of them is applied.
enum OpTime {
    /// The op needs none.
    None,
    /// A sleep's end or a wait's timeout.
    At(i64),
    /// An invoke's timeout, if any.
    Expires(Option<i64>),
}

fn op_time(op: &GeneratorOp, now: i64) -> Result<OpTime, OpError> {
    Ok(match op.op {
        Opcode::Sleep => OpTime::At(sleep_until(op, now)?),
        Opcode::WaitForEvent => OpTime::At(wait_expires(op, now)?),
        Opcode::InvokeFunction => OpTime::Expires(invoke_expires(op, now)?),
        _ => OpTime::None,
    })
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
            CallOutcome::Unreachable(e) => {
                // Nothing ran, so no attempt is used up: the run waits for the app to return.
                let delay = backoff::delay(0, self.options.retry_interval);
                let reason = crate::error_chain(&e);
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
        let times = match ops
            .iter()
            .map(|op| op_time(op, now))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(times) => times,
            Err(e) => {
                let message = crate::error_chain(&e);
                tracing::warn!(run = %run_id, error = %message, "the SDK reported an op that cannot be scheduled");
                let failure = Failure {
                    final_error: false,
                    retry_after: None,
                    error: json!({ "name": "Error", "message": message }),
                };
                self.fail_or_retry(run_id, step_id.to_string(), attempt, failure);
                return;
            }
        };
        let mut retry: Option<Option<Duration>> = None;
        let mut complete: Option<Value> = None;
        let mut unsupported = false;
        let mut planned = Vec::new();
        let mut timers = Vec::new();
        let mut invokes = Vec::new();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        for (op, time) in ops.into_iter().zip(times) {
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
                Opcode::Sleep => {
                    let OpTime::At(until_ms) = time else { continue };
                    run.pending
                        .insert(op.id.clone(), Pending::Sleep { until_ms });
                    timers.push((until_ms, Job::Wake { step: op.id }));
                }
                Opcode::WaitForEvent => {
                    let OpTime::At(expires_ms) = time else {
                        continue;
                    };
                    let event = op
                        .opt_str("event")
                        .or(op.name.as_deref())
                        .unwrap_or_default()
                        .to_string();
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
                    let OpTime::Expires(expires) = time else {
                        continue;
                    };
                    let opts = op.opts.clone().unwrap_or_default();
                    invokes.push((op.id.clone(), opts, expires));
                }
                Opcode::RunComplete => complete = Some(op.data.unwrap_or(Value::Null)),
                Opcode::None | Opcode::DiscoveryRequest => {}
                // `Unknown`, and any op a newer protocol adds.
                _ => {
                    unsupported = true;
                }
            }
        }
        let idle = run.pending.is_empty() && invokes.is_empty();
        self.save_run(run_id);

        if unsupported {
            let error = json!({ "name": "Error",
                "message": "the SDK reported an op this dev server does not support" });
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
            self.enqueue(run_id, at, job);
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
        assert_eq!(sleep_until(&op, 1_000).ok(), Some(1_000 + 3 * 86_400_000));
        // The Python SDK sends the end as an ISO timestamp.
        op.name = Some("2030-01-02T03:04:05.000Z".into());
        assert_eq!(sleep_until(&op, 0).ok(), Some(1_893_553_445_000));
        // `opts.duration` wins over `name`.
        let mut opts = serde_json::Map::new();
        opts.insert("duration".into(), json!("1m"));
        op.opts = Some(opts);
        assert_eq!(sleep_until(&op, 0).ok(), Some(60_000));
        op.opts = None;
        op.name = Some("whenever".into());
        assert!(matches!(sleep_until(&op, 0), Err(OpError::Sleep(_))));
        // Neither: no sleep, as in the Go executor.
        op.name = None;
        assert_eq!(sleep_until(&op, 7).ok(), Some(7));
    }

    #[test]
    fn timeouts_are_durations_or_instants_and_empty_means_now_for_waits() {
        let wait = |timeout: Option<&str>| {
            let mut op = GeneratorOp::new(Opcode::WaitForEvent, "x");
            if let Some(t) = timeout {
                let mut opts = serde_json::Map::new();
                opts.insert("timeout".into(), json!(t));
                op.opts = Some(opts);
            }
            op
        };
        assert_eq!(wait_expires(&wait(Some("1h")), 5).ok(), Some(5 + 3_600_000));
        assert_eq!(
            wait_expires(&wait(Some("2030-01-02T03:04:05.000Z")), 0).ok(),
            Some(1_893_553_445_000)
        );
        assert_eq!(wait_expires(&wait(Some("")), 5).ok(), Some(5));
        assert_eq!(wait_expires(&wait(None), 5).ok(), Some(5));
        assert!(matches!(
            wait_expires(&wait(Some("soon")), 0),
            Err(OpError::WaitTimeout(_))
        ));
        let mut invoke = wait(Some("soon"));
        invoke.op = Opcode::InvokeFunction;
        assert!(matches!(
            invoke_expires(&invoke, 0),
            Err(OpError::InvokeTimeout(_))
        ));
        assert_eq!(invoke_expires(&wait(None), 0).ok(), Some(None));
    }
}
