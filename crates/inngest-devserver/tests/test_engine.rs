//! The in-process test engine (`inngest_devserver::testing`): sleeps and timeouts on a clock
//! the test moves, waits resumed by later events, invoke (real and mocked), retries and
//! `on_failure`, mocked and failing steps, parallel steps, cron ticks, `send_event` chains, in
//! checkpoint and in classic mode; and one differential test: the same workflow under the dev
//! server over HTTP gives the same steps and output.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use inngest_devserver::RunStatus;
use inngest_devserver::testing::{TestEngine, TestError};
use inngest_runtime::step::WaitForEvent;
use inngest_runtime::{
    Context, Event, FailureContext, Trigger, Workflow, WorkflowError, WorkflowOptions,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
struct UserCreated {
    #[garde(skip)]
    id: String,
}
impl Event for UserCreated {
    const NAME: &'static str = "user/user.created";
}

#[derive(Debug, Clone, Serialize, Deserialize, garde::Validate)]
struct Paid {
    #[garde(skip)]
    id: String,
}
impl Event for Paid {
    const NAME: &'static str = "billing/paid";
}

/// A fake mailer that counts what it sent.
#[derive(Clone, Default)]
struct Mailer(Arc<AtomicUsize>);
impl Mailer {
    fn sent(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Step, 3-day sleep, step.
struct Welcome {
    mailer: Mailer,
}
impl Workflow for Welcome {
    type Event = UserCreated;
    type Output = usize;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome").retries(2)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<usize, WorkflowError> {
        ctx.step
            .run("send-welcome-email", async {
                self.mailer.0.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await?;
        ctx.step.sleep("wait-3-days", "3d").await?;
        ctx.step
            .run("send-followup-email", async {
                self.mailer.0.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await?;
        Ok(self.mailer.sent())
    }
}

async fn three_day_sleep(t: TestEngine, mailer: Mailer) {
    let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    // Not finished: it says what it waits on, instead of hanging.
    match run.output::<usize>().await {
        Err(TestError::NotFinished { waiting_on, .. }) => {
            assert!(waiting_on.contains("sleep \"wait-3-days\""), "{waiting_on}");
        }
        other => panic!("expected NotFinished, got {other:?}"),
    }
    run.advance("3d").await.expect("the clock moves");
    assert_eq!(run.output::<usize>().await.expect("completed"), 2);
    assert_eq!(mailer.sent(), 2, "each step ran once");
    let steps = run.steps().await.expect("steps");
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["send-welcome-email", "wait-3-days", "send-followup-email"]
    );
    assert_eq!(
        run.step("send-welcome-email")
            .await
            .expect("a step")
            .attempts(),
        1
    );
}

#[tokio::test]
async fn a_three_day_sleep_passes_when_the_clock_moves() {
    let mailer = Mailer::default();
    let t = TestEngine::new().register(Welcome {
        mailer: mailer.clone(),
    });
    three_day_sleep(t, mailer).await;
}

#[tokio::test]
async fn a_three_day_sleep_passes_when_the_clock_moves_in_classic_mode() {
    let mailer = Mailer::default();
    let t = TestEngine::classic("test").register(Welcome {
        mailer: mailer.clone(),
    });
    three_day_sleep(t, mailer).await;
}

#[tokio::test]
async fn a_mocked_step_never_runs_its_body_and_a_failing_one_is_retried() {
    let mailer = Mailer::default();
    let t = TestEngine::new()
        .register(Welcome {
            mailer: mailer.clone(),
        })
        .mock_step("send-welcome-email", ())
        .fail_step("send-followup-email", 2, "smtp down");
    let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    run.run_until_idle().await.expect("idle");
    // Two failures, then the body ran on the third attempt (retries: 2).
    assert_eq!(run.output::<usize>().await.expect("completed"), 1);
    assert_eq!(mailer.sent(), 1, "only the follow-up's body ran, once");
    let followup = run.step("send-followup-email").await.expect("a step");
    assert_eq!(followup.attempts(), 3);
    assert_eq!(followup.errors.len(), 2);
    assert_eq!(followup.errors[0]["message"], "smtp down");
    assert_eq!(
        run.step("send-welcome-email")
            .await
            .expect("a step")
            .attempts(),
        1
    );
    assert!(run.failure_run().await.expect("asked").is_none());
}

/// Fails for good; its failure handler records what it saw.
struct Doomed {
    handled: Arc<std::sync::Mutex<Vec<String>>>,
}
impl Workflow for Doomed {
    type Event = UserCreated;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("doomed").retries(1)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<(), WorkflowError> {
        ctx.step.run("explode", async { Ok(()) }).await
    }
    async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
        self.handled
            .lock()
            .expect("lock")
            .push(ctx.error.message.clone());
        Ok(())
    }
}

#[tokio::test]
async fn a_run_that_fails_for_good_runs_its_failure_handler() {
    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = TestEngine::new()
        .register(Doomed {
            handled: handled.clone(),
        })
        .fail_step("explode", 10, "kaboom");
    let run = t.send(UserCreated { id: "u9".into() }).await.expect("sent");
    run.run_until_idle().await.expect("idle");
    match run.output::<()>().await {
        Err(TestError::Failed { status, error, .. }) => {
            assert_eq!(status, RunStatus::Failed);
            assert!(error.to_string().contains("kaboom"), "{error}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(run.step("explode").await.expect("a step").attempts(), 2);
    let failure = run
        .failure_run()
        .await
        .expect("asked")
        .expect("the failure handler ran");
    assert_eq!(
        failure.status().await.expect("status"),
        RunStatus::Completed
    );
    assert_eq!(*handled.lock().expect("lock"), ["kaboom"]);
}

/// Waits for the payment of its user, an hour at most.
struct AwaitPayment;
impl Workflow for AwaitPayment {
    type Event = UserCreated;
    type Output = bool;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("await-payment")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<bool, WorkflowError> {
        let paid = ctx
            .step
            .wait_for_event::<Paid>(
                "wait-for-payment",
                WaitForEvent::timeout("1h").matching("data.id"),
            )
            .await?;
        Ok(paid.is_some())
    }
}

#[tokio::test]
async fn a_wait_is_resumed_by_a_later_event_or_times_out() {
    let t = TestEngine::new().register(AwaitPayment);
    let paid = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    let unpaid = t.send(UserCreated { id: "u2".into() }).await.expect("sent");
    match paid.output::<bool>().await {
        Err(TestError::NotFinished { waiting_on, .. }) => {
            assert!(
                waiting_on.contains("wait_for_event \"wait-for-payment\""),
                "{waiting_on}"
            );
        }
        other => panic!("expected NotFinished, got {other:?}"),
    }
    // The payment of u1 starts nothing and resumes its run only.
    let started = t.send_event(Paid { id: "u1".into() }).await.expect("sent");
    assert!(started.is_empty());
    assert!(paid.output::<bool>().await.expect("resumed"));
    assert!(matches!(
        unpaid.output::<bool>().await,
        Err(TestError::NotFinished { .. })
    ));
    t.run_until_idle().await.expect("idle");
    assert!(!unpaid.output::<bool>().await.expect("timed out"));
}

/// Invokes `child` and doubles its answer.
struct Parent;
impl Workflow for Parent {
    type Event = UserCreated;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("parent")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let n = ctx
            .step
            .invoke::<Child>(
                "call-child",
                Paid {
                    id: ctx.event.data.id.clone(),
                },
            )
            .await?;
        Ok(n * 2)
    }
}
struct Child;
impl Workflow for Child {
    type Event = Paid;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("child")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        ctx.step
            .run("count", async { Ok(ctx.event.data.id.len() as u32) })
            .await
    }
}

#[tokio::test]
async fn invoke_runs_a_registered_child_or_a_mocked_one() {
    let real = TestEngine::new().register(Parent).register(Child);
    let run = real
        .send(UserCreated { id: "abc".into() })
        .await
        .expect("sent");
    assert_eq!(run.output::<u32>().await.expect("completed"), 6);

    let mocked = TestEngine::new().register(Parent).mock_invoke::<Child>(21);
    let run = mocked
        .send(UserCreated { id: "abc".into() })
        .await
        .expect("sent");
    assert_eq!(run.output::<u32>().await.expect("completed"), 42);

    // Neither registered nor mocked: the invoke fails, as the Go runner answers it, and so
    // does the run.
    let missing = TestEngine::new().register(Parent);
    let run = missing
        .send(UserCreated { id: "abc".into() })
        .await
        .expect("sent");
    run.run_until_idle().await.expect("idle");
    match run.output::<u32>().await {
        Err(TestError::Failed { error, .. }) => assert!(
            error
                .to_string()
                .contains("could not find function with ID: test-child"),
            "{error}"
        ),
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// Two steps in parallel, then one that sends an event another workflow runs on.
struct Fanout;
impl Workflow for Fanout {
    type Event = UserCreated;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("fanout")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let (a, b) = tokio::join!(
            ctx.step.run("left", async { Ok(1u32) }),
            ctx.step.run("right", async { Ok(2u32) }),
        );
        let sum = a? + b?;
        ctx.step
            .send_event(
                "announce",
                Paid {
                    id: format!("sum-{sum}"),
                },
            )
            .await?;
        Ok(sum)
    }
}
struct OnPaid;
impl Workflow for OnPaid {
    type Event = Paid;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("on-paid")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        Ok(ctx.event.data.id.clone())
    }
}

#[tokio::test]
async fn parallel_steps_and_send_event_chains() {
    let t = TestEngine::new().register(Fanout).register(OnPaid);
    let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    assert_eq!(run.output::<u32>().await.expect("completed"), 3);
    let names: Vec<String> = run
        .steps()
        .await
        .expect("steps")
        .into_iter()
        .map(|s| s.name)
        .collect();
    for step in ["left", "right", "announce"] {
        assert!(names.iter().any(|n| n == step), "{step} in {names:?}");
    }
    let sent = t.events_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["name"], Paid::NAME);
    assert_eq!(sent[0]["data"]["id"], "sum-3");
    // The event started the other workflow.
    let runs = t
        .engine()
        .recent()
        .await
        .expect("recent")
        .0
        .into_iter()
        .filter(|r| r.function_id == "test-on-paid")
        .collect::<Vec<_>>();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].output, Some(serde_json::json!("sum-3")));
}

/// Runs at 09:00 every day.
struct Daily;
impl Workflow for Daily {
    type Event = inngest_runtime::event::ScheduledTimer;
    type Output = String;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("daily")
    }
    fn triggers() -> Vec<Trigger> {
        vec![Trigger::cron("0 9 * * *")]
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<String, WorkflowError> {
        ctx.step
            .run("report", async { Ok("sent".to_string()) })
            .await
    }
}

#[tokio::test]
async fn a_cron_tick_is_fired_by_hand() {
    let t = TestEngine::new().register(Daily);
    let run = t.tick::<Daily>().await.expect("ticked");
    assert_eq!(run.output::<String>().await.expect("completed"), "sent");
    assert!(matches!(
        t.tick::<OnPaid>().await,
        Err(TestError::NoCron(f)) if f == "test-on-paid"
    ));
}

/// The same workflow under the dev server, served over HTTP, and in the test engine: the same
/// steps in the same order, and the same output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_engine_and_the_dev_server_agree() {
    let server = inngest_devserver::DevServer::start(inngest_devserver::DevServerConfig {
        port: 0,
        ..Default::default()
    })
    .await
    .expect("the dev server starts");
    let app = inngest_runtime::App::builder(inngest_runtime::Inngest::with_config(
        "test",
        inngest_runtime::config::Config::dev(server.url()),
    ))
    .register(Welcome {
        mailer: Mailer::default(),
    })
    .register(Fanout)
    .register(OnPaid)
    .build()
    .expect("builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let served = tokio::spawn(async move {
        let router =
            axum::Router::new().route("/api/inngest", inngest_runtime::serve::axum::endpoint(app));
        let _ = axum::serve(listener, router).await;
    });
    server
        .sync_app(&format!("http://{addr}/api/inngest"))
        .await
        .expect("synced");

    let t = TestEngine::new()
        .register(Welcome {
            mailer: Mailer::default(),
        })
        .register(Fanout)
        .register(OnPaid);
    for function in ["test-welcome", "test-fanout"] {
        let event = serde_json::json!({ "name": UserCreated::NAME, "data": { "id": "u7" } });
        let ids = server.send(vec![event]).await.expect("sent");
        let mut done = None;
        for _ in 0..100 {
            done = server
                .finished_run(&ids[0], function, Duration::from_millis(50))
                .await
                .expect("runs");
            if done.is_some() {
                break;
            }
            server
                .advance(Duration::from_secs(3 * 86_400))
                .await
                .expect("moves");
        }
        let served_run = done.expect("finished under the dev server");
        t.send_event(UserCreated { id: "u7".into() })
            .await
            .expect("sent");
        t.run_until_idle().await.expect("idle");
        let engine_run = t
            .engine()
            .recent()
            .await
            .expect("recent")
            .0
            .into_iter()
            .find(|r| r.function_id == function && r.status != RunStatus::Running)
            .expect("finished in the test engine");
        // Parallel steps may finish in either order: the same reports, and the steps first
        // reported in the same order.
        let reports = |steps: &[inngest_devserver::StepRecord]| {
            let mut all: Vec<(String, String)> = steps
                .iter()
                .map(|s| (s.name.clone(), s.op.clone()))
                .collect();
            all.sort();
            all
        };
        let first_seen = |steps: &[inngest_devserver::StepRecord]| {
            let mut names: Vec<String> = Vec::new();
            for s in steps {
                if !names.contains(&s.name) {
                    names.push(s.name.clone());
                }
            }
            names
        };
        assert_eq!(
            reports(&engine_run.steps),
            reports(&served_run.steps),
            "{function}"
        );
        assert_eq!(
            first_seen(&engine_run.steps),
            first_seen(&served_run.steps),
            "{function}"
        );
        assert_eq!(engine_run.output, served_run.output, "{function}");
        assert_eq!(engine_run.status, served_run.status, "{function}");
    }
    served.abort();
    server.stop().await;
}

