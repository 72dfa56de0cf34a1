//! Due queue items become work: SDK calls (within concurrency limits), wake-ups and timeouts.

use serde_json::{Value, json};

use super::journal::Write;
use super::{Command, Engine};
use crate::call::{self, CallRequest, CallSpec};
use crate::run::{Job, Pending, QueueItem, Run};

/// The concurrency slot that caps one app's calls in flight.
fn app_slot(app_id: &str) -> String {
    format!("\u{0}app\u{0}{app_id}")
}

impl Engine {
    /// Starts everything that is due and allowed to run, also what becomes due on the way (a
    /// sleep that ends schedules its run's next call for now).
    pub(super) fn dispatch_due(&mut self) {
        let mut seen = std::collections::HashSet::new();
        loop {
            // Read on every pass: what a pass queues "now" may be a millisecond later.
            let now = self.clock.now_ms();
            let enqueued = self.enqueued;
            let due: Vec<(i64, String)> = self
                .due_keys(now)
                .into_iter()
                .filter(|key| seen.insert(key.clone()))
                .collect();
            self.dispatch(due);
            // Another look (a walk of the due queue) only when the pass queued more work.
            if self.enqueued == enqueued {
                return;
            }
        }
    }

    /// Starts the due items `keys` (an item over a limit stays queued).
    fn dispatch(&mut self, keys: Vec<(i64, String)>) {
        for key in keys {
            let Some(item) = self.queue.get(&key).cloned() else {
                continue;
            };
            let live = self
                .runs
                .get(&item.run_id)
                .is_some_and(|r| !r.is_finished());
            if !live {
                self.queue.remove(&key);
                self.journal.push(Write::DeleteItem(item.id.clone()));
                continue;
            }
            match &item.job {
                Job::Execute(_) => {
                    // A run past its limits makes no more calls: it fails, as the Go
                    // executor's validation before a call fails it.
                    if let Some(overflow) = self.runs.get(&item.run_id).and_then(Run::overflow) {
                        self.queue.remove(&key);
                        self.journal.push(Write::DeleteItem(item.id.clone()));
                        self.fail_past_limit(&item.run_id, overflow, "before its next call");
                        continue;
                    }
                    let Some(slots) = self.acquire(&item) else {
                        continue; // over a limit: stays queued
                    };
                    self.queue.remove(&key);
                    self.spawn_call(item, slots);
                }
                Job::Wake { step } => {
                    self.queue.remove(&key);
                    self.journal.push(Write::DeleteItem(item.id.clone()));
                    self.resolve(&item.run_id, step, Value::Null);
                }
                Job::Timeout { step } => {
                    self.queue.remove(&key);
                    self.journal.push(Write::DeleteItem(item.id.clone()));
                    self.time_out(&item.run_id, step);
                }
                Job::Deadline => {
                    self.queue.remove(&key);
                    self.journal.push(Write::DeleteItem(item.id.clone()));
                    tracing::info!(run = %item.run_id, "run cancelled by its finish timeout");
                    self.finish(&item.run_id, crate::run::RunStatus::Cancelled, None, None);
                }
            }
        }
    }

    /// The due queue items worth a look now, in order: every due timer, and the due calls that
    /// the caps of calls in flight leave room for ([`Engine::acquire`] still checks each
    /// call's own concurrency limits). The calls of an app at its cap, or of an app not
    /// synced, are not looked at, and none are once the server is at its cap: with thousands
    /// of runs queued behind a cap, each tick would otherwise walk them all.
    fn due_keys(&self, now: i64) -> Vec<(i64, String)> {
        let free = self
            .options
            .max_in_flight
            .saturating_sub(self.in_flight_total);
        let cap = self.options.max_in_flight_per_app;
        let room = |app: &str| {
            if app.is_empty() {
                // Calls queued for a run that was not there (a stored call whose run is gone):
                // handed on for dispatch to drop.
                usize::MAX
            } else if self.registry.app(app).is_none() {
                0
            } else {
                let in_flight = self.in_flight.get(&app_slot(app)).copied().unwrap_or(0);
                cap.saturating_sub(in_flight)
            }
        };
        let live = |item: &QueueItem| self.runs.contains_key(&item.run_id);
        let mut keys = self.queue.startable_calls(now, free, room, live);
        keys.extend(self.queue.due_timers(now).map(|(k, _)| k.clone()));
        // In the order they fell due, calls and timers together, as one queue would give them.
        keys.sort_unstable();
        keys
    }

