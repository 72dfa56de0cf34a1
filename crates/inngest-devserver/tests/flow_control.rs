//! Flow control with Rust workflows served in process: rate limit and idempotency drop extra
//! starts, singleton skips or cancels, debounce starts once with the last event, and a finish
//! timeout cancels a run that lasts too long.

mod support;

use std::time::Duration;

use inngest_devserver::{DevServer, RunStatus, RunView};
use inngest_runtime::options::SingletonMode;
use inngest_runtime::{App, Context, Event, Workflow, WorkflowError, WorkflowOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

macro_rules! sleepy_workflow {
    ($ty:ident, $event:ident, $name:literal, $id:literal, $options:expr) => {
        #[derive(Debug, Serialize, Deserialize, garde::Validate)]
        struct $event {
            #[garde(skip)]
            key: String,
            #[garde(skip)]
            n: u32,
        }
        impl Event for $event {
            const NAME: &'static str = $name;
        }
        /// Sleeps an hour, then returns its event's `n`.
        struct $ty;
        impl Workflow for $ty {
            type Event = $event;
            type Output = u32;
            fn options() -> WorkflowOptions {
                $options(WorkflowOptions::new($id))
            }
            async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
                ctx.step.sleep("nap", "1h").await?;
                Ok(ctx.event.data.n)
            }
        }
    };
}

sleepy_workflow!(
    Limited,
    LimitedEvent,
    "flow/limited",
    "limited",
    |o: WorkflowOptions| o.rate_limit(2, "1h", Some("event.data.key"))
);
sleepy_workflow!(
    Once,
    OnceEvent,
    "flow/once",
    "once",
    |o: WorkflowOptions| o.idempotency("event.data.key")
);
sleepy_workflow!(
    Lonely,
    LonelyEvent,
    "flow/lonely",
    "lonely",
    |o: WorkflowOptions| o.singleton(SingletonMode::Skip, Some("event.data.key"))
);
sleepy_workflow!(
    Latest,
    LatestEvent,
    "flow/latest",
    "latest",
    |o: WorkflowOptions| o.singleton(SingletonMode::Cancel, None)
);
sleepy_workflow!(
    Settled,
    SettledEvent,
    "flow/settled",
    "settled",
    |o: WorkflowOptions| o.debounce_with("5m", Some("event.data.key"), Some("20m"))
);
sleepy_workflow!(
    Hurried,
    HurriedEvent,
    "flow/hurried",
    "hurried",
    |o: WorkflowOptions| o.finish_timeout("30m")
);
sleepy_workflow!(
    Paced,
    PacedEvent,
    "flow/paced",
    "paced",
    |o: WorkflowOptions| o.throttle(1, "10m")
);

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Item {
    #[garde(skip)]
    n: u32,
}
impl Event for Item {
    const NAME: &'static str = "flow/item";
}

/// Sums the `n` of every event in its batch.
struct Summer;
impl Workflow for Summer {
    type Event = Item;
    type Output = Value;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("summer").batch_events(3, "1m")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<Value, WorkflowError> {
        let ns: Vec<u32> = ctx.events()?.iter().map(|e| e.data.n).collect();
        Ok(json!({ "count": ns.len(), "sum": ns.iter().sum::<u32>() }))
    }
}

/// `flow/bulky`, with a pad to make it large.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct Bulky {
    #[garde(skip)]
    pad: String,
}
impl Event for Bulky {
    const NAME: &'static str = "flow/bulky";
}

/// Batches of up to 1,000 events, gathered for an hour.
struct BulkyBatches;
impl Workflow for BulkyBatches {
    type Event = Bulky;
    type Output = usize;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("bulky").batch_events(1000, "1h")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<usize, WorkflowError> {
        Ok(ctx.events()?.len())
    }
}

async fn setup() -> (DevServer, support::RustApp) {
    support::server_with_app("flow", |client| {
        App::builder(client)
            .register(Limited)
            .register(Once)
            .register(Lonely)
            .register(Latest)
            .register(Settled)
            .register(Hurried)
            .register(Paced)
            .register(Summer)
            .register(BulkyBatches)
            .build()
    })
    .await
}

fn ev(name: &str, key: &str, n: u32) -> Value {
    json!({ "name": name, "data": { "key": key, "n": n } })
}

/// The runs of `function` among everything the server knows, oldest first.
async fn runs_of(server: &DevServer, function: &str) -> Vec<RunView> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (mut runs, _) = server.engine().recent().await.expect("running");
    runs.retain(|r| r.function_id == function);
    runs.reverse();
    runs
}

