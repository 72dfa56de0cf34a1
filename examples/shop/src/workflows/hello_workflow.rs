//! The `hello` workflow: a sample to copy from (`cargo inngest make workflow <Name>` writes new
//! ones). Send `shop/hello.requested` to start it.

use inngest_runtime::{Context, Workflow, WorkflowError, WorkflowOptions};

use crate::events::HelloRequested;

/// Greets, waits a second, and says so.
#[derive(Default)]
pub struct HelloWorkflow {}

impl Workflow for HelloWorkflow {
    type Event = HelloRequested;
    type Output = String;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("hello")
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        // A step body borrows what it needs: the event, `self`, earlier results.
        let name = &ctx.event.data.id;
        let greeting = ctx
            .step
            .run("greet", async {
                tracing::info!(%name, "greeting");
                Ok(format!("Hello, {name}!"))
            })
            .await?;
        ctx.step.sleep("pause", "1s").await?;
        Ok(greeting)
    }
}