    fn time_out(&mut self, run_id: &str, step: &str) {
        let memo = match self.runs.get(run_id).and_then(|r| r.pending.get(step)) {
            Some(Pending::Wait { .. }) => Value::Null,
            Some(Pending::Invoke { .. }) => json!({ "error": {
                "error": "InngestInvokeTimeoutError: Timed out waiting for invoked function to complete",
                "name": "InngestInvokeTimeoutError",
                "message": "Timed out waiting for invoked function to complete",
            } }),
            _ => return,
        };
        self.resolve(run_id, step, memo);
    }

    /// Whether a call for the item may start now: under the total cap and with room in every
    /// concurrency limit of its function. If so, it takes a slot in each; the slots are
    /// returned for [`Engine::release`].
    fn acquire(&mut self, item: &QueueItem) -> Option<Vec<String>> {
        if self.in_flight_total >= self.options.max_in_flight {
            return None;
        }
        let run = self.runs.get(&item.run_id)?;
        let f = self.registry.function(&run.function_id)?;
        let mut slots = Vec::with_capacity(f.concurrency.len() + 1);
        // One app's calls (an app that hangs, say) cannot take every call slot of the server.
        let app_slot = app_slot(&run.app_id);
        if self.in_flight.get(&app_slot).copied().unwrap_or(0) >= self.options.max_in_flight_per_app
        {
            return None;
        }
        slots.push(app_slot);
        for limit in &f.concurrency {
            let slot = limit.slot(&f.config.id, &run.event);
            if self.in_flight.get(&slot).copied().unwrap_or(0) >= limit.limit {
                return None;
            }
            slots.push(slot);
        }
        // Two limits whose counts coincide (same scope and key value) take one slot, as one
        // queue item holds one lease per key in the Go server.
        slots.sort();
        slots.dedup();
        for slot in &slots {
            *self.in_flight.entry(slot.clone()).or_default() += 1;
        }
        self.in_flight_total += 1;
        Some(slots)
    }

