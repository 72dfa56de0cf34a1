//! Step tools: `run`, `sleep`, `sleep_until`, `wait_for_event`, `invoke`, `send_event`.
//!
//! Each step has an id unique within its run (repeats are numbered, see [`crate::step_id`]).
//! A step whose result is memoized returns it at once; a new step is reported to the executor
//! and, for `run`-type steps, executed when the executor allows it.

mod ops;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::error::WorkflowError;
use crate::event::{Event, ReceivedEvent, ValidatePayload};
use crate::execution::state::SharedRun;
use crate::options::IntoSleep;
use crate::protocol::Opcode;
use crate::workflow::Workflow;

pub use ops::WaitForEvent;

/// The step tools of one execution. Cheap to clone.
#[derive(Clone)]
pub struct Step {
    pub(crate) run: SharedRun,
    pub(crate) services: Arc<crate::execution::Services>,
}

fn decode<T: DeserializeOwned>(id: &str, value: Value) -> Result<T, WorkflowError> {
    serde_json::from_value(value).map_err(|e| {
        WorkflowError::non_retriable(format!(
            "step {id:?}: memoized value does not fit its type: {e}"
        ))
    })
}

impl Step {
    /// Runs `f` once, durably: its output is memoized under `id`, and replays return it
    /// without running `f` again. An error is retried by the executor; a step that failed for
    /// good returns `Err` (of kind [`crate::ErrorKind::StepFailed`]) which the handler may catch.
    ///
    /// Joining several step futures (`tokio::join!`, `futures::join_all`) runs them in
    /// parallel: the executor is told of each one and calls back for each.
    pub fn run<T, F, Fut>(
        &self,
        id: &str,
        f: F,
    ) -> impl Future<Output = Result<T, WorkflowError>> + Send + 'static
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, WorkflowError>> + Send + 'static,
    {
        let op = ops::run_op(&self.run, id, Opcode::StepRun, None);
        let run = self.run.clone();
        let id = id.to_string();
        async move {
            let value = ops::runnable(run, op, async move {
                let out = f().await?;
                serde_json::to_value(out).map_err(|e| {
                    WorkflowError::non_retriable(format!("step output is not JSON: {e}"))
                })
            })
            .await?;
            decode(&id, value)
        }
    }

    /// Sleeps for a duration: an Inngest duration string (`"3d"`, `"1h30m"`) or a
    /// [`std::time::Duration`]. The run is suspended and resumed by the server.
    pub fn sleep(
        &self,
        id: &str,
        duration: impl IntoSleep,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send + 'static {
        let prepared = duration
            .into_sleep()
            .map(|(wire, _)| ops::async_op(&self.run, id, Opcode::Sleep, Some(wire), json!({})))
            .map_err(|e| WorkflowError::non_retriable(e.to_string()));
        let run = self.run.clone();
        async move { ops::suspend(run, prepared?).await.map(|_| ()) }
    }

    /// Sleeps until a point in time.
    pub fn sleep_until(
        &self,
        id: &str,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send + 'static {
        let wire = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let op = ops::async_op(&self.run, id, Opcode::Sleep, Some(wire), json!({}));
        let run = self.run.clone();
        async move { ops::suspend(run, op).await.map(|_| ()) }
    }

