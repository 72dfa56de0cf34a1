//! A run in the test engine, and its steps, as a test inspects them.

use std::sync::Arc;

use inngest_runtime::Value;
use serde::de::DeserializeOwned;

use super::{Shared, TestError};
use crate::{RunStatus, RunView, StepRecord};

/// One run in a [`super::TestEngine`]. Cheap to clone; every read asks the engine afresh.
#[derive(Clone)]
pub struct TestRun {
    shared: Arc<Shared>,
    id: String,
}

/// One step of a run: every attempt of its id, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    /// The step id as written.
    pub name: String,
    /// Its hashed id.
    pub hashed_id: String,
    /// What the SDK reported, attempt by attempt (`StepRun`, `StepError`, `Sleep`, …).
    pub ops: Vec<String>,
    /// Its memoized value (`{"data": …}` or `{"error": …}`), once it has one.
    pub memo: Option<Value>,
    /// The error of each failed attempt, in order.
    pub errors: Vec<Value>,
}

impl StepView {
    /// How many times it ran: one per report that ran its body (`StepRun`, `StepError`,
    /// `StepFailed`, checkpointed or not); a sleep, a wait or an invoke counts once; a step only
    /// planned so far, none.
    pub fn attempts(&self) -> usize {
        let ran = |op: &&String| {
            ["StepRun", "StepError", "StepFailed"]
                .iter()
                .any(|k| op.starts_with(k))
        };
        let waited =
            |op: &String| matches!(op.as_str(), "Sleep" | "WaitForEvent" | "InvokeFunction");
        match self.ops.iter().filter(ran).count() {
            0 => usize::from(self.ops.iter().any(waited)),
            runs => runs,
        }
    }

    /// Its output, decoded; `None` while it has none (or it failed).
    pub fn output<T: DeserializeOwned>(&self) -> Option<T> {
        let data = self.memo.as_ref()?.get("data")?;
        serde_json::from_value(data.clone()).ok()
    }

    /// Its final error, if it failed for good.
    pub fn error(&self) -> Option<&Value> {
        self.memo.as_ref()?.get("error")
    }
}

