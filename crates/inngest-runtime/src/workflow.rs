//! Workflows as Rust types.

use std::future::Future;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::error::WorkflowError;
use crate::event::{Event, ReceivedEvent};
use crate::options::{Trigger, WorkflowOptions};
use crate::protocol::SerializedError;
use crate::step::Step;

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
///         let to = ctx.event.data.email.clone();
///         ctx.step.run("send-welcome-email", || async move { Ok(format!("sent to {to}")) }).await?;
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

    /// Set to `true` when [`Workflow::on_failure`] is implemented: the app then registers
    /// `<id>-failure`, triggered by `inngest/function.failed` for this workflow.
    const ON_FAILURE: bool = false;

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

    /// Handles the final failure of a run (set [`Workflow::ON_FAILURE`] to register it).
    fn on_failure(
        &self,
        ctx: FailureContext<Self>,
    ) -> impl Future<Output = Result<Value, WorkflowError>> + Send {
        let _ = ctx;
        async { Ok(Value::Null) }
    }
}

/// What a handler gets: the typed event, the run, and the step tools.
pub struct Context<W: Workflow> {
    /// The triggering event, typed and validated.
    pub event: ReceivedEvent<W::Event>,
    /// All triggering events (one unless the workflow batches).
    pub events: Vec<ReceivedEvent<W::Event>>,
    /// The run id.
    pub run_id: String,
    /// The zero-based attempt.
    pub attempt: u32,
    /// Attempts allowed; on the last one every error is final.
    pub max_attempts: u32,
    /// The step tools.
    pub step: Step,
}

/// What `on_failure` gets: the error, the original event and the step tools.
pub struct FailureContext<W: Workflow> {
    /// The error the failed run ended with.
    pub error: SerializedError,
    /// The event that started the failed run.
    pub event: ReceivedEvent<W::Event>,
    /// The failed run's id.
    pub failed_run_id: String,
    /// This (failure handler) run's id.
    pub run_id: String,
    /// The zero-based attempt of the failure handler.
    pub attempt: u32,
    /// The step tools.
    pub step: Step,
}
