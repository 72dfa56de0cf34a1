// A step body returns `Result<T, WorkflowError>`, so that a failure can be retried.
use inngest_runtime::step::Step;
use inngest_runtime::WorkflowError;

async fn handler(step: Step) -> Result<(), WorkflowError> {
    let _n: u32 = step.run("count", async { 42u32 }).await?;
    Ok(())
}

fn main() {
    let _ = handler;
}