async fn settle(server: &DevServer, run: &RunView) -> RunView {
    support::wait_finished(server, run, 3000).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_and_idempotency_drop_extra_starts() {
    let (server, _app) = setup().await;
    server
        .send(vec![
            ev("flow/limited", "a", 1),
            ev("flow/limited", "a", 2),
            ev("flow/limited", "a", 3),
            ev("flow/limited", "b", 4),
        ])
        .await
        .expect("sent");
    let limited = runs_of(&server, "flow-limited").await;
    assert_eq!(limited.len(), 3, "2 for key a, 1 for key b: {limited:?}");
    server
        .send(vec![
            ev("flow/once", "x", 1),
            ev("flow/once", "x", 2),
            ev("flow/once", "y", 3),
        ])
        .await
        .expect("sent");
    assert_eq!(runs_of(&server, "flow-once").await.len(), 2);
    // A day later the same key runs again.
    server
        .advance(Duration::from_secs(86_401))
        .await
        .expect("running");
    server
        .send(vec![ev("flow/once", "x", 4)])
        .await
        .expect("sent");
    assert_eq!(runs_of(&server, "flow-once").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn singleton_skips_or_cancels() {
    let (server, _app) = setup().await;
    server
        .send(vec![ev("flow/lonely", "k", 1)])
        .await
        .expect("sent");
    let first = runs_of(&server, "flow-lonely").await;
    server
        .send(vec![
            ev("flow/lonely", "k", 2),
            ev("flow/lonely", "other", 3),
        ])
        .await
        .expect("sent");
    let lonely = runs_of(&server, "flow-lonely").await;
    assert_eq!(
        lonely.len(),
        2,
        "the second run for key k is skipped: {lonely:?}"
    );
    assert_eq!(lonely[0].run_id, first[0].run_id);

    server
        .send(vec![ev("flow/latest", "-", 1)])
        .await
        .expect("sent");
    let before = runs_of(&server, "flow-latest").await;
    server
        .send(vec![ev("flow/latest", "-", 2)])
        .await
        .expect("sent");
    let after = runs_of(&server, "flow-latest").await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        settle(&server, &before[0]).await.status,
        RunStatus::Cancelled
    );
    server
        .advance(Duration::from_secs(3601))
        .await
        .expect("running");
    let last = settle(&server, &after[1]).await;
    assert_eq!(
        (last.status, last.output),
        (RunStatus::Completed, Some(json!(2)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debounce_starts_once_with_the_last_event() {
    let (server, _app) = setup().await;
    for n in 1..=3 {
        server
            .send(vec![ev("flow/settled", "k", n)])
            .await
            .expect("sent");
        server
            .advance(Duration::from_secs(120))
            .await
            .expect("running");
    }
    assert!(
        runs_of(&server, "flow-settled").await.is_empty(),
        "started before the quiet time"
    );
    server
        .advance(Duration::from_secs(180))
        .await
        .expect("running");
    let runs = runs_of(&server, "flow-settled").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    server
        .advance(Duration::from_secs(3601))
        .await
        .expect("running");
    let done = settle(&server, &runs[0]).await;
    assert_eq!(done.output, Some(json!(3)), "the last event wins");

    // A steady stream still starts once the 20 minute timeout is reached.
    for n in 0..12 {
        server
            .send(vec![ev("flow/settled", "busy", n)])
            .await
            .expect("sent");
        server
            .advance(Duration::from_secs(120))
            .await
            .expect("running");
    }
    let busy = runs_of(&server, "flow-settled").await;
    assert_eq!(busy.len(), 2, "the timeout forced a start: {busy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_timeout_cancels_a_run_that_lasts_too_long() {
    let (server, _app) = setup().await;
    server
        .send(vec![ev("flow/hurried", "k", 1)])
        .await
        .expect("sent");
    let run = runs_of(&server, "flow-hurried").await.remove(0);
    server
        .advance(Duration::from_secs(31 * 60))
        .await
        .expect("running");
    let done = settle(&server, &run).await;
    assert_eq!(done.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_holds_extra_starts_until_the_window_has_room() {
    let (server, _app) = setup().await;
    server
        .send(vec![
            ev("flow/paced", "-", 1),
            ev("flow/paced", "-", 2),
            ev("flow/paced", "-", 3),
        ])
        .await
        .expect("sent");
    assert_eq!(
        runs_of(&server, "flow-paced").await.len(),
        1,
        "one start per 10 minutes"
    );
    server
        .advance(Duration::from_secs(601))
        .await
        .expect("running");
    assert_eq!(runs_of(&server, "flow-paced").await.len(), 2);
    server
        .advance(Duration::from_secs(601))
        .await
        .expect("running");
    let runs = runs_of(&server, "flow-paced").await;
    assert_eq!(runs.len(), 3, "nothing is dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_start_when_full_or_at_their_timeout() {
    let (server, _app) = setup().await;
    let items: Vec<Value> = (1..=4)
        .map(|n| json!({ "name": "flow/item", "data": { "n": n } }))
        .collect();
    server.send(items).await.expect("sent");
    let runs = runs_of(&server, "flow-summer").await;
    assert_eq!(runs.len(), 1, "a full batch of 3 starts at once: {runs:?}");
    let full = settle(&server, &runs[0]).await;
    assert_eq!(full.output, Some(json!({ "count": 3, "sum": 6 })));
    server
        .advance(Duration::from_secs(61))
        .await
        .expect("running");
    let runs = runs_of(&server, "flow-summer").await;
    assert_eq!(runs.len(), 2, "the rest starts at the timeout");
    let rest = settle(&server, &runs[1]).await;
    assert_eq!(rest.output, Some(json!({ "count": 1, "sum": 4 })));
}

/// A batch starts once its events reach 10 MiB (the Go server's batch size limit), however
/// many more it could hold and however far its timeout is: a batch is not gathered without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_starts_once_its_events_reach_the_size_limit() {
    let (server, _app) = setup().await;
    let pad = "x".repeat(400 * 1024);
    for _ in 0..20 {
        server
            .send(vec![
                json!({ "name": "flow/bulky", "data": { "pad": pad } }),
            ])
            .await
            .expect("sent");
    }
    assert!(
        runs_of(&server, "flow-bulky").await.is_empty(),
        "8 MB of events: still gathering"
    );
    for _ in 0..10 {
        server
            .send(vec![
                json!({ "name": "flow/bulky", "data": { "pad": pad } }),
            ])
            .await
            .expect("sent");
    }
    let runs = runs_of(&server, "flow-bulky").await;
    assert_eq!(runs.len(), 1, "10 MiB reached before the hour: {runs:?}");
}
