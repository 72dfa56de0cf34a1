//! The workflow API as a user writes it, through the dev server: step bodies that borrow the
//! workflow's fields and the event (sequential, joined in parallel, classic and checkpoint
//! mode), and a failure handler that runs for an event that does not decode.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inngest_devserver::{DevServer, DevServerConfig, RunStatus};
use inngest_runtime::{
    App, Context, Event, FailureContext, Workflow, WorkflowError, WorkflowOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct UserCreated {
    #[garde(email)]
    email: String,
    #[garde(length(min = 1))]
    name: String,
}
impl Event for UserCreated {
    const NAME: &'static str = "test/user.created";
}

/// The same payload on an event of its own, for the failing workflow.
#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct SignupRequested {
    #[garde(email)]
    email: String,
}
impl Event for SignupRequested {
    const NAME: &'static str = "test/signup.requested";
}

/// A mail service the workflow holds as a field; it records what it sent.
#[derive(Clone, Default)]
struct Mailer {
    sent: Arc<Mutex<Vec<String>>>,
}

impl Mailer {
    /// Fails like a real client would, with an error of its own type (not `WorkflowError`).
    async fn send(&self, to: &str, subject: &str) -> Result<String, std::io::Error> {
        if to.is_empty() {
            return Err(std::io::Error::other("no recipient"));
        }
        self.sent
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .push(format!("{subject} -> {to}"));
        Ok(format!("{subject}:{to}"))
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("not poisoned").clone()
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct WelcomeOutput {
    receipt: String,
    tips: String,
    news: String,
    letters: usize,
}

/// Every step body borrows: `self.mailer`, `ctx.event`, a local, an earlier step's output.
struct WelcomeUser {
    mailer: Mailer,
}

impl Workflow for WelcomeUser {
    type Event = UserCreated;
    type Output = WelcomeOutput;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("welcome-user")
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<WelcomeOutput, WorkflowError> {
        let user = &ctx.event.data;
        let subject = format!("Welcome, {}", user.name);
        let receipt = ctx
            .step
            .run("send-welcome", async {
                Ok(self.mailer.send(&user.email, &subject).await?)
            })
            .await?;
        let (tips, news) = tokio::join!(
            ctx.step.run("send-tips", async {
                Ok(self.mailer.send(&user.email, "Tips").await?)
            }),
            ctx.step.run("send-news", || async {
                Ok(self.mailer.send(&user.email, "News").await?)
            }),
        );
        let letters = ctx
            .step
            .run("count-letters", async { Ok(receipt.len()) })
            .await?;
        Ok(WelcomeOutput {
            receipt,
            tips: tips?,
            news: news?,
            letters,
        })
    }
}

/// Fails every run; its failure handler reports what it got.
struct Strict {
    reports: Arc<Mutex<Vec<Value>>>,
}

impl Workflow for Strict {
    type Event = SignupRequested;
    type Output = ();
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("strict").retries(0)
    }
    async fn handler(&self, _ctx: Context<Self>) -> Result<(), WorkflowError> {
        Err(WorkflowError::non_retriable(
            "never reached for a bad event",
        ))
    }
    async fn on_failure(&self, ctx: FailureContext<Self>) -> Result<(), WorkflowError> {
        let report = json!({
            "typed": ctx.event.is_some(),
            "raw_email": ctx.raw_event["data"]["email"],
            "error_name": ctx.error.name,
            "error_message": ctx.error.message,
            "failed_run": ctx.failed_run_id,
        });
        self.reports.lock().expect("not poisoned").push(report);
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize, garde::Validate)]
struct FlakyRequested {
    #[garde(skip)]
    failures: u32,
}
impl Event for FlakyRequested {
    const NAME: &'static str = "test/flaky.requested";
}

/// A step that fails on its first `failures` attempts.
struct Flaky;
impl Workflow for Flaky {
    type Event = FlakyRequested;
    type Output = u32;
    fn options() -> WorkflowOptions {
        WorkflowOptions::new("flaky").retries(2)
    }
    async fn handler(&self, ctx: Context<Self>) -> Result<u32, WorkflowError> {
        let attempt = ctx.attempt;
        let failures = ctx.event.data.failures;
        ctx.step
            .run("call-partner", async {
                if attempt < failures {
                    return Err(WorkflowError::new(format!("partner down ({attempt})")));
                }
                Ok(attempt)
            })
            .await
    }
}

struct Setup {
    server: DevServer,
    _app: support::RustApp,
    mailer: Mailer,
    reports: Arc<Mutex<Vec<Value>>>,
}

impl Setup {
    async fn new(checkpointing: bool) -> Self {
        let mailer = Mailer::default();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (mailer.clone(), reports.clone());
        let (server, app) = support::server_with_app_config(
            "api",
            DevServerConfig {
                checkpointing,
                ..DevServerConfig::default()
            },
            move |client| {
                App::builder(client)
                    .register(WelcomeUser { mailer: m })
                    .register(Strict { reports: r })
                    .register(Flaky)
                    .build()
            },
        )
        .await;
        Self {
            server,
            _app: app,
            mailer,
            reports,
        }
    }