    /// A call ended: its slots are free again.
    pub(super) fn release(&mut self, slots: &[String]) {
        self.in_flight_total = self.in_flight_total.saturating_sub(1);
        for slot in slots {
            if let Some(n) = self.in_flight.get_mut(slot) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.in_flight.remove(slot);
                }
            }
        }
    }

    fn spawn_call(&mut self, item: QueueItem, slots: Vec<String>) {
        let Job::Execute(call) = &item.job else {
            return;
        };
        let found = self
            .runs
            .get(&item.run_id)
            .and_then(|run| Some((run, self.registry.function(&run.function_id)?)));
        let Some((run, f)) = found else {
            self.release(&slots);
            return;
        };
        // The SDK checkpoints only discovery calls without forced planning; offering it
        // elsewhere would be ignored anyway.
        let force_plan = run.force_plan || call.stale_plan;
        let checkpoint = (self.options.checkpointing && call.step_id == "step" && !force_plan)
            .then_some((f.uuid.as_str(), item.id.as_str()));
        let spec = CallSpec {
            step_id: &call.step_id,
            attempt: call.attempt,
            outgoing: call.outgoing.as_deref(),
            force_plan,
        };
        let req = CallRequest::new(run, &f.url, &spec, checkpoint);
        tracing::debug!(run = %run.id, step = %call.step_id, attempt = call.attempt, "calling the app");
        // A function synced over connect runs on a worker of its app, through the gateway.
        let over_connect = (f.url.starts_with("ws://") || f.url.starts_with("wss://")).then(|| {
            let request = inngest_runtime::protocol::connect::GatewayExecutorRequestData {
                request_id: ulid::Ulid::new().to_string(),
                account_id: "dev".into(),
                env_id: "dev".into(),
                app_id: f.app_id.clone(),
                app_name: f.app_id.clone(),
                function_id: f.uuid.clone(),
                function_slug: f.config.id.clone(),
                step_id: Some(call.step_id.clone()),
                request_payload: req.body.to_vec(),
                run_id: run.id.clone(),
                lease_id: ulid::Ulid::new().to_string(),
                job_id: item.id.clone(),
                ..Default::default()
            };
            (self.gateway.clone(), f.app_id.clone(), request)
        });
        // A function of an app in this process is called directly.
        let in_process = f
            .url
            .starts_with(crate::in_process::SCHEME)
            .then(|| (self.in_process.get(&f.app_id), f.config.id.clone()));
        let call_timeout = self.options.call_timeout;
        self.call_started = true;
        let sent_ms = self.clock.now_ms();
        if checkpoint.is_some() {
            self.calls.insert(
                item.run_id.clone(),
                (item.id.clone(), call.attempt, item.at_ms, sent_ms),
            );
        }
        // A connect call is no task: the gateway answers it from the session that reads the
        // reply (or from its timer).
        if let (Some((gateway, app, request)), None) = (over_connect, &in_process) {
            let tx = self.tx.clone();
            let answer: crate::gateway::Answer = Box::new(move |answer| {
                let result = match answer {
                    Ok(reply) => call::from_connect(&reply),
                    Err(
                        e @ (crate::gateway::GatewayError::NoWorker(_)
                        | crate::gateway::GatewayError::NotAcknowledged(_)),
                    ) => call::unreachable(e.to_string()),
                    Err(e) => call::failed_attempt(e.to_string()),
                };
                report(
                    &tx,
                    Command::Called {
                        item: Box::new(item),
                        slots,
                        result: Box::new(result),
                        sent_ms,
                    },
                );
            });
            gateway.call(&app, request, call_timeout, answer);
            return;
        }
        let http = self.http.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = match in_process {
                Some((Some(handler), function)) => {
                    let body = req.body.clone();
                    let step = (req.step_id != "step").then(|| req.step_id.clone());
                    // A panic in the workflow is a failed attempt (as a dropped connection is
                    // over HTTP), and a call that never returns times out: neither may leave
                    // the call counted as in flight for good.
                    let call = tokio::spawn(async move {
                        handler
                            .execute_in_process(&function, step.as_deref(), body)
                            .await
                    });
                    match tokio::time::timeout(call_timeout, call).await {
                        Ok(Ok(resp)) => call::from_response(&resp),
                        Ok(Err(e)) if e.is_panic() => call::failed_attempt(format!(
                            "the workflow panicked: {}",
                            crate::panic_message(e.into_panic())
                        )),
                        Ok(Err(e)) => call::failed_attempt(format!("the call was cancelled: {e}")),
                        Err(_) => call::failed_attempt(format!(
                            "the call did not return within {call_timeout:?}"
                        )),
                    }
                }
                Some((None, _)) => call::unreachable("the in-process app is gone".into()),
                None => call::send(&http, &req).await,
            };
            let _ = tx
                .send(Command::Called {
                    item: Box::new(item),
                    slots,
                    result: Box::new(result),
                    sent_ms,
                })
                .await;
        });
    }
}

/// Hands a finished call to the engine from outside its task (without waiting when its queue
/// has room).
fn report(tx: &tokio::sync::mpsc::Sender<Command>, called: Command) {
    if let Err(tokio::sync::mpsc::error::TrySendError::Full(called)) = tx.try_send(called) {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(called).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::run::{CallJob, Job, QueueItem};

    /// A stored call whose run is gone (not among the running runs loaded) is dropped, also
    /// with no app synced to take calls: it never holds the server short of settled.
    #[tokio::test]
    async fn a_call_whose_run_is_gone_is_dropped_with_no_app_synced() {
        let store = crate::store::Store::open(None).expect("a store");
        store
            .save_item(&QueueItem {
                id: "01ORPHAN".into(),
                run_id: "01GONE".into(),
                at_ms: 0,
                job: Job::Execute(CallJob {
                    step_id: "step".into(),
                    attempt: 0,
                    outgoing: None,
                    stale_plan: false,
                }),
            })
            .expect("saved");
        let (engine, task) = super::Engine::spawn(
            crate::clock::Clock::default(),
            store,
            super::super::EngineOptions::for_tests(),
            crate::gateway::Gateway::default(),
            crate::in_process::InProcessApps::default(),
        )
        .expect("the engine starts");
        let settled = tokio::time::timeout(Duration::from_secs(5), engine.settled()).await;
        assert!(
            matches!(settled, Ok(Ok(()))),
            "the orphan call kept the engine busy"
        );
        assert_eq!(
            engine.next_due_ms(true).await.ok(),
            Some(None),
            "nothing queued"
        );
        task.abort();
    }
}
