//! `send-email`: delivers one e-mail; other workflows invoke it.

use inngest_runtime::{Context, Workflow, WorkflowError, WorkflowOptions};

use crate::events::EmailRequested;
use crate::mailer::Mailer;

/// Delivers an e-mail and returns its message id. At most five at a time.
pub struct SendEmail {
    /// Where e-mails go.
    pub mailer: Mailer,
}

impl Workflow for SendEmail {
    type Event = EmailRequested;
    type Output = String;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("send-email").concurrency(5)
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let mail = &ctx.event.data;
        ctx.step
            .run("deliver", async {
                Ok(self.mailer.send(&mail.to, &mail.subject).await?)
            })
            .await
    }
}
