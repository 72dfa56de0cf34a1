//! Workflows as Rust types.

use std::future::Future;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::error::WorkflowError;
use crate::event::{Event, ReceivedEvent};
use crate::options::{Trigger, WorkflowOptions};
use crate::protocol::SerializedError;
use crate::step::{Invocable, Step};

/// A durable workflow. Dependencies are plain fields: the app builds each workflow from its own
/// state, and the handler borrows them through `&self`.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use inngest_runtime::{Context, Event, Workflow, WorkflowError, WorkflowOptions};
///
/// #[derive(Serialize, Deserialize, garde::Validate)]
/// pub struct UserCreated { #[garde(email)] pub email: String }
/// impl Event for UserCreated { const NAME: &'static str = "user/user.created"; }
///
/// pub struct WelcomeUser { pub sender: String }
///
/// impl Workflow for WelcomeUser {
///     type Event = UserCreated;
///     type Output = u32;
///     fn options() -> WorkflowOptions { WorkflowOptions::new("welcome-user").retries(3) }
///     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
///         let to = &ctx.event.data.email;
///         ctx.step.run("send-welcome-email", async { Ok(format!("{} sent to {to}", self.sender)) }).await?;
///         ctx.step.sleep("wait-3-days", "3d").await?;
///         Ok(1)
///     }
/// }
/// ```
pub trait Workflow: Send + Sync + Sized + 'static {
    /// The event that starts a run (for cron workflows, [`crate::event::ScheduledTimer`]).
    type Event: Event;
    /// What a run returns; `invoke` decodes it on the caller's side.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// The id and configuration. Called without an instance, so `invoke::<W>` and
    /// registration know the id without constructing `W`.
    fn options() -> WorkflowOptions;

    /// What starts a run; by default the workflow's event.
    fn triggers() -> Vec<Trigger> {
        vec![Trigger::event::<Self::Event>()]
    }

    /// Runs (and replays) the workflow.
    fn handler(
        &self,
        ctx: Context<Self>,
    ) -> impl Future<Output = Result<Self::Output, WorkflowError>> + Send;

    /// Handles the final failure of a run: log it, alert, compensate. Implement it and the
    /// app registers `<id>-failure`, triggered by `inngest/function.failed` for this workflow;
    /// there is no flag to set (see [`has_failure_handler`]).
    ///
    /// It runs for every failure, including a trigger event that does not decode or validate
    /// (then [`FailureContext::event`] is `None` and [`FailureContext::raw_event`] holds what
    /// was sent). It returns `()`: to give the failure run an output, write a workflow on
    /// [`crate::event::FunctionFailed`] instead. Its steps are durable as in
    /// [`Workflow::handler`], and an error is retried once.
    ///
    /// ```
    /// # use inngest_runtime::{Context, Event, FailureContext, Workflow, WorkflowError, WorkflowOptions};
    /// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
    /// # struct Ping { #[garde(skip)] n: u32 }
    /// # impl Event for Ping { const NAME: &'static str = "app/ping"; }
    /// struct Careful;
    /// impl Workflow for Careful {
    ///     type Event = Ping;
    ///     type Output = u32;
    ///     fn options() -> WorkflowOptions { WorkflowOptions::new("careful") }
    ///     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
    ///         Ok(ctx.event.data.n)
    ///     }
    ///     async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
    ///         tracing::error!(run = %ctx.failed_run_id, error = %ctx.error, "careful failed");
    ///         Ok(())
    ///     }
    /// }
    /// ```
    fn on_failure(
        &self,
        ctx: FailureContext<Self>,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send {
        let _ = ctx;
        NoFailureHandler
    }
}

impl<W: Workflow> Invocable for W {
    type Event = W::Event;
    type Output = W::Output;
    fn function_id() -> String {
        W::options().id
    }
}

/// What the default [`Workflow::on_failure`] returns: the mark of a workflow without a failure
/// handler. Resolves at once.
struct NoFailureHandler;