    /// Sends an event; its id.
    async fn send(&self, name: &str, data: Value) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/e/key", self.server.url()))
            .json(&json!({ "name": name, "data": data }))
            .send()
            .await
            .expect("the event API answers")
            .json()
            .await
            .expect("JSON");
        body["ids"][0].as_str().expect("an event id").to_string()
    }

    async fn finished(&self, event_id: &str, function_id: &str) -> inngest_devserver::RunView {
        self.server
            .finished_run(event_id, function_id, Duration::from_secs(20))
            .await
            .expect("the server runs")
            .unwrap_or_else(|| panic!("{function_id} did not finish"))
    }
}

async fn borrowing_steps_complete(checkpointing: bool) {
    let s = Setup::new(checkpointing).await;
    let event = s
        .send(
            UserCreated::NAME,
            json!({ "email": "ada@example.com", "name": "Ada" }),
        )
        .await;
    let run = s.finished(&event, "api-welcome-user").await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    let receipt = "Welcome, Ada:ada@example.com";
    assert_eq!(
        run.output,
        Some(json!({
            "receipt": receipt,
            "tips": "Tips:ada@example.com",
            "news": "News:ada@example.com",
            "letters": receipt.len(),
        }))
    );
    // Each body ran once, however many requests replayed it.
    let mut sent = s.mailer.sent();
    sent.sort();
    assert_eq!(
        sent,
        [
            "News -> ada@example.com",
            "Tips -> ada@example.com",
            "Welcome, Ada -> ada@example.com"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn borrowing_steps_complete_in_classic_mode() {
    borrowing_steps_complete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn borrowing_steps_complete_in_checkpoint_mode() {
    borrowing_steps_complete(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_handler_runs_for_an_event_that_does_not_validate() {
    let s = Setup::new(true).await;
    let event = s
        .send(SignupRequested::NAME, json!({ "email": "not-an-email" }))
        .await;
    let failed = s.finished(&event, "api-strict").await;
    assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
    let run_error = failed.output.clone().expect("an error");
    assert!(
        run_error["message"]
            .as_str()
            .is_some_and(|m| m.contains("email")),
        "the run fails on the event: {run_error}"
    );

    // The failure handler completes, with the raw event and the run's error.
    let handler_run = support::find_run(&s.server, "api-strict-failure", &[])
        .await
        .expect("a failure handler run");
    let done = support::wait_finished(&s.server, &handler_run, 20_000).await;
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    let reports = s.reports.lock().expect("not poisoned").clone();
    assert_eq!(
        reports,
        [json!({
            "typed": false,
            "raw_email": "not-an-email",
            "error_name": run_error["name"],
            "error_message": run_error["message"],
            "failed_run": failed.run_id,
        })]
    );
    // One failed run: the failure handler's is not another.
    let (runs, _) = s.server.engine().recent().await.expect("running");
    let failures: Vec<_> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .map(|r| r.function_id.clone())
        .collect();
    assert_eq!(failures, ["api-strict"]);
}

/// Waits for the next failed attempt, moving the clock past its retry.
async fn next_failure(
    server: &DevServer,
    failed: &mut tokio::sync::broadcast::Receiver<inngest_devserver::FailedAttempt>,
) -> inngest_devserver::FailedAttempt {
    let attempt = tokio::time::timeout(Duration::from_secs(20), failed.recv())
        .await
        .expect("a failed attempt within 20 s")
        .expect("the server runs");
    if let Some(ms) = attempt.retry_in_ms {
        server
            .advance(Duration::from_millis(ms + 1))
            .await
            .expect("the clock moves");
    }
    attempt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_announced_and_kept_on_the_steps() {
    let s = Setup::new(true).await;
    let mut failed = s.server.engine().subscribe_failed_attempts();

    // Two failures, then a success on the third and last attempt.
    let event = s.send(FlakyRequested::NAME, json!({ "failures": 2 })).await;
    for n in 0..2u32 {
        let a = next_failure(&s.server, &mut failed).await;
        assert_eq!(a.function_id, "api-flaky");
        assert_eq!(a.step.as_deref(), Some("call-partner"));
        assert_eq!(a.error, format!("Error: partner down ({n})"));
        assert_eq!((a.attempt, a.max_attempts), (n, 3));
        assert!(a.retry_at.is_some() && a.retry_in_ms.is_some(), "{a:?}");
    }
    let run = s.finished(&event, "api-flaky").await;
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    assert_eq!(run.output, Some(json!(2)));
    let errors: Vec<(u32, Option<Value>, bool)> = run
        .steps
        .iter()
        .filter(|st| st.op == "StepError")
        .map(|st| {
            (
                st.attempt,
                st.error.as_ref().map(|e| e["message"].clone()),
                st.retry_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (0, Some(json!("partner down (0)")), true),
            (1, Some(json!("partner down (1)")), true),
        ]
    );
    let (code, api): (u16, Value) = {
        let resp = reqwest::get(format!("{}/v1/runs/{}", s.server.url(), run.run_id))
            .await
            .expect("the API answers");
        (resp.status().as_u16(), resp.json().await.expect("JSON"))
    };
    assert_eq!(code, 200);
    assert_eq!(api["data"]["steps"][0]["attempt"], 0);
    assert_eq!(
        api["data"]["steps"][0]["error"]["message"],
        "partner down (0)"
    );
    // The trace the dashboard draws: one span per attempt of call-partner, each failed one
    // with its error and its next attempt, the last with the step's output.
    let trace: Value = reqwest::get(format!("{}/v1/runs/{}/trace", s.server.url(), run.run_id))
        .await
        .expect("the trace answers")
        .json()
        .await
        .expect("JSON");
    let spans: Vec<(Value, Value, Value, bool)> = trace["data"]["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .filter(|sp| sp["name"] == "call-partner")
        .map(|sp| {
            (
                sp["attempt"].clone(),
                sp["status"].clone(),
                sp["error"]["message"].clone(),
                sp["retry_at"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            (json!(0), json!("retrying"), json!("partner down (0)"), true),
            (json!(1), json!("retrying"), json!("partner down (1)"), true),
            (json!(2), json!("completed"), Value::Null, false),
        ],
        "{trace}"
    );
    let last = trace["data"]["spans"]
        .as_array()
        .and_then(|a| a.iter().rfind(|sp| sp["name"] == "call-partner"))
        .expect("the last attempt");
    assert_eq!(last["output"], json!(2), "{trace}");
    let (start, end) = (
        last["started_ms"].as_i64().expect("a start"),
        last["ended_ms"].as_i64().expect("an end"),
    );
    assert!(start <= end, "{last}");
    assert!(
        last["queued_ms"].as_i64().is_some_and(|q| q <= start),
        "{last}"
    );
    assert_eq!(trace["data"]["events"][0]["id"], json!(event), "{trace}");
    // Every view's path answers the dashboard's page (the browser tests check what it shows).
    let resp = reqwest::get(format!("{}/runs/{}", s.server.url(), run.run_id))
        .await
        .expect("the run page answers");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/html; charset=utf-8",
        "{resp:?}"
    );
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .is_ok_and(|p| p.contains("script-src 'self'")),
        "{resp:?}"
    );
    let page = resp.text().await.expect("text");
    assert!(page.contains("/assets/dashboard.js"), "{page}");
    let missing = reqwest::get(format!("{}/v1/runs/01NOSUCHRUN/trace", s.server.url()))
        .await
        .expect("answers");
    assert_eq!(missing.status().as_u16(), 404);

    // Failing every attempt: the last failure says no retry follows.
    let event = s.send(FlakyRequested::NAME, json!({ "failures": 9 })).await;
    let mut last = None;
    for _ in 0..3 {
        last = Some(next_failure(&s.server, &mut failed).await);
    }
    let last = last.expect("three failures");
    assert_eq!(
        (last.attempt, last.retry_at.as_deref()),
        (2, None),
        "{last:?}"
    );
    assert_eq!(last.step.as_deref(), Some("call-partner"));
    let run = s.finished(&event, "api-flaky").await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
}
