//! Step tools: `run`, `sleep`, `sleep_until`, `wait_for_event`, `invoke`, `send_event`.
//!
//! Each step has an id unique within its run (repeats are numbered, see [`crate::step_id`]).
//! A step whose result is memoized returns it at once; a new step is reported to the executor
//! and, for `run`-type steps, executed when the executor allows it.
//!
//! # Step ids must stay stable across replays
//!
//! A handler runs again from the top on every request of its run, and each step finds its
//! result by its id. Ids must therefore be the same on every replay: literal strings, or
//! values computed only from the event and from earlier step results. An id built from the
//! clock, a random number or anything else that changes between requests makes the step look
//! new each time, so it runs again. Renaming a step in a deployed workflow has the same effect
//! for runs already under way.

mod body;
mod wait_for_event;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::client::Inngest;
use crate::error::WorkflowError;
use crate::event::{Event, ReceivedEvent, ValidatePayload};
use crate::execution::ops;
use crate::execution::{SharedRun, StepOutput};
use crate::options::IntoSleep;
use crate::protocol::Opcode;

pub use body::{AsyncBlock, Closure, StepBody};
pub use wait_for_event::WaitForEvent;

/// What steps need from the app while running.
pub(crate) struct Services {
    pub app_id: String,
    pub client: Inngest,
}

/// The step tools of one execution. Cheap to clone.
#[derive(Clone)]
pub struct Step {
    run: SharedRun,
    services: Arc<Services>,
}

/// What [`Step::invoke`] needs to know of the workflow it calls: its event, its output and its
/// id. Every [`crate::Workflow`] is one.
pub trait Invocable {
    /// The event whose data the invoked run gets.
    type Event: Event;
    /// What the invoked run returns.
    type Output: DeserializeOwned + Send + 'static;
    /// The function id within its app (without the app id).
    fn function_id() -> String;
}

fn decode<T: DeserializeOwned>(id: &str, value: StepOutput) -> Result<T, WorkflowError> {
    value.decode().map_err(|e| {
        WorkflowError::non_retriable(format!(
            "step {id:?}: memoized value does not fit its type: {e}"
        ))
    })
}

impl Step {
    pub(crate) fn new(run: SharedRun, services: Arc<Services>) -> Self {
        Self { run, services }
    }