impl TestRun {
    pub(super) fn new(shared: Arc<Shared>, id: String) -> Self {
        Self { shared, id }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn view(&self) -> Result<RunView, TestError> {
        self.shared
            .engine
            .run(self.id.clone())
            .await?
            .ok_or_else(|| TestError::NotFinished {
                run_id: self.id.clone(),
                function_id: String::new(),
                waiting_on: "the engine does not know this run".into(),
            })
    }

    /// Moves the engine's clock (see [`super::TestEngine::advance`]).
    pub async fn advance(&self, duration: &str) -> Result<(), TestError> {
        self.shared.advance(duration).await
    }

    /// See [`super::TestEngine::run_until_idle`].
    pub async fn run_until_idle(&self) -> Result<(), TestError> {
        self.shared.run_until_idle().await
    }

    /// `Running`, `Completed`, `Failed` or `Cancelled`, once what is due has run.
    pub async fn status(&self) -> Result<RunStatus, TestError> {
        self.shared.engine.settled().await?;
        Ok(self.view().await?.status)
    }

    /// The run's output, decoded as `T`. It does not move the clock: a run that sleeps, waits
    /// or retries later is [`TestError::NotFinished`], which names the step it waits on.
    ///
    /// # Errors
    ///
    /// [`TestError::NotFinished`], [`TestError::Failed`] (with the run's error), or
    /// [`TestError::Output`] when it does not decode.
    pub async fn output<T: DeserializeOwned>(&self) -> Result<T, TestError> {
        self.shared.engine.settled().await?;
        let view = self.view().await?;
        match view.status {
            RunStatus::Completed => serde_json::from_value(view.output.unwrap_or(Value::Null))
                .map_err(TestError::Output),
            RunStatus::Running => Err(TestError::NotFinished {
                waiting_on: self.waiting_on(&view).await?,
                run_id: view.run_id,
                function_id: view.function_id,
            }),
            status => Err(TestError::Failed {
                run_id: view.run_id,
                status,
                error: view.output.unwrap_or(Value::Null),
            }),
        }
    }

    /// What a running run waits on, in words.
    async fn waiting_on(&self, view: &RunView) -> Result<String, TestError> {
        let memo = self
            .shared
            .engine
            .memo(self.id.clone())
            .await?
            .unwrap_or_default();
        let open = view
            .steps
            .iter()
            .rev()
            .find(|s| !memo.contains_key(&s.id) || s.retry_at.is_some());
        Ok(match open {
            Some(StepRecord {
                retry_at: Some(at),
                name,
                ..
            }) => format!(
                "step {name:?} failed and is retried at {at}; move the clock (advance or run_until_idle)"
            ),
            Some(s) if s.op == "Sleep" => format!(
                "sleep {:?}; move the clock (advance or run_until_idle)",
                s.name
            ),
            Some(s) if s.op == "WaitForEvent" => {
                format!(
                    "wait_for_event {:?}; send the event it waits for, or move the clock past its timeout",
                    s.name
                )
            }
            Some(s) if s.op == "InvokeFunction" => format!(
                "invoke {:?}: the invoked run has not finished (register its workflow, or mock_invoke it)",
                s.name
            ),
            Some(s) => format!("step {:?} ({})", s.name, s.op),
            None => "nothing reported yet".into(),
        })
    }

    /// Every step, in the order it was first reported, with all its attempts.
    pub async fn steps(&self) -> Result<Vec<StepView>, TestError> {
        self.shared.engine.settled().await?;
        let view = self.view().await?;
        let memo = self
            .shared
            .engine
            .memo(self.id.clone())
            .await?
            .unwrap_or_default();
        let mut steps: Vec<StepView> = Vec::new();
        for record in &view.steps {
            let i = match steps.iter().position(|s| s.hashed_id == record.id) {
                Some(i) => i,
                None => {
                    steps.push(StepView {
                        name: record.name.clone(),
                        hashed_id: record.id.clone(),
                        ops: Vec::new(),
                        memo: memo.get(&record.id).cloned(),
                        errors: Vec::new(),
                    });
                    steps.len() - 1
                }
            };
            steps[i].ops.push(record.op.clone());
            if let Some(e) = &record.error {
                steps[i].errors.push(e.clone());
            }
        }
        Ok(steps)
    }

    /// The step with id `id` (the first use of it).
    ///
    /// # Errors
    ///
    /// [`TestError::NoStep`] naming the ids the run has.
    pub async fn step(&self, id: &str) -> Result<StepView, TestError> {
        let steps = self.steps().await?;
        let known: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
        steps
            .into_iter()
            .find(|s| s.name == id)
            .ok_or_else(|| TestError::NoStep {
                run_id: self.id.clone(),
                step: id.to_string(),
                known,
            })
    }

    /// The run of the workflow's failure handler (`on_failure`) for this run, once it started.
    pub async fn failure_run(&self) -> Result<Option<TestRun>, TestError> {
        self.shared.engine.settled().await?;
        let view = self.view().await?;
        let candidates = self
            .shared
            .engine
            .find_runs(crate::RunFilter {
                function_id: Some(format!("{}-failure", view.function_id)),
                limit: Some(1000),
                ..Default::default()
            })
            .await?;
        for candidate in candidates {
            // Its `inngest/function.failed` event names the run that failed.
            let Some(event_id) = candidate.event_id.clone() else {
                continue;
            };
            let event = self.shared.engine.event(event_id).await?;
            let failed = event
                .as_ref()
                .and_then(|e| e.pointer("/data/run_id"))
                .and_then(Value::as_str);
            if failed == Some(self.id.as_str()) {
                return Ok(Some(TestRun::new(self.shared.clone(), candidate.run_id)));
            }
        }
        Ok(None)
    }
}