    /// Waits for the typed event `E`; `None` when the timeout passes first.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::{Step, WaitForEvent}, Event, WorkflowError};
    /// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
    /// # struct PaymentSucceeded { #[garde(skip)] order_id: String }
    /// # impl Event for PaymentSucceeded { const NAME: &'static str = "billing/payment.succeeded"; }
    /// # async fn f(step: Step) -> Result<(), WorkflowError> {
    /// let paid = step
    ///     .wait_for_event::<PaymentSucceeded>("wait-for-payment", WaitForEvent::timeout("1h").matching("data.order_id"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn wait_for_event<E: Event>(
        &self,
        id: &str,
        wait: WaitForEvent,
    ) -> impl Future<Output = Result<Option<ReceivedEvent<E>>, WorkflowError>> + Send + 'static
    {
        let prepared = wait.opts().map(|opts| {
            ops::async_op(
                &self.run,
                id,
                Opcode::WaitForEvent,
                Some(E::NAME.to_string()),
                opts,
            )
        });
        let run = self.run.clone();
        async move {
            let value = ops::suspend(run, prepared?).await?;
            if value.is_null() {
                return Ok(None);
            }
            let payload: crate::protocol::EventPayload =
                serde_json::from_value(value).map_err(|e| {
                    WorkflowError::non_retriable(format!("awaited event is malformed: {e}"))
                })?;
            if payload.name != E::NAME {
                return Err(WorkflowError::non_retriable(format!(
                    "awaited event {:?} but received {:?}",
                    E::NAME,
                    payload.name
                )));
            }
            ReceivedEvent::decode(&payload)
                .map(Some)
                .map_err(|e| WorkflowError::non_retriable(e.to_string()))
        }
    }

    /// Invokes workflow `W` of this app with its event's data and returns its output, typed.
    /// The default timeout is the server's (one year); see [`Step::invoke_with_timeout`].
    pub fn invoke<W: Workflow>(
        &self,
        id: &str,
        data: W::Event,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        self.invoke_inner::<W>(id, data, None)
    }

    /// [`Step::invoke`] with a timeout (`"10m"`): past it the step fails with
    /// `InngestInvokeTimeoutError`.
    pub fn invoke_with_timeout<W: Workflow>(
        &self,
        id: &str,
        data: W::Event,
        timeout: &str,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        self.invoke_inner::<W>(id, data, Some(timeout.to_string()))
    }

    fn invoke_inner<W: Workflow>(
        &self,
        id: &str,
        data: W::Event,
        timeout: Option<String>,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        let function_id = format!("{}-{}", self.services.app_id, W::options().id);
        let prepared = (|| -> Result<ops::PreparedOp, WorkflowError> {
            if let Some(t) = &timeout {
                crate::duration::parse(t)
                    .map_err(|e| WorkflowError::non_retriable(e.to_string()))?;
            }
            data.validate_payload().map_err(|report| {
                WorkflowError::non_retriable(format!(
                    "invoke payload for {function_id:?} is invalid: {report}"
                ))
            })?;
            let data = serde_json::to_value(&data).map_err(|e| {
                WorkflowError::non_retriable(format!("invoke payload is not JSON: {e}"))
            })?;
            let mut opts = json!({ "payload": { "data": data }, "function_id": function_id });
            if let Some(t) = timeout {
                opts["timeout"] = json!(t);
            }
            Ok(ops::async_op(
                &self.run,
                id,
                Opcode::InvokeFunction,
                None,
                opts,
            ))
        })();
        let run = self.run.clone();
        let id = id.to_string();
        async move {
            let value = ops::suspend(run, prepared?).await?;
            decode(&id, value)
        }
    }

    /// Sends a typed event durably, as a step: it is sent once, and its ids are memoized.
    /// The payload is validated first; an invalid payload fails the step for good and sends
    /// nothing.
    pub fn send_event<E: Event>(
        &self,
        id: &str,
        event: E,
    ) -> impl Future<Output = Result<Vec<String>, WorkflowError>> + Send + 'static {
        self.send_events(id, vec![event])
    }

    /// Sends several typed events as one step.
    pub fn send_events<E: Event>(
        &self,
        id: &str,
        events: Vec<E>,
    ) -> impl Future<Output = Result<Vec<String>, WorkflowError>> + Send + 'static {
        let op = ops::run_op(&self.run, id, Opcode::StepRun, Some("sendEvent"));
        let run = self.run.clone();
        let client = self.services.client.clone();
        let id = id.to_string();
        async move {
            let value = ops::runnable(run, op, async move {
                let ids = client.send_many(&events).await.map_err(|e| match e {
                    crate::error::SendError::Invalid { .. }
                    | crate::error::SendError::Serialize { .. } => {
                        WorkflowError::non_retriable(e.to_string())
                    }
                    other => WorkflowError::new(other.to_string()),
                })?;
                Ok(json!({ "ids": ids }))
            })
            .await?;
            let ids: crate::protocol::event::SendEventsResponse = decode(&id, value)?;
            Ok(ids.ids)
        }
    }
}
