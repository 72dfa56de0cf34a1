// A step's output is memoized as JSON: a type that is not `Serialize` is refused.
use inngest_runtime::step::Step;
use inngest_runtime::WorkflowError;

struct Connection;

async fn handler(step: Step) -> Result<(), WorkflowError> {
    let _conn: Connection = step.run("connect", async { Ok(Connection) }).await?;
    Ok(())
}

fn main() {
    let _ = handler;
}
