// Handlers run on a multi-threaded server: a step body holding an `Rc` across an await is refused.
use std::rc::Rc;

use inngest_runtime::step::Step;
use inngest_runtime::WorkflowError;

fn assert_send<T: Send>(_: T) {}

fn main() {
    let step: Option<Step> = None;
    if let Some(step) = step {
        assert_send(async move {
            let n: u32 = step
                .run("count", async {
                    let shared = Rc::new(1u32);
                    tokio::task::yield_now().await;
                    Ok(*shared)
                })
                .await?;
            Ok::<u32, WorkflowError>(n)
        });
    }
}