#[tokio::test]
async fn the_clock_moves_to_a_time_and_a_mocked_error_fails_the_run() {
    let mailer = Mailer::default();
    let t = TestEngine::new().register(Welcome {
        mailer: mailer.clone(),
    });
    let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    let start = t.now_ms();
    // Two days in: still asleep; past the third: done.
    let two_days = chrono::DateTime::from_timestamp_millis(start + 2 * 86_400_000)
        .expect("a time")
        .to_rfc3339();
    t.advance_to(&two_days).await.expect("moved");
    assert!(matches!(
        run.output::<usize>().await,
        Err(TestError::NotFinished { .. })
    ));
    let four_days = chrono::DateTime::from_timestamp_millis(start + 4 * 86_400_000)
        .expect("a time")
        .to_rfc3339();
    t.advance_to(&four_days).await.expect("moved");
    assert_eq!(run.output::<usize>().await.expect("completed"), 2);
    assert!(matches!(
        t.advance_to("yesterday").await,
        Err(TestError::Time(_))
    ));

    let t = TestEngine::new()
        .register(Welcome {
            mailer: Mailer::default(),
        })
        .mock_step_error("send-welcome-email", "mailbox full");
    let run = t.send(UserCreated { id: "u2".into() }).await.expect("sent");
    run.run_until_idle().await.expect("idle");
    match run.output::<usize>().await {
        Err(TestError::Failed { error, .. }) => {
            assert!(error.to_string().contains("mailbox full"), "{error}")
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // Retries: 2, so three attempts.
    assert_eq!(
        run.step("send-welcome-email")
            .await
            .expect("a step")
            .attempts(),
        3
    );
}

/// Panics on its first attempt.
struct Panicky;
impl Workflow for Panicky {
    type Event = UserCreated;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("panicky")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let attempt = ctx.attempt;
        ctx.step
            .run("fragile", async move {
                assert!(attempt > 0, "the first attempt panics");
                Ok(7u32)
            })
            .await
    }
}

#[tokio::test]
async fn a_panic_in_a_workflow_is_a_failed_attempt_not_a_hang() {
    let t = TestEngine::new().register(Panicky);
    let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    run.run_until_idle().await.expect("idle");
    assert_eq!(
        run.output::<u32>().await.expect("completed on the retry"),
        7
    );
}

/// Two steps, each failed once by the test.
struct TwoSteps;
impl Workflow for TwoSteps {
    type Event = UserCreated;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("two-steps")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let a = ctx.step.run("a", async { Ok(1u32) }).await?;
        let b = ctx.step.run("b", async { Ok(2u32) }).await?;
        Ok(a + b)
    }
}

