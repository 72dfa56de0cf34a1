//! `welcome-user`: a welcome e-mail, three days of patience, a follow-up.

use inngest_runtime::{Context, FailureContext, Workflow, WorkflowError, WorkflowOptions};

use crate::events::UserCreated;
use crate::mailer::Mailer;

/// Welcomes a new user, and follows up three days later.
pub struct WelcomeUser {
    /// Where e-mails go.
    pub mailer: Mailer,
}

impl Workflow for WelcomeUser {
    type Event = UserCreated;
    type Output = ();

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome-user").retries(3)
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<(), WorkflowError> {
        let email = &ctx.event.data.email;
        ctx.step
            .run("send-welcome-email", async {
                Ok(self.mailer.send(email, "Welcome!").await?)
            })
            .await?;
        ctx.step.sleep("wait-3-days", "3d").await?;
        ctx.step
            .run("send-followup-email", async {
                Ok(self.mailer.send(email, "How is it going?").await?)
            })
            .await?;
        Ok(())
    }

    async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
        tracing::error!(user = ?ctx.event.map(|e| e.data.id), error = %ctx.error, "welcome-user failed");
        Ok(())
    }
}
