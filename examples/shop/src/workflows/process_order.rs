//! `process-order`: reserve, charge, and invoke `send-email` for the receipt.

use inngest_runtime::{Context, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};

use crate::events::{EmailRequested, OrderPlaced};
use crate::workflows::SendEmail;

/// What a processed order returns.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessedOrder {
    /// The charge's id.
    pub charge_id: String,
    /// The receipt's message id, from `send-email`.
    pub receipt: String,
}

/// Fulfils an order; the receipt goes out through the `send-email` workflow.
#[derive(Default)]
pub struct ProcessOrder {}

impl Workflow for ProcessOrder {
    type Event = OrderPlaced;
    type Output = ProcessedOrder;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("process-order")
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<ProcessedOrder, WorkflowError> {
        let order = &ctx.event.data;
        let (reserved, charge_id) = tokio::join!(
            ctx.step.run("reserve-stock", async { Ok(true) }),
            ctx.step.run("charge-card", async {
                tracing::info!(cents = order.total_cents, "charging");
                Ok(format!("ch_{}", order.order_id))
            }),
        );
        if !reserved? {
            return Err(WorkflowError::non_retriable("out of stock"));
        }
        let receipt = ctx
            .step
            .invoke::<SendEmail>(
                "send-receipt",
                EmailRequested {
                    to: order.email.clone(),
                    subject: format!("Your order {}", order.order_id),
                },
            )
            .await?;
        Ok(ProcessedOrder {
            charge_id: charge_id?,
            receipt,
        })
    }
}