#[tokio::test]
async fn fail_step_counts_each_steps_own_attempts() {
    for t in [TestEngine::new(), TestEngine::classic("test")] {
        let t = t
            .register(TwoSteps)
            .fail_step("a", 1, "a once")
            .fail_step("b", 1, "b once");
        let run = t.send(UserCreated { id: "u1".into() }).await.expect("sent");
        run.run_until_idle().await.expect("idle");
        assert_eq!(run.output::<u32>().await.expect("completed"), 3);
        for step in ["a", "b"] {
            let view = run.step(step).await.expect("a step");
            assert_eq!(view.attempts(), 2, "{step}: {view:?}");
            assert_eq!(view.errors.len(), 1, "{step}: {view:?}");
        }
    }
}

#[tokio::test]
async fn advance_fires_every_cron_tick_on_the_way() {
    let t = TestEngine::new().register(Daily);
    t.advance("3d").await.expect("moved");
    let runs = t
        .engine()
        .find_runs(inngest_devserver::RunFilter {
            function_id: Some("test-daily".into()),
            ..Default::default()
        })
        .await
        .expect("runs");
    assert_eq!(runs.len(), 3, "one run a day: {runs:?}");
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
}

#[tokio::test]
#[should_panic(expected = "register workflows and mocks before it")]
async fn registering_after_the_first_event_is_a_clear_mistake() {
    let t = TestEngine::new().register(TwoSteps);
    t.send(UserCreated { id: "u1".into() }).await.expect("sent");
    let _ = t.register(Daily);
}