impl Future for NoFailureHandler {
    type Output = Result<(), WorkflowError>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Whether `W` implements [`Workflow::on_failure`]: the future type of its `on_failure` is not
/// the default's. The types are compared by [`TypeId`](std::any::TypeId), so this is decided by
/// the compiler, for each workflow, with nothing to keep in sync by hand.
///
/// ```
/// # use inngest_runtime::{Context, Event, FailureContext, Workflow, WorkflowError, WorkflowOptions};
/// # use inngest_runtime::workflow::has_failure_handler;
/// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
/// # struct Ping { #[garde(skip)] n: u32 }
/// # impl Event for Ping { const NAME: &'static str = "app/ping"; }
/// struct Quiet;
/// impl Workflow for Quiet {
///     type Event = Ping;
///     type Output = u32;
///     fn options() -> WorkflowOptions { WorkflowOptions::new("quiet") }
///     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> { Ok(ctx.event.data.n) }
/// }
/// struct Careful;
/// impl Workflow for Careful {
///     type Event = Ping;
///     type Output = u32;
///     fn options() -> WorkflowOptions { WorkflowOptions::new("careful") }
///     async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> { Ok(ctx.event.data.n) }
///     async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
///         eprintln!("{} failed: {}", ctx.failed_run_id, ctx.error);
///         Ok(())
///     }
/// }
/// assert!(!has_failure_handler::<Quiet>());
/// assert!(has_failure_handler::<Careful>());
/// ```
pub fn has_failure_handler<W: Workflow>() -> bool {
    fn future_type<W: Workflow, Fut: 'static>(
        _: impl Fn(&'static W, FailureContext<W>) -> Fut,
    ) -> std::any::TypeId {
        std::any::TypeId::of::<Fut>()
    }
    future_type::<W, _>(W::on_failure) != std::any::TypeId::of::<NoFailureHandler>()
}

/// What a handler gets: the typed event, the run, and the step tools.
pub struct Context<W: Workflow> {
    /// The triggering event, typed and validated.
    pub event: ReceivedEvent<W::Event>,
    /// The run id.
    pub run_id: String,
    /// The zero-based attempt.
    pub attempt: u32,
    /// Attempts allowed; on the last one every error is final.
    pub max_attempts: u32,
    /// The step tools.
    pub step: Step,
    /// The request's events, decoded when [`Context::events`] asks.
    pub(crate) batch: Batch,
}

impl<W: Workflow> Context<W> {
    /// Every triggering event, typed: one (the same as [`Context::event`]) unless the
    /// workflow batches events (`WorkflowOptions::batch_events`). They are decoded (and, on
    /// the run's first request, validated) when asked for, so a workflow that does not batch
    /// pays nothing for them.
    ///
    /// # Errors
    ///
    /// A non-retriable error naming the first event that does not decode or validate; returned
    /// from the handler with `?`, it fails the run as a bad trigger event does.
    pub fn events(&self) -> Result<Vec<ReceivedEvent<W::Event>>, WorkflowError> {
        let events = self.batch.request.events().map_err(|e| {
            WorkflowError::non_retriable(format!(
                "the request's events are not a list of events: {e}"
            ))
        })?;
        events
            .iter()
            .map(|e| decode_trigger(e, self.batch.validate))
            .collect()
    }
}

/// The raw events of a request, for [`Context::events`].
#[derive(Clone)]
pub(crate) struct Batch {
    request: std::sync::Arc<crate::execution::RunRequest>,
    validate: bool,
}

impl Batch {
    pub(crate) fn new(
        request: std::sync::Arc<crate::execution::RunRequest>,
        validate: bool,
    ) -> Self {
        Self { request, validate }
    }
}

/// Decodes a triggering event as `E`, validating it when `validate` (the run's first request;
/// a run with memoized steps got past it).
pub(crate) fn decode_trigger<E: Event>(
    payload: &crate::protocol::EventPayload<crate::protocol::SharedJson>,
    validate: bool,
) -> Result<ReceivedEvent<E>, WorkflowError> {
    let decoded = if validate {
        ReceivedEvent::<E>::decode(payload)
    } else {
        ReceivedEvent::<E>::decode_unvalidated(payload)
    };
    decoded.map_err(|e| WorkflowError::non_retriable(crate::error::chain(&e)))
}

/// What [`Workflow::on_failure`] gets: the error, the event that started the failed run (raw,
/// and typed when it decodes), the run ids and the step tools.
pub struct FailureContext<W: Workflow> {
    /// The error the failed run ended with: its `name` (`Error`, `NonRetriableError`, …), its
    /// `message`, and its `cause` and `stack` when the SDK that ran it sent them.
    pub error: SerializedError,
    /// The event that started the failed run, typed and validated; `None` when it does not
    /// decode or validate as `W::Event`, which is often why the run failed (its `error` then
    /// says so).
    pub event: Option<ReceivedEvent<W::Event>>,
    /// The event that started the failed run, as it was received (`{"name", "data", "id",
    /// "ts", …}`): always there, whatever its data holds.
    pub raw_event: Value,
    /// The failed run's id.
    pub failed_run_id: String,
    /// The failed function's composite id (`<app>-<workflow id>`).
    pub function_id: String,
    /// This (failure handler) run's id.
    pub run_id: String,
    /// The zero-based attempt of the failure handler.
    pub attempt: u32,
    /// The step tools.
    pub step: Step,
}
