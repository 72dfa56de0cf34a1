//! Runs start and finish. Finishing resumes an invoking parent and emits
//! `inngest/function.finished` (and `.failed` or `.cancelled`), which is how `onFailure`
//! handlers start.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Engine, RunView};
use crate::run::{Job, ParentLink, Pending, Run, RunStatus};

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
        let run = Run {
            id: ulid::Ulid::new().to_string(),
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
        };
        let id = run.id.clone();
        tracing::info!(run = %id, function = %function_id, "run started");
        self.runs.insert(id.clone(), run);
        self.running.insert(id.clone());
        self.save_run(&id);
        self.discover(&id, now);
        Some(id)
    }

    /// Schedules a discovery call (`stepId=step`).
    pub(super) fn discover(&mut self, run_id: &str, at_ms: i64) {
        self.enqueue(
            run_id,
            at_ms,
            Job::Execute {
                step_id: "step".into(),
                attempt: 0,
            },
        );
    }

    /// A pending step got its result: memoize it, and when nothing else is pending, discover.
    pub(super) fn resolve(&mut self, run_id: &str, step: &str, memo: Value) {
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        if run.is_finished() || !run.pending.contains_key(step) {
            return;
        }
        run.memoize(step, memo);
        let idle = run.pending.is_empty();
        // Its timeout or wake-up item, if still queued, is now moot.
        let moot: Vec<(i64, String)> = self
            .queue
            .iter()
            .filter(|(_, i)| {
                i.run_id == run_id
                    && matches!(&i.job, Job::Timeout { step: s } | Job::Wake { step: s } if s == step)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in moot {
            if let Some(item) = self.queue.remove(&key) {
                self.persist(|s, _| s.delete_item(&item.id));
            }
        }
        self.save_run(run_id);
        if idle {
            let now = self.clock.now_ms();
            self.discover(run_id, now);
        }
    }

    /// Ends a run: drops its queued work, resumes its parent, emits the lifecycle events.
    pub(super) fn finish(&mut self, run_id: &str, status: RunStatus, output: Option<Value>) {
        let now = self.clock.now_ms();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        if run.is_finished() {
            return;
        }
        run.status = status;
        run.output = output.clone();
        run.ended_at_ms = Some(now);
        let run = run.clone();
        self.running.remove(run_id);
        tracing::info!(run = %run_id, function = %run.function_id, ?status, "run finished");
        self.queue.retain(|_, i| i.run_id != run_id);
        self.persist(|s, _| s.delete_run_items(run_id));
        self.save_run(run_id);
        // Nobody listening is fine.
        let _ = self.finished.send(RunView::from(&run));

        // Invoked children that outlive a cancelled or failed parent are left to finish; their
        // result simply finds no pending step.
        if let Some(parent) = &run.parent {
            let memo = match status {
                RunStatus::Completed => json!({ "data": output.clone().unwrap_or(Value::Null) }),
                RunStatus::Cancelled => json!({ "error": {
                    "name": "Error", "message": "the invoked function run was cancelled" } }),
                _ => json!({ "error": error_of(output.as_ref()) }),
            };
            self.resolve(&parent.run_id, &parent.step, memo);
        }

        let mut data = json!({
            "function_id": run.function_id,
            "run_id": run.id,
            "event": run.event,
            "events": run.events,
        });
        if let Some(parent) = &run.parent {
            data["correlation_id"] = json!(format!("{}.{}", parent.run_id, parent.step));
        }
        match status {
            RunStatus::Completed => data["result"] = output.unwrap_or(Value::Null),
            RunStatus::Failed => data["error"] = error_of(output.as_ref()),
            _ => {}
        }
        let mut emitted = Vec::new();
        match status {
            RunStatus::Failed => emitted.push(("inngest/function.failed", data.clone())),
            RunStatus::Cancelled => emitted.push(("inngest/function.cancelled", data.clone())),
            _ => {}
        }
        emitted.push(("inngest/function.finished", data));
        for (name, data) in emitted {
            let event = json!({
                "name": name, "data": data, "id": ulid::Ulid::new().to_string(), "ts": now,
            });
            let _ = self.ingest(vec![event]);
        }
    }

    /// Starts an invoked child for a parent's `InvokeFunction` op.
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
        let _ = self.ingest(vec![event.clone()]);
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
                let memo = json!({ "error": {
                    "name": "Error",
                    "message": format!("could not invoke {target:?}: no such function is synced"),
                } });
                self.resolve(parent_id, step, memo);
            }
        }
    }
}

/// A failed run's output as the serialized error `{name, message, stack?}`.
fn error_of(output: Option<&Value>) -> Value {
    match output {
        Some(Value::Object(o)) if o.contains_key("message") => {
            let mut e = Map::new();
            for key in ["name", "message", "stack"] {
                if let Some(v) = o.get(key) {
                    e.insert(key.into(), v.clone());
                }
            }
            if !e.contains_key("name") {
                e.insert("name".into(), json!("Error"));
            }
            Value::Object(e)
        }
        Some(other) => json!({ "name": "Error", "message": other.to_string() }),
        None => json!({ "name": "Error", "message": "unknown error" }),
    }
}
