//! An SDK answer becomes memo entries and new queue items: the Go executor's rules
//! (`pkg/execution/executor`), as `docs/dev-server.md` lists them.
//!
//! | answer | what the run gets |
//! | --- | --- |
//! | 2xx from the SDK | completed with the body as output |
//! | 206 `StepRun` / `StepFailed` | `{"data": …}` / `{"error": …}` in the memo |
//! | 206 `StepError` | the same call again, `attempt + 1`, after the backoff or `Retry-After` |
//! | 206 `StepError`, no-retry or last attempt | `{"error": …}` in the memo, then a discovery call |
//! | 206 `StepPlanned` | one targeted call per planned step |
//! | 206 `Sleep` / `WaitForEvent` / `InvokeFunction` | pending until woken, matched or answered |
//! | 206 `RunComplete` | completed (checkpoint mode) |
//! | error, retriable | the same call again after the backoff (or `Retry-After`) |
//! | error, final or on the last attempt | failed, the body as output |
//!
//! More than one op in an answer makes later calls plan (`disable_immediate_execution`). When
//! nothing is pending any more (or after each step, below request version 2), a discovery call
//! (`stepId=step`) follows.

use std::time::Duration;

use inngest_runtime::duration::DurationError;
use inngest_runtime::protocol::{GeneratorOp, Opcode};
use serde_json::{Value, json};

use super::Engine;
use super::view::FailedAttempt;
use crate::backoff;
use crate::call::{CallOutcome, CallResult};
use crate::error_object::step_failure_memo;
use crate::run::{CallJob, Job, Overflow, Pending, QueueItem, RunStatus, StepRecord};

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

/// A failed attempt.
struct Failure {
    /// No retry may follow.
    final_error: bool,
    /// When the SDK asked to be called again (`Retry-After`, clamped), in ms.
    retry_at: Option<i64>,
    /// The run's output if the attempt is its last.
    output: Value,
    /// Why it failed (Go's `Err`).
    reason: String,
}

impl Failure {
    /// An error of the executor itself (an op it cannot schedule), shaped as the Go executor
    /// shapes its own: `{"error": {error, name, message}}`.
    fn internal(reason: String) -> Self {
        Self {
            final_error: false,
            retry_at: None,
            output: crate::error_object::executor_error(&reason, "Error", &reason),
            reason,
        }
    }
}

/// A 206 answer: its ops and what its headers say.
struct Answer {
    ops: Vec<GeneratorOp>,
    no_retry: bool,
    retry_at: Option<i64>,
    version: i64,
    /// When the call was due and when it was sent, in ms (for the step records).
    queued_ms: i64,
    sent_ms: i64,
}

