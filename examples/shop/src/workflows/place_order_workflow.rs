//! The `place-order` workflow.

use inngest_runtime::{Context, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};

use crate::events::OrderPlaced;

/// What a run of `place-order` returns.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlaceOrderOutput {
    /// What the first step produced.
    pub first_step: String,
}

/// Runs on `shop/order.placed`. Put its dependencies (clients, pools,
/// settings) in its fields and build it in `src/inngest.rs`.
#[derive(Default)]
pub struct PlaceOrderWorkflow {}

impl Workflow for PlaceOrderWorkflow {
    type Event = OrderPlaced;
    type Output = PlaceOrderOutput;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("place-order")
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<Self::Output, WorkflowError> {
        let about = ctx.event.data.id.clone();
        let first_step = ctx
            .step
            .run("first-step", move || async move {
                Ok::<_, WorkflowError>(format!("handled {about}"))
            })
            .await?;
        Ok(PlaceOrderOutput { first_step })
    }
}