    /// Runs `body` once, durably: its output is memoized under `id`, and replays return it
    /// without running `body` again. The id must stay the same on every replay (see the
    /// [module docs](self#step-ids-must-stay-stable-across-replays)).
    ///
    /// The body is an `async` block or a closure returning one ([`StepBody`]). It may borrow
    /// whatever the handler can: `&self`, `ctx.event`, locals. It runs inside the handler's
    /// future, so nothing has to be cloned or moved into it.
    ///
    /// Joining several step futures (`tokio::join!`, `futures::future::join_all`) runs them
    /// in parallel: the executor is told of each one and calls back for each.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::Step, WorkflowError};
    /// # struct Mailer;
    /// # impl Mailer { async fn send(&self, to: &str) -> Result<String, WorkflowError> { Ok(to.into()) } }
    /// # async fn f(step: Step, mailer: Mailer, to: String) -> Result<(), WorkflowError> {
    /// let receipt: String = step
    ///     .run("send-welcome-email", async { mailer.send(&to).await })
    ///     .await?;
    /// let (a, b) = tokio::join!(
    ///     step.run("count-a", async { Ok(to.len()) }),
    ///     step.run("count-b", async { Ok(receipt.len()) }),
    /// );
    /// # let _ = (a?, b?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// An error from `body` ends this request with `StepError` and the executor retries the
    /// step (`WorkflowError::non_retriable` and the last attempt end it for good). Once the
    /// step has failed for good, this returns `Err` of kind [`crate::ErrorKind::StepFailed`],
    /// which the handler may catch and handle; returned from the handler, it fails the run. A
    /// memoized value that does not decode as `T` is a non-retriable error.
    pub fn run<'a, T, Form, B>(
        &'a self,
        id: &str,
        body: B,
    ) -> impl Future<Output = Result<T, WorkflowError>> + Send + use<'a, T, Form, B>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        B: StepBody<T, Form> + 'a,
    {
        let op = ops::run_op(&self.run, id, Opcode::StepRun, None);
        let id = id.to_string();
        async move {
            let value = ops::runnable(self.run.clone(), op, async move {
                let out = body.into_step_future().await?;
                serde_json::to_value(out).map_err(|e| {
                    WorkflowError::non_retriable(format!("step output is not JSON: {e}"))
                })
            })
            .await?;
            decode(&id, value)
        }
    }

    /// Sleeps for a duration: an Inngest duration string (`"3d"`, `"1h30m"`) or a
    /// [`std::time::Duration`]. The run is suspended and resumed by the server; nothing runs
    /// (or is billed) meanwhile. The id must stay the same on every replay.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::Step, WorkflowError};
    /// # async fn f(step: Step) -> Result<(), WorkflowError> {
    /// step.sleep("wait-3-days", "3d").await?;
    /// step.sleep("cool-down", std::time::Duration::from_secs(90)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A duration that does not parse is a non-retriable error, and the run fails.
    pub fn sleep(
        &self,
        id: &str,
        duration: impl IntoSleep,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send + 'static {
        let prepared = duration
            .into_sleep()
            .map(|(wire, _)| {
                ops::async_op(&self.run, id, Opcode::Sleep, move || {
                    (Some(wire), json!({}))
                })
            })
            .map_err(|e| WorkflowError::non_retriable(crate::error::chain(&e)));
        let run = self.run.clone();
        async move { ops::suspend(run, prepared?).await.map(|_| ()) }
    }

    /// Sleeps until a point in time (a past time resumes at once). The id must stay the same
    /// on every replay, and so must `until`: compute it from the event or from a step result,
    /// not from the clock.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::Step, WorkflowError};
    /// # async fn f(step: Step, trial_ends: chrono::DateTime<chrono::Utc>) -> Result<(), WorkflowError> {
    /// step.sleep_until("until-trial-ends", trial_ends).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// None of its own: the server resumes the run at `until`.
    pub fn sleep_until(
        &self,
        id: &str,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send + 'static {
        let op = ops::async_op(&self.run, id, Opcode::Sleep, || {
            let wire = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            (Some(wire), json!({}))
        });
        let run = self.run.clone();
        async move { ops::suspend(run, op).await.map(|_| ()) }
    }

    /// Waits for the typed event `E`; `None` when the timeout passes first. The run is
    /// suspended meanwhile. The id must stay the same on every replay.
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
    ///
    /// # Errors
    ///
    /// A timeout that does not parse, a received event of another name, or one whose data does
    /// not decode or validate as `E`, are non-retriable errors.
    pub fn wait_for_event<E: Event>(
        &self,
        id: &str,
        wait: WaitForEvent,
    ) -> impl Future<Output = Result<Option<ReceivedEvent<E>>, WorkflowError>> + Send + 'static
    {
        let prepared = wait.opts().map(|opts| {
            ops::async_op(&self.run, id, Opcode::WaitForEvent, move || {
                (Some(E::NAME.to_string()), opts)
            })
        });
        let run = self.run.clone();
        async move {
            let value = ops::suspend(run, prepared?).await?;
            if value.is_null() {
                return Ok(None);
            }
            let payload: crate::protocol::EventPayload<crate::protocol::RawJson> =
                value.decode().map_err(|e| {
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
                .map_err(|e| WorkflowError::non_retriable(crate::error::chain(&e)))
        }
    }

    /// Invokes workflow `W` of this app with its event's data and returns its output, typed.
    /// The default timeout is the server's (one year); see [`Step::invoke_with_timeout`]. The
    /// id must stay the same on every replay.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::Step, Context, Event, Workflow, WorkflowError, WorkflowOptions};
    /// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
    /// # struct EmailRequested { #[garde(email)] to: String }
    /// # impl Event for EmailRequested { const NAME: &'static str = "mail/email.requested"; }
    /// struct SendEmail;
    /// impl Workflow for SendEmail {
    ///     type Event = EmailRequested;
    ///     type Output = String;
    ///     fn options() -> WorkflowOptions { WorkflowOptions::new("send-email") }
    ///     async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
    ///         Ok(format!("sent to {}", ctx.event.data.to))
    ///     }
    /// }
    /// # async fn f(step: Step) -> Result<(), WorkflowError> {
    /// let receipt: String = step
    ///     .invoke::<SendEmail>("send-receipt", EmailRequested { to: "ada@example.com".into() })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A payload that does not validate is a non-retriable error, and nothing is invoked. When
    /// the invoked run fails, or the timeout passes, this returns `Err` of kind
    /// [`crate::ErrorKind::StepFailed`], which the handler may catch. An output that does not
    /// decode as `W::Output` is a non-retriable error.
    pub fn invoke<W: Invocable>(
        &self,
        id: &str,
        data: W::Event,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        self.invoke_inner::<W>(id, data, None)
    }

    /// [`Step::invoke`] with a timeout (`"10m"`): past it the step fails with
    /// `InngestInvokeTimeoutError`.
    pub fn invoke_with_timeout<W: Invocable>(
        &self,
        id: &str,
        data: W::Event,
        timeout: &str,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        self.invoke_inner::<W>(id, data, Some(timeout.to_string()))
    }

    fn invoke_inner<W: Invocable>(
        &self,
        id: &str,
        data: W::Event,
        timeout: Option<String>,
    ) -> impl Future<Output = Result<W::Output, WorkflowError>> + Send + 'static {
        let function_id = format!("{}-{}", self.services.app_id, W::function_id());
        let prepared = (|| -> Result<ops::PreparedOp, WorkflowError> {
            if let Some(t) = &timeout {
                crate::duration::parse(t)
                    .map_err(|e| WorkflowError::non_retriable(crate::error::chain(&e)))?;
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
                move || (None, opts),
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
    /// Registered workflows triggered by the event start as usual. The id must stay the same
    /// on every replay.
    ///
    /// ```no_run
    /// # use inngest_runtime::{step::Step, Event, WorkflowError};
    /// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
    /// # struct OrderShipped { #[garde(skip)] order_id: String }
    /// # impl Event for OrderShipped { const NAME: &'static str = "shop/order.shipped"; }
    /// # async fn f(step: Step) -> Result<(), WorkflowError> {
    /// let ids = step
    ///     .send_event("announce-shipping", OrderShipped { order_id: "o_1".into() })
    ///     .await?;
    /// assert_eq!(ids.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The payload is validated first: an invalid one fails the step for good and sends
    /// nothing. An error from the event API is retried as any step error is.
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
                        WorkflowError::non_retriable(crate::error::chain(&e))
                    }
                    other => WorkflowError::new(crate::error::chain(&other)),
                })?;
                Ok(json!({ "ids": ids }))
            })
            .await?;
            let ids: crate::protocol::event::SendEventsResponse = decode(&id, value)?;
            Ok(ids.ids)
        }
    }
}