impl Engine {
    /// A call sent at `sent_ms` (ms of the server's clock) answered.
    pub(super) fn on_called(&mut self, item: QueueItem, result: CallResult, sent_ms: i64) {
        self.journal
            .push(super::journal::Write::DeleteItem(item.id.clone()));
        // The call that may have checkpointed is over (a planned step's call, in flight
        // beside it, is not that call).
        if self
            .calls
            .get(&item.run_id)
            .is_some_and(|(id, ..)| *id == item.id)
        {
            self.calls.remove(&item.run_id);
        }
        let Job::Execute(call) = item.job else {
            return;
        };
        let run_id = item.run_id;
        let Some(run) = self.runs.get(&run_id) else {
            return;
        };
        if run.is_finished() {
            return;
        }
        tracing::debug!(run = %run_id, step = %call.step_id, status = ?result.status, "the app answered");
        let now = self.clock.now_ms();
        match result.outcome {
            CallOutcome::Done(output) => {
                self.finish(&run_id, RunStatus::Completed, Some(output), None)
            }
            CallOutcome::Ops { ops, .. } if ops.is_empty() => {
                // Nothing reported and nothing pending would mean calling again at once, forever:
                // a failed attempt instead (see docs/dev-server.md).
                let failure = Failure::internal("the SDK answered 206 with no ops".into());
                self.fail_or_retry(&run_id, &call, failure);
            }
            CallOutcome::Ops {
                ops,
                no_retry,
                retry_after,
            } => {
                let answer = Answer {
                    ops,
                    no_retry,
                    retry_at: retry_after.and_then(|v| backoff::retry_at(&v, now)),
                    version: result.version,
                    queued_ms: item.at_ms,
                    sent_ms,
                };
                self.apply_ops(&run_id, &call, answer);
            }
            CallOutcome::Error {
                final_error,
                retry_after,
                output,
                reason,
            } => {
                let failure = Failure {
                    final_error,
                    retry_at: retry_after.and_then(|v| backoff::retry_at(&v, now)),
                    output,
                    reason,
                };
                self.fail_or_retry(&run_id, &call, failure);
            }
            CallOutcome::Unreachable(reason) => {
                // Nothing ran, so no attempt is used up: the run waits for the app to return.
                let delay = backoff::delay(0, self.options.retry_interval);
                tracing::warn!(run = %run_id, %reason, ?delay, "the app is unreachable; will retry");
                self.save_run(&run_id);
                self.enqueue(&run_id, now.saturating_add(ms(delay)), Job::Execute(call));
            }
        }
    }

    /// Tells the subscribers of failed attempts (the `dev` console) that `attempt` of a run
    /// failed, in `step` or outside any step; `retry_at` (ms) is when it is tried again, `None`
    /// when it is not.
    fn report_failed_attempt(
        &self,
        run_id: &str,
        step: Option<String>,
        error: &str,
        attempt: u32,
        retry_at: Option<i64>,
    ) {
        let Some(run) = self.runs.get(run_id) else {
            return;
        };
        let _ = self.failed_attempts.send(FailedAttempt {
            run_id: run_id.to_string(),
            function_id: run.function_id.clone(),
            step,
            error: error.to_string(),
            attempt,
            max_attempts: run.max_attempts,
            retry_at: retry_at.map(crate::clock::rfc3339),
            retry_in_ms: retry_at
                .map(|at| u64::try_from(at.saturating_sub(self.clock.now_ms())).unwrap_or(0)),
        });
    }

    /// When the retry of a failed `attempt` is due: the SDK's `Retry-After`, else the backoff.
    fn retry_due(&self, attempt: u32, retry_at: Option<i64>) -> i64 {
        retry_at.unwrap_or_else(|| {
            let delay = backoff::delay(attempt, self.options.retry_interval);
            self.clock.now_ms().saturating_add(ms(delay))
        })
    }

    /// A failed attempt: final (no retry allowed, or the last attempt) or retried after the
    /// backoff or the SDK's `Retry-After`.
    fn fail_or_retry(&mut self, run_id: &str, call: &CallJob, failure: Failure) {
        let max_attempts = self.runs.get(run_id).map_or(1, |r| r.max_attempts);
        if failure.final_error || call.attempt.saturating_add(1) >= max_attempts {
            let text = FailedAttempt::describe_output(&failure.output, &failure.reason);
            self.report_failed_attempt(run_id, None, &text, call.attempt, None);
            self.finish(
                run_id,
                RunStatus::Failed,
                Some(failure.output),
                Some(&failure.reason),
            );
            return;
        }
        let at = self.retry_due(call.attempt, failure.retry_at);
        let text = FailedAttempt::describe_output(&failure.output, &failure.reason);
        self.report_failed_attempt(run_id, None, &text, call.attempt, Some(at));
        tracing::info!(run = %run_id, attempt = call.attempt, reason = %failure.reason, "retrying after an error");
        self.save_run(run_id);
        self.enqueue(run_id, at, Job::Execute(call.retry()));
    }

