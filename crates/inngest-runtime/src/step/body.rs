//! What [`Step::run`](super::Step::run) accepts as the body of a step.

use std::future::Future;

use crate::error::WorkflowError;

/// The body of a `run` step: an `async` block, or a closure that returns one. Either may
/// borrow from the handler (its `&self`, `ctx.event`, locals): the body runs inside the
/// handler's own future, never on a task of its own, so nothing needs to be `'static`.
///
/// The second parameter only tells the two forms apart; it is inferred.
///
/// ```no_run
/// # use inngest_runtime::{step::Step, WorkflowError};
/// # async fn f(step: Step, email: String) -> Result<(), WorkflowError> {
/// // An async block, borrowing `email`:
/// let a: usize = step.run("a", async { Ok(email.len()) }).await?;
/// // A closure returning one:
/// let b: usize = step.run("b", || async { Ok(email.len() + 1) }).await?;
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a step body",
    label = "expected `async {{ … Ok(value) }}` or `|| async {{ … Ok(value) }}`",
    note = "a step body is an async block (or a closure returning one) whose output is `Result<T, WorkflowError>`, with `T: Serialize + DeserializeOwned`, and which is `Send`"
)]
pub trait StepBody<T, Form>: Send {
    /// The future that runs the body.
    type Future: Future<Output = Result<T, WorkflowError>> + Send;
    /// Turns the body into its future; called only when the step runs.
    fn into_step_future(self) -> Self::Future;
}

/// Marks the async-block form of [`StepBody`].
#[derive(Debug)]
pub enum AsyncBlock {}

/// Marks the closure form of [`StepBody`].
#[derive(Debug)]
pub enum Closure {}

impl<T, Fut> StepBody<T, AsyncBlock> for Fut
where
    Fut: Future<Output = Result<T, WorkflowError>> + Send,
{
    type Future = Fut;
    fn into_step_future(self) -> Fut {
        self
    }
}

impl<T, F, Fut> StepBody<T, Closure> for F
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T, WorkflowError>> + Send,
{
    type Future = Fut;
    fn into_step_future(self) -> Fut {
        self()
    }
}
