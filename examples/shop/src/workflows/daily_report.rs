//! `daily-report`: every morning, a summary.

use inngest_runtime::event::ScheduledTimer;
use inngest_runtime::{Context, Trigger, Workflow, WorkflowError, WorkflowOptions};

use crate::mailer::Mailer;

/// Counts the day's e-mails at 09:00 UTC.
pub struct DailyReport {
    /// The outbox it reports on.
    pub mailer: Mailer,
}

impl Workflow for DailyReport {
    type Event = ScheduledTimer;
    type Output = String;

    fn options() -> WorkflowOptions {
        WorkflowOptions::new("daily-report")
    }

    fn triggers() -> Vec<Trigger> {
        vec![Trigger::cron("0 9 * * *")]
    }

    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        let sent = ctx
            .step
            .run("count-emails", async { Ok(self.mailer.sent()) })
            .await?;
        Ok(format!("{sent} e-mails sent"))
    }
}