    fn apply_ops(&mut self, run_id: &str, call: &CallJob, answer: Answer) {
        let now = self.clock.now_ms();
        let Answer {
            ops,
            no_retry,
            retry_at,
            version,
            queued_ms,
            sent_ms,
        } = answer;
        let times = match ops
            .iter()
            .map(|op| op_time(op, now))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(times) => times,
            Err(e) => {
                let message = crate::error_chain(&e);
                tracing::warn!(run = %run_id, error = %message, "the SDK reported an op that cannot be scheduled");
                self.fail_or_retry(run_id, call, Failure::internal(message));
                return;
            }
        };
        // An answer that plans more steps than a run may have fails it at once, as in the Go
        // executor (a plan over the step limit is refused).
        if ops.len() > crate::run::MAX_STEPS {
            self.fail_past_limit(run_id, Overflow::Steps, "an answer planned them");
            return;
        }
        // A wait whose `if` does not compile fails the run at once, as in the Go executor
        // (`expressions.CompileError` fails early, without a retry).
        let bad_condition = ops
            .iter()
            .filter(|op| op.op == Opcode::WaitForEvent)
            .filter_map(|op| op.opt_str("if"))
            .find_map(|src| self.exprs.get(src).as_ref().err().cloned());
        if let Some(e) = bad_condition {
            let reason = format!("error compiling expression: {}", e.message);
            let output = crate::error_object::executor_error(&reason, "Error", &reason);
            tracing::warn!(run = %run_id, error = %reason, "a wait's condition does not compile");
            self.finish(run_id, RunStatus::Failed, Some(output), Some(&reason));
            return;
        }
        // Go checks each step's output against the run's state limit before it saves it: an
        // answer that would take the run past the limit fails it, and none of it is kept.
        if self
            .runs
            .get(run_id)
            .is_some_and(|run| past_state_limit(run, &ops))
        {
            self.fail_past_limit(run_id, Overflow::State, "an answer would take it there");
            return;
        }
        let mut retry = false;
        // (step name, error, retried) of the steps that failed in this answer.
        let mut failed_steps: Vec<(String, Option<Value>, bool)> = Vec::new();
        let mut complete: Option<Value> = None;
        let mut unsupported = false;
        let mut completed: Option<String> = None;
        let mut planned = Vec::new();
        let mut timers = Vec::new();
        let mut invokes = Vec::new();
        let mut waits = Vec::new();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        // More than one op in an answer makes every later call plan (Go's `ForceStepPlan`);
        // the request version is taken from the answer that set it, or from the first 206.
        let flipped = ops.len() > 1 && !run.force_plan;
        if flipped {
            run.force_plan = true;
        }
        if run.version == -1 || flipped {
            run.version = version;
        }
        let last_attempt = call.attempt.saturating_add(1) >= run.max_attempts;
        for (op, time) in ops.into_iter().zip(times) {
            let is_step = !matches!(
                op.op,
                Opcode::RunComplete | Opcode::DiscoveryRequest | Opcode::None
            );
            // A step still pending, reported again (a discovery call while a sibling of its
            // group runs), is the same step: the Go queue deduplicates it by its job id.
            if (op.op.is_async() || op.op == Opcode::StepPlanned)
                && run.pending.contains_key(&op.id)
            {
                continue;
            }
            // A step already memoized, reported again (a checkpointed step in the answer that
            // follows), is saved once: Go's state store refuses a second save of a step.
            if saves_result(op.op) && run.memo.contains_key(&op.id) {
                continue;
            }
            if is_step {
                let mut record = StepRecord::of(&op, None, now);
                record.attempt = call.attempt;
                record.queued_ms = Some(queued_ms);
                record.started_ms = Some(sent_ms);
                if matches!(op.op, Opcode::StepError | Opcode::StepFailed) {
                    let retried = op.op == Opcode::StepError && !(no_retry || last_attempt);
                    failed_steps.push((record.name.clone(), record.error.clone(), retried));
                }
                run.steps.push(record);
            }
            match op.op {
                Opcode::StepRun => {
                    run.memoize(&op.id, json!({ "data": op.data.unwrap_or(Value::Null) }));
                    completed = Some(op.id);
                }
                Opcode::StepFailed => {
                    run.memoize(&op.id, step_failure_memo(op.error.as_ref(), false));
                    completed = Some(op.id);
                }
                // `X-Inngest-No-Retry: true` or the last attempt: the step fails now, and a
                // discovery call (attempt 0) carries its error.
                Opcode::StepError if no_retry || last_attempt => {
                    run.memoize(&op.id, step_failure_memo(op.error.as_ref(), no_retry));
                    completed = Some(op.id);
                }
                Opcode::StepError => retry = true,
                Opcode::StepPlanned => {
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
                    waits.push(event.clone());
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
        // Version 2 coalesces a group: one discovery once nothing is pending. Older versions
        // get one after every step that completes.
        let idle = invokes.is_empty() && run.pending.is_empty();
        let discover_now = idle || (invokes.is_empty() && run.version < 2);
        let last_stacked = run.stack.last().cloned();
        for event in &waits {
            self.index_wait(run_id, event);
        }
        self.save_run(run_id);

        if unsupported {
            let reason = "the SDK reported an op this dev server does not support";
            let output = crate::error_object::executor_error(reason, "Error", reason);
            self.finish(run_id, RunStatus::Failed, Some(output), Some(reason));
            return;
        }
        if let Some(output) = complete {
            self.finish(run_id, RunStatus::Completed, Some(output), None);
            return;
        }
        let retry_due = retry.then(|| self.retry_due(call.attempt, retry_at));
        for (step, error, retried) in failed_steps {
            let text = FailedAttempt::describe(error.as_ref());
            let at = retry_due.filter(|_| retried);
            self.report_failed_attempt(run_id, Some(step), &text, call.attempt, at);
        }
        if let Some(at) = retry_due {
            if let Some(record) = self
                .runs
                .get_mut(run_id)
                .and_then(|r| r.steps.iter_mut().rev().find(|st| st.op == "StepError"))
            {
                record.retry_at = Some(crate::clock::rfc3339(at));
            }
            self.save_run(run_id);
            self.enqueue(run_id, at, Job::Execute(call.retry()));
            return;
        }
        for step in planned {
            // A planned step's call comes from where its plan came from.
            let job = CallJob {
                step_id: step,
                ..CallJob::discovery(call.outgoing.clone())
            };
            self.enqueue(run_id, now, Job::Execute(job));
        }
        for (at, job) in timers {
            self.enqueue(run_id, at, job);
        }
        for (step, opts, expires) in invokes {
            self.invoke(run_id, &step, &opts, expires);
        }
        match completed {
            Some(step) if discover_now => self.discover(run_id, now, Some(step)),
            // Only `None` ops and nothing pending: discover again from the last result.
            None if idle => self.discover(run_id, now, last_stacked),
            _ => {}
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
        // As the Go checkpoint API: steps that would take a run that is not completing past
        // its state limit fail it, and none of them is kept.
        let completing = steps.iter().any(|op| op.op == Opcode::RunComplete);
        if !completing && past_state_limit(run, &steps) {
            self.fail_past_limit(run_id, Overflow::State, "a checkpoint would take it there");
            return Ok(());
        }
        let mut complete = None;
        let call = self.calls.get(run_id).map(|&(_, a, q, s)| (a, q, s));
        for op in steps {
            match op.op {
                // Saved once, as in the answer that may report it again.
                Opcode::StepRun if run.memo.contains_key(&op.id) => {}
                Opcode::StepRun => {
                    let mut record = StepRecord::of(&op, Some("StepRun (checkpoint)"), now);
                    // The step ran inline during the call in flight: it has its attempt, and
                    // starts when the call was sent or where the step before it in the same
                    // call ended.
                    if let Some((attempt, queued_ms, sent_ms)) = call {
                        record.attempt = attempt;
                        let after = run
                            .steps
                            .last()
                            .map(|r| r.at_ms)
                            .filter(|&at| at >= sent_ms);
                        record.started_ms = Some(after.unwrap_or(sent_ms));
                        if after.is_none() {
                            record.queued_ms = Some(queued_ms);
                        }
                    }
                    run.steps.push(record);
                    run.memoize(&op.id, json!({ "data": op.data.unwrap_or(Value::Null) }));
                }
                Opcode::RunComplete => complete = Some(op.data.unwrap_or(Value::Null)),
                _ => {}
            }
        }
        self.save_run(run_id);
        if let Some(output) = complete {
            self.finish(run_id, RunStatus::Completed, Some(output), None);
        }
        Ok(())
    }
}

impl Engine {
    /// Fails a run past one of its limits with the Go executor's error, without a retry;
    /// `how` says what took it there, for the log.
    pub(super) fn fail_past_limit(&mut self, run_id: &str, overflow: Overflow, how: &str) {
        let (output, reason) = overflow.failure();
        tracing::warn!(run = %run_id, %reason, how, "a run went past its limits");
        self.finish(run_id, RunStatus::Failed, Some(output), Some(&reason));
    }
}

/// Whether an op saves a step's result in the memo.
fn saves_result(op: Opcode) -> bool {
    matches!(op, Opcode::StepRun | Opcode::StepFailed | Opcode::StepError)
}

/// Whether saving the results and errors `ops` carry would take `run` past its state limit
/// ([`crate::run::MAX_STATE_BYTES`]), about: each is counted as it comes, without the few
/// bytes of the memo's wrapping. A step memoized already adds nothing (it is not saved twice);
/// counting stops once past the limit.
fn past_state_limit(run: &crate::run::Run, ops: &[GeneratorOp]) -> bool {
    use crate::run::MAX_STATE_BYTES;
    let mut bytes = run.state_bytes;
    for op in ops {
        if !saves_result(op.op) || run.memo.contains_key(&op.id) {
            continue;
        }
        // What is saved: a result, or a failed step's error.
        let size = match (op.op, &op.data, &op.error) {
            (Opcode::StepRun, Some(data), _) => crate::json_size::json_size(data, MAX_STATE_BYTES),
            (Opcode::StepFailed | Opcode::StepError, _, Some(e)) => {
                crate::json_size::json_size(e, MAX_STATE_BYTES)
            }
            _ => 4,
        };
        bytes = bytes.saturating_add(size);
        if bytes > MAX_STATE_BYTES {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only new results count toward the state limit: a step memoized already is not saved
    /// twice.
    #[test]
    fn the_state_limit_counts_new_results_only() {
        let mut run: crate::run::Run = serde_json::from_value(json!({
            "id": "r", "function_id": "f", "app_id": "a", "event": {}, "events": [],
            "memo": {}, "stack": [], "status": "Running", "output": null,
            "started_at_ms": 0, "ended_at_ms": null, "version": 2, "force_plan": false,
            "pending": {}, "parent": null, "max_attempts": 4, "steps": [],
        }))
        .expect("a run");
        let half = json!("x".repeat(crate::run::MAX_STATE_BYTES as usize / 2));
        let step = |id: &str| {
            let mut op = GeneratorOp::new(Opcode::StepRun, id);
            op.data = Some(half.clone());
            op
        };
        assert!(!past_state_limit(&run, &[step("a")]));
        assert!(past_state_limit(&run, &[step("a"), step("b")]));
        run.memoize("a", json!({ "data": half }));
        assert!(
            past_state_limit(&run, &[step("b")]),
            "a half on top of a half"
        );
        assert!(
            !past_state_limit(&run, &[step("a")]),
            "a step saved already adds nothing"
        );
        // Replacing a value counts the new one instead of the old.
        let before = run.state_bytes;
        run.memoize("a", json!({ "data": 1 }));
        assert!(run.state_bytes < before / 2, "{} bytes", run.state_bytes);
    }

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
