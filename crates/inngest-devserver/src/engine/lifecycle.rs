//! Runs start and finish. Finishing resumes an invoking parent and emits
//! `inngest/function.finished` (and `.failed` or `.cancelled`), which is how `onFailure`
//! handlers start.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Engine, EventError, RunView};
use crate::error_object::invoke_failure_memo;
use crate::run::{CallJob, Job, ParentLink, Pending, Run, RunStatus};

impl Engine {
    /// Starts a run of `function_id` for these events; returns its id.
    pub(super) fn start_run(
        &mut self,
        function_id: &str,
        events: Vec<Value>,
        parent: Option<ParentLink>,
    ) -> Option<String> {
        let f = self.registry.function(function_id)?;
        let now = self.clock.now_ms();
        let id = self
            .run_ids
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new());
        let mut run = Run {
            id: id.to_string(),
            function_id: function_id.to_string(),
            app_id: f.app_id.clone(),
            event: events.first().cloned().unwrap_or(Value::Null),
            events,
            memo: Map::new(),
            stack: Vec::new(),
            status: RunStatus::Running,
            output: None,
            started_at_ms: now,
            ended_at_ms: None,
            version: -1,
            force_plan: false,
            pending: BTreeMap::new(),
            parent,
            max_attempts: f.max_attempts,
            steps: Vec::new(),
            state_bytes: 0,
        };
        run.count_state();
        let id = run.id.clone();
        tracing::info!(run = %id, function = %function_id, "run started");
        self.index_run(&run);
        self.runs.insert(id.clone(), run);
        self.running.insert(id.clone());
        self.save_run(&id);
        self.journal.run_started(&id);
        self.discover(&id, now, None);
        Some(id)
    }

    /// Schedules a discovery call (`stepId=step`) coming from `outgoing` (the step whose
    /// result leads to it; none for the first call). As the Go executor
    /// (`maybeResetForceStepPlan`), a run that speaks request version 2 stops forcing plans
    /// here: the group that made it plan is over.
    pub(super) fn discover(&mut self, run_id: &str, at_ms: i64, outgoing: Option<String>) {
        self.discover_after(run_id, at_ms, outgoing, false);
    }

    /// [`Engine::discover`]; `from_sleep`: the call resumes a sleep, which still reads the flag
    /// as it was (the Go executor resets it after loading the run for that call).
    fn discover_after(
        &mut self,
        run_id: &str,
        at_ms: i64,
        outgoing: Option<String>,
        from_sleep: bool,
    ) {
        let mut stale_plan = false;
        if let Some(run) = self.runs.get_mut(run_id) {
            if run.version >= 2 && run.force_plan {
                run.force_plan = false;
                stale_plan = from_sleep;
            }
        }
        let job = CallJob {
            stale_plan,
            ..CallJob::discovery(outgoing)
        };
        self.enqueue(run_id, at_ms, Job::Execute(job));
    }

    /// A pending step got its result: memoize it, and when nothing else is pending, discover.
    pub(super) fn resolve(&mut self, run_id: &str, step: &str, memo: Value) {
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        if run.is_finished() {
            return;
        }
        let from_sleep = match run.pending.get(step) {
            None => return,
            Some(p) => matches!(p, Pending::Sleep { .. }),
        };
        run.memoize(step, memo);
        let now = self.clock.now_ms();
        if let Some(record) = run.steps.iter_mut().rev().find(|r| r.id == step) {
            record.ended_ms = Some(now);
        }
        let idle = run.pending.is_empty();
        // Its timeout or wake-up item, if still queued, is now moot.
        let moot: Vec<(i64, String)> = self
            .queue
            .of_run(run_id)
            .filter(|(_, i)| {
                matches!(&i.job, Job::Timeout { step: s } | Job::Wake { step: s } if s == step)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in moot {
            if let Some(item) = self.queue.remove(&key) {
                self.journal
                    .push(super::journal::Write::DeleteItem(item.id.clone()));
            }
        }
        if idle {
            self.discover_after(run_id, now, Some(step.to_string()), from_sleep);
        }
        self.save_run(run_id);
    }

    /// Ends a run: drops its queued work, resumes its parent, emits the lifecycle events.
    /// `reason` is why its last attempt failed (Go's `Err`), for the error the events carry.
    pub(super) fn finish(
        &mut self,
        run_id: &str,
        status: RunStatus,
        output: Option<Value>,
        reason: Option<&str>,
    ) {
        let now = self.clock.now_ms();
        if self.runs.get(run_id).is_none_or(|r| r.is_finished()) {
            return;
        }
        // Memory keeps only what is still running: the run leaves it, and its last state goes
        // to the store with the turn.
        let Some(mut run) = self.runs.remove(run_id) else {
            return;
        };
        run.status = status;
        run.output = output.clone();
        run.ended_at_ms = Some(now);
        self.running.remove(run_id);
        tracing::info!(run = %run_id, function = %run.function_id, ?status, "run finished");
        self.queue.remove_run(run_id);
        self.journal
            .push(super::journal::Write::DeleteRunItems(run_id.to_string()));
        self.changed(|| super::Change::Run {
            run_id: run.id.clone(),
            function_id: run.function_id.clone(),
            status,
        });
        // Nobody listening is fine.
        let _ = self.finished.send(RunView::from(&run));
        self.announce_finish(&run, status, output.as_ref(), reason, now);
        self.journal.run_finished(run);
    }

    /// What follows a run's end: its parent resumes, and the lifecycle events are emitted.
    fn announce_finish(
        &mut self,
        run: &Run,
        status: RunStatus,
        output: Option<&Value>,
        reason: Option<&str>,
        now: i64,
    ) {
        let data = finished_data(run, status, output, reason);
        let finished = json!({
            "name": FUNCTION_FINISHED, "data": data, "id": ulid::Ulid::new().to_string(), "ts": now,
        });
        // Invoked children that outlive a cancelled or failed parent are left to finish; their
        // result simply finds no pending step.
        if let Some(parent) = &run.parent {
            self.resolve(&parent.run_id, &parent.step, resume_data(&finished));
        }
        // A run started by a lifecycle event (an `onFailure` handler) emits none itself, so
        // handlers cannot trigger each other forever.
        let trigger = run.event["name"].as_str().unwrap_or_default();
        if [FUNCTION_FAILED, FUNCTION_FINISHED].contains(&trigger) {
            return;
        }
        let mut emitted = Vec::new();
        // As in the Go executor, `.failed` and `.cancelled` carry the run id as their id.
        match status {
            RunStatus::Failed => emitted.push(json!({
                "name": FUNCTION_FAILED, "data": data, "id": run.id, "ts": now,
            })),
            RunStatus::Cancelled => emitted.push(json!({
                "name": FUNCTION_CANCELLED, "data": data, "id": run.id, "ts": now,
            })),
            _ => {}
        }
        emitted.push(finished);
        if let Err(e) = self.emit(emitted) {
            tracing::warn!(run = %run.id, error = %crate::error_chain(&e), "the run's lifecycle events were not kept");
        }
    }

    /// Starts an invoked child for a parent's `InvokeFunction` op.
    /// Starts a run of `function_id` with `data` from no parent (the API's or the CLI's
    /// invoke); the run id.
    pub(super) fn invoke_now(
        &mut self,
        function_id: &str,
        mut data: Map<String, Value>,
    ) -> Result<Option<String>, EventError> {
        if self.registry.function(function_id).is_none() {
            return Ok(None);
        }
        data.insert("_inngest".into(), json!({ "fn_id": function_id }));
        let event = json!({
            "name": super::intake::INVOKED,
            "data": data,
            "id": ulid::Ulid::new().to_string(),
            "ts": self.clock.now_ms(),
        });
        // The event API's rules hold for the invoke event too: one it would refuse starts
        // nothing.
        self.emit(vec![event.clone()])?;
        Ok(self.start_run(function_id, vec![event], None))
    }

    pub(super) fn invoke(
        &mut self,
        parent_id: &str,
        step: &str,
        opts: &Map<String, Value>,
        expires_ms: Option<i64>,
    ) {
        let target = opts
            .get("function_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let payload = opts.get("payload").cloned().unwrap_or(Value::Null);
        let mut data = match payload.get("data") {
            Some(Value::Object(o)) => o.clone(),
            _ => Map::new(),
        };
        let (parent_fn, parent_app) = self
            .runs
            .get(parent_id)
            .map(|r| (r.function_id.clone(), r.app_id.clone()))
            .unwrap_or_default();
        data.insert(
            "_inngest".into(),
            json!({
                "fn_id": target,
                "correlation_id": format!("{parent_id}.{step}"),
                "source_app_id": parent_app,
                "source_fn_id": parent_fn,
                "source_run_id": parent_id,
                "source_step_id": step,
                "expire": expires_ms,
            }),
        );
        let mut event = json!({
            "name": super::intake::INVOKED,
            "data": data,
            "id": ulid::Ulid::new().to_string(),
            "ts": self.clock.now_ms(),
        });
        if let Some(user) = payload.get("user") {
            event["user"] = user.clone();
        }
        let link = ParentLink {
            run_id: parent_id.to_string(),
            step: step.to_string(),
        };
        if let Some(run) = self.runs.get_mut(parent_id) {
            run.pending.insert(
                step.to_string(),
                Pending::Invoke {
                    child_run_id: String::new(),
                    expires_ms,
                },
            );
        }
        if let Err(e) = self.emit(vec![event.clone()]) {
            // An invoke event the event API would refuse (over its size limit) starts no run:
            // the step fails with why, as it does for a function that is not there.
            let message = format!("could not invoke {target}: {}", crate::error_chain(&e));
            self.resolve(parent_id, step, invoke_failure_memo(message));
            return;
        }
        match self.start_run(target, vec![event], Some(link)) {
            Some(child) => {
                if let Some(Pending::Invoke { child_run_id, .. }) = self
                    .runs
                    .get_mut(parent_id)
                    .and_then(|r| r.pending.get_mut(step))
                {
                    *child_run_id = child;
                }
                if let Some(at) = expires_ms {
                    self.enqueue(
                        parent_id,
                        at,
                        Job::Timeout {
                            step: step.to_string(),
                        },
                    );
                }
            }
            None => {
                // The Go runner answers with a `function.finished` carrying this error.
                let message = format!("could not find function with ID: {target}");
                self.resolve(parent_id, step, invoke_failure_memo(message));
            }
        }
    }
}

/// `inngest/function.finished`.
pub(crate) const FUNCTION_FINISHED: &str = "inngest/function.finished";
/// `inngest/function.failed`.
pub(crate) const FUNCTION_FAILED: &str = "inngest/function.failed";
/// `inngest/function.cancelled`.
pub(crate) const FUNCTION_CANCELLED: &str = "inngest/function.cancelled";

/// The `data` of a run's lifecycle events, as the Go executor builds it (`finalize.go`):
/// `function_id` (the slug), `run_id`, `event` and `events`, `error` (the standard error) when
/// it failed, `result` when it has an output (a failed run's too: the error body),
/// `correlation_id` for an invoked run, and `_inngest.status`.
fn finished_data(
    run: &Run,
    status: RunStatus,
    output: Option<&Value>,
    reason: Option<&str>,
) -> Value {
    let mut data = json!({
        "function_id": run.function_id,
        "run_id": run.id,
        "event": super::intake::event_map(&run.event),
        "events": run.events,
        "_inngest": { "status": format!("{status:?}") },
    });
    if status == RunStatus::Failed {
        data["error"] = crate::error_object::standard_error(output, reason);
    }
    if status != RunStatus::Cancelled {
        if let Some(output) = output {
            data["result"] = output.clone();
        }
    }
    if let Some(parent) = &run.parent {
        data["correlation_id"] = json!(format!("{}.{}", parent.run_id, parent.step));
    }
    data
}

/// What an invoking parent's step gets from its child's `function.finished` event
/// (`GetResumeData`): `{"error": …}` when it failed, `{"data": result}` when it has a result,
/// else (a cancelled child, or one without output) the event itself.
fn resume_data(finished: &Value) -> Value {
    let data = &finished["data"];
    if let Some(error) = data.get("error") {
        return json!({ "error": error });
    }
    if let Some(result) = data.get("result") {
        return json!({ "data": result });
    }
    super::intake::event_map(finished)
}
